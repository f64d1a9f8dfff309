"""Which language and script an LLM writes in, and how its checks count and compare words.

Every task writes in the language of its source (the news, or what a user read and wrote):
`Writing.of(source)` reads it, and `Writing.fit` puts a reply into the source's script, since
models answer Chinese in Simplified even to Traditional news. Checks count words with
`count_words` (Chinese segmented by jieba, not split on spaces it does not have) and compare
texts by `language.fold`, so a Simplified reply equals its Traditional original. Grounding (does a reply
name a matched title or topic) is `models.reason.mentions`, the rule the templates use too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsrec.data.language import (
    ChineseScript,
    detect_language,
    fold,
    in_script,
    is_han,
    script_of,
    to_simplified,
    words,
)

__all__ = ["Writing", "ENGLISH", "count_words", "letters_only"]


@dataclass(frozen=True)
class Writing:
    language: str  # 'en' | 'zh' (language.detect_language)
    script: ChineseScript = "keep"  # the script a reply's Chinese is put in
    source: str = field(default="", compare=False, repr=False)  # the texts the reply draws on

    @classmethod
    def of(cls, *source: str) -> Writing:
        """The language and Chinese script of the texts together."""
        text = " ".join(source)
        return cls(detect_language(text), script_of(text), text)

    def fit(self, reply: str) -> str:
        """`reply` with its Chinese in this script, spelled as the source spells it: converting to
        Traditional guesses by words ("马克里" -> "馬克裡"), and a name copied from "馬克里" must
        stay that name. Each Chinese word the source holds (compared in one script) takes the
        source's characters, and so does each character the source writes one way only."""
        fitted = in_script(reply, self.script)
        if self.script != "traditional" or not self.source:
            return fitted
        folded = fold(self.source)
        if len(folded) == len(self.source):  # the folding kept every character in its place
            for word in {w for w in words(fitted) if len(w) > 1 and all(map(is_han, w))}:
                if (at := folded.find(fold(word))) >= 0:
                    fitted = fitted.replace(word, self.source[at : at + len(word)])
        forms = _forms(self.source)
        return "".join(forms.get(to_simplified(c), c) if is_han(c) else c for c in fitted)


def _forms(text: str) -> dict[str, str]:
    """{Simplified character: the one form `text` writes it in}, for characters written one way."""
    seen: dict[str, set[str]] = {}
    for c in set(filter(is_han, text)):
        seen.setdefault(to_simplified(c), set()).add(c)
    return {key: next(iter(forms)) for key, forms in seen.items() if len(forms) == 1}


ENGLISH = Writing("en")


def count_words(text: str) -> int:
    """Words holding a letter or digit: Chinese segmented by jieba, punctuation not counted."""
    return sum(any(c.isalnum() for c in w) for w in words(text))


def letters_only(text: str) -> str:
    """`text` as its letters and digits alone, case and Chinese script folded: two texts equal in
    this form say the same words ("Title." and "title" do)."""
    return "".join(c for c in fold(text) if c.isalnum())
