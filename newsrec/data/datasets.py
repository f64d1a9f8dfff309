"""Every dataset kind newsrec reads, and a dataset named as `KIND:PATH` where a command reads it.

`newsrec data import KIND PATH --out DIR` writes another dataset once in MIND's format.
`train`, `evaluate` and `predict` also take `--dataset KIND:PATH`: the source is then imported
once into `<cache dir>/datasets/<kind>-<key>/`, keyed by the source's path and its files' sizes
and modification times, and later commands on the unchanged source read that folder. `mind:PATH`
(or a bare PATH) is read in place. xMIND needs MIND's own folder beside its translations: import
it with `newsrec data import xmind` and give the result as `mind:DIR`. Processes that open one
source together (torchrun) wait for the first one's import under a file lock instead of
importing it again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from newsrec.data.adressa import import_adressa
from newsrec.data.ebnerd import import_ebnerd
from newsrec.data.imported import DatasetFormatError, Imported
from newsrec.data.site_logs import import_site_logs
from newsrec.environment import environment

__all__ = ["IMPORTERS", "DatasetFolder", "open_dataset", "dataset_kinds"]

# kind -> importer(source, out): each writes news.tsv and <split>/behaviors.tsv under out
IMPORTERS: dict[str, Callable[[Path, Path], Imported]] = {
    "ebnerd": import_ebnerd,  # Ekstra Bladet's EB-NeRD parquet (RecSys Challenge 2024)
    "adressa": import_adressa,  # Adresseavisen's SmartMedia logs (clicks only: see adressa.py's protocol)
    "site": import_site_logs,  # a site's own logs as CSV or JSON Lines
}
logger = logging.getLogger(__name__)
DONE = "imported"  # written last into a finished import's folder


@dataclass(frozen=True)
class DatasetFolder:
    """A dataset in MIND's layout: news.tsv, and train/, dev/, test/ where the source has them."""

    root: Path

    @property
    def news(self) -> Path:
        return self.root / "news.tsv"

    def has(self, split: str) -> bool:
        return (self.root / split / "behaviors.tsv").is_file()

    def split(self, split: str) -> Path:
        """The split's behaviors.tsv; an error naming the splits there are when it is missing."""
        if not self.has(split):
            there = [s for s in ("train", "dev", "test") if self.has(s)] or ["none"]
            raise DatasetFormatError(f"{self.root} has no {split}/behaviors.tsv (its splits: {', '.join(there)})")
        return self.root / split / "behaviors.tsv"

    def labelled_split(self) -> Path:
        """What evaluation reads: dev/, else train/ when the source has no validation split."""
        return self.split("dev" if self.has("dev") else "train")

    def unlabelled_split(self) -> Path:
        """What a benchmark's prediction file ranks: test/, else dev/."""
        return self.split("test" if self.has("test") else "dev")


def open_dataset(spec: str, cache_dir: Path | None = None) -> DatasetFolder:
    """The dataset `spec` (`KIND:PATH`, or a MIND folder) in MIND's layout, imported if need be."""
    kind, named, path = spec.partition(":")
    if not named or kind not in dataset_kinds():
        if named and kind.isidentifier() and not Path(spec).exists():
            kinds = ", ".join(dataset_kinds())
            raise DatasetFormatError(f"unknown dataset kind {kind!r} in {spec!r}: the kinds are {kinds}")
        kind, path = "mind", spec
    source = Path(path).expanduser().resolve()
    if not source.exists():
        raise DatasetFormatError(f"{source} does not exist: give --dataset KIND:PATH with the dataset's folder")
    if kind == "mind":
        return DatasetFolder(source)
    folder = (cache_dir or environment().cache_dir) / "datasets" / f"{kind}-{_key(source)}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{folder}.lock"):
        if not (folder / DONE).is_file():
            logger.info("importing %s once into %s (later commands read it from there)", source, folder)
            work = folder.with_name(f"{folder.name}.building-{os.getpid()}")
            shutil.rmtree(work, ignore_errors=True)
            imported = IMPORTERS[kind](source, work)
            splits = ", ".join(f"{split} {count:,}" for split, count in imported.impressions.items())
            (work / DONE).write_text(f"{kind} {source}: {imported.news:,} news; impressions {splits}\n")
            shutil.rmtree(folder, ignore_errors=True)  # an import a killed process left half done
            os.replace(work, folder)
    return DatasetFolder(folder)


def dataset_kinds() -> list[str]:
    """The kinds `--dataset KIND:PATH` takes."""
    return ["mind", *IMPORTERS]


def _key(source: Path) -> str:
    """The source's path and each of its files' name, size and modification time, hashed."""
    digest = hashlib.sha256(str(source).encode())
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    for file in files:
        if file.is_file():
            stat = file.stat()
            digest.update(f"\0{file.relative_to(source.parent)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
