"""xMIND (MIND's news in 14 languages; Asenova et al., SIGIR 2024, github andreeaiana/xMIND) with MIND's clicks.

xMIND machine-translates MIND's news (NLLB 3.3B) and ships, per language (its ISO 639-3
code), zips such as `xMIND/fin/xMINDsmall_dev.zip` holding `xMINDsmall_dev/news.tsv`: a
header row, then three tab-separated columns, `nid` (MIND's news id), `title` and `abstract`
(translated). It holds no clicks and no categories: those stay MIND's.

`import_xmind` reads one language's xMIND news (a zip, a news.tsv, or a folder of them: all
are read, a later file's text of an id replacing an earlier one's) and MIND's files: a folder
with news.tsv and <split>/behaviors.tsv (the project's samples), or MIND's own download
folders (`MINDsmall_train/`, `MINDsmall_dev/`: news.tsv and behaviors.tsv each, the split
named by the folder's suffix). It writes news.tsv with each item's translated title and
abstract, MIND's id, category, subcategory and url kept (MIND's entity columns are left empty:
their offsets point into the English text); an item xMIND lacks keeps its English text, is
counted and is listed in `untranslated.txt`. Each split's behaviors.tsv is copied unchanged
(a copy, not a link: a later import into the same folder must not overwrite MIND's file).
The translations are held per news item, as `read_news` holds MIND's news.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from newsrec.data.imported import DatasetFormatError, Imported
from newsrec.data.mind import News, read_news, write_news

__all__ = ["import_xmind", "XmindImported", "LANGUAGES", "UNTRANSLATED_FILE"]

LANGUAGES = {  # xMIND's codes (ISO 639-3) and languages, as its README lists them
    "swh": "Swahili", "som": "Somali", "cmn": "Mandarin Chinese", "jpn": "Japanese", "tur": "Turkish",
    "tam": "Tamil", "vie": "Vietnamese", "tha": "Thai", "ron": "Romanian", "fin": "Finnish",
    "kat": "Georgian", "hat": "Haitian Creole", "ind": "Indonesian", "grn": "Guarani",
}  # fmt: skip
COLUMNS = ("nid", "title")  # required in the header; `abstract` is read where present
MIND_SPLITS = ("train", "dev", "test")  # MIND's download folders end in these: MINDsmall_train
UNTRANSLATED_FILE = "untranslated.txt"


@dataclass
class XmindImported(Imported):
    """An xMIND import: what was written, in which language, and how many items kept English text."""

    language: str = ""
    untranslated: int = 0


def import_xmind(
    xmind: str | Path, mind: str | Path | Sequence[str | Path], out: str | Path, language: str | None = None
) -> XmindImported:
    """Write MIND's files under `out` with the news text of the xMIND news at `xmind` (see the
    module docstring); `language` is inferred from the path (`xMIND/fin/...`) when not given."""
    xmind, out = Path(xmind), Path(out)
    code = _language(xmind, language)
    translations = dict(_translations(_news_files(xmind)))
    folders = [Path(mind)] if isinstance(mind, (str, Path)) else [Path(m) for m in mind]
    if any(out.resolve() == folder.resolve() for folder in folders):
        raise DatasetFormatError(f"--out {out} is a MIND folder given: write the translated copy elsewhere")
    news: dict[str, News] = {}
    splits: dict[str, Path] = {}
    for folder in folders:
        news.update(read_news(_mind_file(folder, "news.tsv")))
        for split, behaviors in _splits(folder).items():
            if split in splits:
                raise DatasetFormatError(f"{behaviors} and {splits[split]} are both MIND's {split} split: give one")
            splits[split] = behaviors
    result = XmindImported(out, language=code)
    missing = [news_id for news_id in news if news_id not in translations]
    for news_id, (title, abstract) in translations.items():
        if news_id in news:
            news[news_id] = replace(news[news_id], title=title, abstract=abstract)
    write_news(out / "news.tsv", news)
    _write_untranslated(out / UNTRANSLATED_FILE, missing)
    result.news, result.untranslated = len(news), len(missing)
    for split, behaviors in splits.items():
        result.impressions[split] = _copy(behaviors, out / split / "behaviors.tsv")
    return result


def _language(path: Path, given: str | None) -> str:
    """The xMIND language code: `given`, else the one the path names (`xMIND/fin/...`)."""
    known = ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
    if given is None:
        named = [part for part in path.resolve().parts if part in LANGUAGES]
        if not named:
            raise DatasetFormatError(f"{path} names no xMIND language: give --language, one of {known}")
        return named[-1]
    if given not in LANGUAGES:
        raise DatasetFormatError(f"{given!r} is not an xMIND language code: one of {known}")
    return given


def _news_files(path: Path) -> list[Path]:
    """The xMIND news files at `path`: a zip or news.tsv itself, or those a folder holds (any depth)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DatasetFormatError(f"{path} does not exist: give xMIND's news of one language (xMIND/fin/ or a zip)")
    found = sorted(p for p in path.rglob("*") if p.is_file() and (p.name == "news.tsv" or p.suffix == ".zip"))
    if not found:
        raise DatasetFormatError(f"{path} holds no xMIND news (xMINDsmall_dev.zip or xMINDsmall_dev/news.tsv)")
    return found


def _translations(files: list[Path]) -> Iterator[tuple[str, tuple[str, str]]]:
    """(news id, (title, abstract)) of every row of the files, in order; a row's title must not be empty."""
    for path in files:
        for where, text in _opened(path):
            with text:
                yield from _rows(where, text)


def _opened(path: Path) -> Iterator[tuple[str, TextIO]]:
    """(name for messages, text stream) of each news.tsv in `path`, a zip or the file itself."""
    if path.suffix != ".zip":
        yield str(path), path.open(encoding="utf-8", newline="")
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DatasetFormatError(f"{path} is not a readable zip file: download it again") from None
    with archive:
        members = [m for m in archive.namelist() if m == "news.tsv" or m.endswith("/news.tsv")]
        if not members:
            raise DatasetFormatError(f"{path} holds no news.tsv (xMIND's zips hold xMINDsmall_dev/news.tsv)")
        for member in members:
            yield f"{path}/{member}", io.TextIOWrapper(archive.open(member), encoding="utf-8", newline="")


def _rows(where: str, text: TextIO) -> Iterator[tuple[str, tuple[str, str]]]:
    reader = csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, [])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DatasetFormatError(
            f"{where}: the header lacks the column(s) {', '.join(missing)} (xMIND's is nid, title, abstract)"
        )
    nid, title = header.index("nid"), header.index("title")
    abstract = header.index("abstract") if "abstract" in header else None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DatasetFormatError(f"{where}:{reader.line_num}: {len(row)} columns, the header has {len(header)}")
        if not row[title].strip():
            continue  # no translation: the item keeps MIND's text and is listed as untranslated
        yield row[nid].strip(), (row[title].strip(), row[abstract].strip() if abstract is not None else "")


def _mind_file(folder: Path, name: str) -> Path:
    if not (folder / name).is_file():
        raise DatasetFormatError(
            f"{folder / name} is missing: --mind takes a MIND folder (news.tsv and train/, dev/ behaviors) "
            "or MIND's own download folders (MINDsmall_train/ with news.tsv and behaviors.tsv)"
        )
    return folder / name


def _splits(folder: Path) -> dict[str, Path]:
    """Split name -> behaviors.tsv: the folder's own (named by its suffix: MINDsmall_dev -> dev), its subfolders'."""
    splits = {}
    if (folder / "behaviors.tsv").is_file():
        suffix = folder.resolve().name.rsplit("_", 1)[-1].lower()
        splits[suffix if suffix in MIND_SPLITS else folder.resolve().name] = folder / "behaviors.tsv"
    for sub in sorted(p for p in folder.iterdir() if (p / "behaviors.tsv").is_file()):
        splits[sub.name] = sub / "behaviors.tsv"
    if not splits:
        raise DatasetFormatError(f"{folder} holds no behaviors.tsv, in it or in a split folder (train/, dev/)")
    return splits


def _copy(source: Path, target: Path) -> int:
    """Copy a behaviors file a line at a time; its impressions (non-empty lines)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with source.open("rb") as read, target.open("wb") as write:
        for line in read:
            write.write(line)
            count += bool(line.strip())
    return count


def _write_untranslated(path: Path, news_ids: list[str]) -> None:
    if news_ids:
        path.write_text("".join(f"{news_id}\n" for news_id in news_ids), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
