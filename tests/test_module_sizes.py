"""Every module of the package is at most 300 lines long: a longer one holds more than one
thing, and is split where they part (docs/ARCHITECTURE.md names each module's one thing).

Every `.py` file under newsrec/ counts, `__init__.py`, private modules and migrations too; a
line is a line of the text (blank lines and comments included), as an editor numbers them.
The check is tested on a padded module, so it cannot pass by reading nothing.
"""

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "newsrec"
MOST_LINES = 300


def long_modules(package: Path, most: int = MOST_LINES) -> list[str]:
    """The modules under `package` longer than `most` lines, with their length."""
    lengths = {path: len(path.read_text().splitlines()) for path in sorted(package.rglob("*.py"))}
    return [f"{path.relative_to(package)} has {n} lines (at most {most})" for path, n in lengths.items() if n > most]


def test_no_module_of_the_package_is_longer_than_300_lines():
    assert long_modules(PACKAGE) == []


@pytest.mark.parametrize("where", ["models/batch.py", "models/_private.py", "__init__.py", "store/migrations/v.py"])
def test_a_module_padded_past_the_limit_is_found(tmp_path, where):
    pkg = tmp_path / "newsrec"
    module = pkg / where
    module.parent.mkdir(parents=True, exist_ok=True)
    (pkg / "data.py").write_text("X = 1\n")
    module.write_text('"""A module."""\n' + "X = 1\n" * (MOST_LINES - 2) + "\n")  # 300 lines
    assert long_modules(pkg) == []
    module.write_text(module.read_text() + "# one more\n")
    assert long_modules(pkg) == [f"{where} has {MOST_LINES + 1} lines (at most {MOST_LINES})"]
