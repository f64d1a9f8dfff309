"""What counts as visible text, written once as a regular expression that the OpenAPI document
publishes and the service applies, so a client generating from the schema and the service agree.

A text is blank when no character in it can be seen on its own: white space, control and format
characters (zero-width space, direction marks), combining marks with nothing to combine with,
and letters that draw nothing (Hangul fillers, the blank Braille pattern). Unassigned code
points count as visible: a client's newer Unicode may know them (a new emoji).
"""

from __future__ import annotations

import re
import sys
import unicodedata

__all__ = ["VISIBLE_PATTERN", "is_visible"]

# lone surrogates (Cs) are left out: the text rules refuse them anyway, and a pattern cannot carry them
INVISIBLE_CATEGORIES = {"Cc", "Cf", "Mn", "Me", "Zs", "Zl", "Zp"}
DRAWS_NOTHING = {0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800}  # Hangul fillers, Braille pattern blank


def _invisible(code: int) -> bool:
    char = chr(code)
    return char.isspace() or unicodedata.category(char) in INVISIBLE_CATEGORIES or code in DRAWS_NOTHING


def _class_of_invisible() -> str:
    """The invisible characters as a regex class body of literal characters and ranges."""
    parts, start = [], None
    for code in range(sys.maxunicode + 2):
        if code <= sys.maxunicode and _invisible(code):
            start = code if start is None else start
        elif start is not None:
            first, last = _literal(start), _literal(code - 1)
            parts.append(first if start == code - 1 else f"{first}-{last}")
            start = None
    return "".join(parts)


def _literal(code: int) -> str:
    char = chr(code)
    return "\\" + char if char in "\\]^-[" else char


_INVISIBLE = _class_of_invisible()
# one visible character anywhere, and no NUL (which PostgreSQL cannot store) anywhere
VISIBLE_PATTERN = f"^[^\\x00]*[^{_INVISIBLE}][^\\x00]*$"
_VISIBLE_CHAR = re.compile(f"[^{_INVISIBLE}]")


def is_visible(text: str) -> bool:
    """True if some character of `text` can be seen (the pattern's rule, without the NUL part)."""
    return _VISIBLE_CHAR.search(text) is not None
