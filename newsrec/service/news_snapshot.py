"""One copy per machine of the stored news a model serves, in files every worker maps.

The first worker that needs the news of one database and one `vector_id` reads them from the
store (vectors stored under that `vector_id` are taken as they are, never encoded again) and
writes them to a folder under a file lock; the others wait for it and map the same files. The
files are never written after they are built, so their pages are shared by every process: N
workers hold the vectors once. (A worker writing a row, a news item replaced later, gets a
private copy of that one page.)

Past `lists_above` news the rows are put in IVF-list order: k-means (FAISS) over the vectors, then
each list is one contiguous slice of the same file, so an approximate search reads the shared
vectors themselves (`service/index.py`) and holds no copy of its own.

A snapshot holds the news through one `seq`; a worker catches up past it through the news feed.
A start reuses the newest snapshot while the news stored since are few (`REBUILD_AT`,
`REBUILD_SHARE`) and builds a new one otherwise; older ones are removed (a worker still mapping
one keeps it until it exits).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from newsrec.data.mind import epoch_seconds
from newsrec.progress import progress
from newsrec.service.file_maps import locked, release
from newsrec.service.ivf_lists import IvfLists, list_count, list_order
from newsrec.store import repository as repo
from newsrec.store.feeds import ROWS_PER_READ
from newsrec.store.models import NewsRow

__all__ = ["Snapshots", "NewsSnapshot"]

logger = logging.getLogger(__name__)

REBUILD_AT, REBUILD_SHARE = 10_000, 0.1  # news stored since a snapshot that call for a new one
FORMAT = 3  # what a snapshot's folder holds (2: urls, 3: publication times); one of another format is built again
SPARE_SHARE = 0.25  # room in the vector file for news that arrive while serving
CHUNK = ROWS_PER_READ  # rows read from the store, and strings copied, at a time
Encode = Callable[[list[NewsRow]], np.ndarray]  # full rows -> (N, D) vectors, for rows of another vector_id


class Texts:
    """Strings kept as one UTF-8 blob and offsets (a file maps them; no Python object per string)."""

    def __init__(self, blob: np.ndarray, at: np.ndarray):
        self.blob, self.at = blob, at

    @classmethod
    def write(cls, folder: Path, name: str, texts: TextsBuilder, order: np.ndarray | None = None) -> None:
        """The builder's strings, in `order` (positions) if given, as `name`.npy and `name`_at.npy."""
        blob, at = texts.blob(), texts.at()
        if order is None:
            np.save(folder / f"{name}.npy", blob if len(blob) else np.zeros(1, np.uint8))
            np.save(folder / f"{name}_at.npy", at)
            return
        lengths = np.diff(at)[order]
        new_at = np.zeros(len(order) + 1, np.int64)
        np.cumsum(lengths, out=new_at[1:])
        out = np.lib.format.open_memmap(folder / f"{name}.npy", "w+", np.uint8, (max(1, int(new_at[-1])),))
        for start in range(0, len(order), CHUNK):  # a chunk of strings at a time: no copy of them all
            part = order[start : start + CHUNK]
            pieces = [blob[at[i] : at[i + 1]] for i in part.tolist()]
            if pieces:
                out[new_at[start] : new_at[start + len(part)]] = np.concatenate(pieces)
        out.flush()
        np.save(folder / f"{name}_at.npy", new_at)

    @classmethod
    def load(cls, folder: Path, name: str) -> Texts:
        return cls(np.load(folder / f"{name}.npy", mmap_mode="r"), np.load(folder / f"{name}_at.npy", mmap_mode="r"))

    def __getitem__(self, i: int) -> str:
        return bytes(self.blob[self.at[i] : self.at[i + 1]]).decode()

    def __len__(self) -> int:
        return len(self.at) - 1


class TextsBuilder:
    """Strings appended a chunk at a time, kept encoded (one bytes object per chunk)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._lengths: list[np.ndarray] = []

    def extend(self, strings: list[str]) -> None:
        encoded = [s.encode() for s in strings]
        self._parts.append(b"".join(encoded))
        self._lengths.append(np.array([len(e) for e in encoded], np.int64))

    def blob(self) -> np.ndarray:
        return np.frombuffer(b"".join(self._parts), np.uint8)

    def at(self) -> np.ndarray:
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        at = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=at[1:])
        return at


@dataclass
class NewsSnapshot:
    """The news through `through`, by table row: row 0 is padding, rows 1..N the news."""

    folder: Path
    through: int
    ids: list[str]
    vectors: np.ndarray  # (capacity, D) copy-on-write map: rows past N are room for news that arrive later
    published: np.ndarray  # (N + 1,) seconds since the epoch: publication, else when stored (the recency filter)
    released: np.ndarray  # (N + 1,) the publisher's time only, NaN where it gave none (the model's freshness)
    titles: Texts  # by row - 1
    urls: Texts  # by row - 1 ("": none)
    category_codes: np.ndarray  # (N,) into `categories`
    categories: list[str]
    lists: IvfLists | None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Snapshots:
    """Where a machine keeps the snapshots of one database (named by its secret) and how they are cut."""

    root: Path
    secret: str
    lists_above: int = 100_000  # past this many news: rows in IVF-list order, for the approximate search

    def due(self, count: int, since: int, lists: bool) -> bool:
        """Whether a snapshot of `count` news (in lists or not) with `since` stored after it calls
        for a new one: too many news outside it, or it should be in list order and is not."""
        return since > max(REBUILD_AT, REBUILD_SHARE * count) or (count + since > self.lists_above) != lists

    def open(self, session: Session, vector_id: str, dim: int, encode: Encode) -> NewsSnapshot:
        """The news of this database as `vector_id` reads them: the newest snapshot, built if need be."""
        folder = self.root / f"{_digest(self.secret)}-{_digest(vector_id)}"
        folder.mkdir(parents=True, exist_ok=True)
        with locked(folder / "lock"):
            newest_built = max(folder.glob("through-*/meta.json"), default=None, key=lambda p: p.parent.name)
            if newest_built is not None:
                meta = json.loads(newest_built.read_text())
                since, _ = repo.news_extent(session, after=meta["through"])
                if meta.get("format") == FORMAT and not self.due(meta["count"], since, meta["lists"]):
                    return _open(newest_built.parent)
            count, through = repo.news_extent(session)
            built = _build(folder, session, vector_id, dim, encode, count, through, count > self.lists_above)
            for old in folder.glob("through-*"):
                if old != built:
                    shutil.rmtree(old, ignore_errors=True)
            return _open(built)


def _build(
    folder: Path, session: Session, vector_id: str, dim: int, encode: Encode, count: int, through: int, lists: bool
) -> Path:
    """Write the `count` news with seq <= `through` (what `news_extent` just found) into a new folder."""
    work = folder / f"building-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    logger.info("news snapshot: reading %d stored news (through seq %d) into %s", count, through, folder)
    capacity = 1 + count + max(1024, int(SPARE_SHARE * count))
    vectors = np.memmap(work / "vectors.f32", np.float32, "w+", shape=(capacity, dim))  # sparse past the news
    ids, titles, urls, read = TextsBuilder(), TextsBuilder(), TextsBuilder(), 0
    category_code: dict[str, int] = {}  # category -> its code, in order of first sight
    codes = np.zeros(count, np.int32)
    published, released = np.zeros(count + 1), np.full(count + 1, np.nan)
    for rows in progress(_chunks(session, through), "news snapshot: reading the store", "news", count, by=len):
        first, read = read + 1, read + len(rows)
        vectors[first : first + len(rows)] = _stored_vectors(session, rows, vector_id, encode)
        release(vectors)
        published[first : first + len(rows)] = [epoch_seconds(r.published_at or r.updated_at) for r in rows]
        stated = [r.published_at for r in rows]
        released[first : first + len(rows)] = [epoch_seconds(t) if t else np.nan for t in stated]
        ids.extend([r.news_id for r in rows])
        titles.extend([r.title for r in rows])
        urls.extend([r.url for r in rows])
        in_order = [category_code.setdefault(r.category or "", len(category_code)) for r in rows]
        codes[first - 1 : first - 1 + len(rows)] = in_order
    meta = {"format": FORMAT, "through": through, "count": count, "dim": dim, "capacity": capacity, "lists": lists}
    order = None
    if lists:
        logger.info("news snapshot: k-means of %d news into %d IVF lists", count, list_count(count))
        order, centroids, starts = list_order(vectors, count)
        ordered = np.memmap(work / "ordered.f32", np.float32, "w+", shape=(capacity, dim))
        chunks = range(0, count, CHUNK)
        for start in progress(chunks, "news snapshot: list order", "news", count, by=lambda at: min(CHUNK, count - at)):
            part = order[start : start + CHUNK]
            ordered[1 + start : 1 + start + len(part)] = vectors[1 + part]
            release(ordered, vectors)
        ordered.flush()
        del vectors, ordered
        os.replace(work / "ordered.f32", work / "vectors.f32")
        codes = codes[order]
        published, released = (np.concatenate([times[:1], times[1:][order]]) for times in (published, released))
        np.save(work / "centroids.npy", centroids)
        np.save(work / "starts.npy", starts)
    else:
        vectors.flush()
        del vectors
    Texts.write(work, "ids", ids, order)
    Texts.write(work, "titles", titles, order)
    Texts.write(work, "urls", urls, order)
    np.save(work / "category_codes.npy", codes)
    np.save(work / "published.npy", published)
    np.save(work / "released.npy", released)
    (work / "categories.json").write_text(json.dumps(list(category_code)))
    (work / "meta.json").write_text(json.dumps(meta))  # last: a folder with meta.json is complete
    built = folder / f"through-{through:012d}"
    shutil.rmtree(built, ignore_errors=True)
    os.replace(work, built)
    logger.info("news snapshot: %d news written%s", count, " in IVF-list order" if lists else "")
    return built


def _chunks(session: Session, through: int) -> Iterator[list]:
    after = 0
    while rows := repo.news_columns(session, after, through, CHUNK):
        yield rows
        after = rows[-1].seq


def _stored_vectors(session: Session, rows: list, vector_id: str, encode: Encode) -> np.ndarray:
    """(N, D): stored vectors of rows posted under `vector_id`; the others encoded as this model reads news."""
    redo = [r.seq for r in rows if r.encoder_id != vector_id]
    fresh: Iterator[np.ndarray] = iter(encode(repo.news_at(session, redo)) if redo else [])
    return np.stack([np.frombuffer(r.vector, np.float32) if r.encoder_id == vector_id else next(fresh) for r in rows])


def _open(folder: Path) -> NewsSnapshot:
    meta = json.loads((folder / "meta.json").read_text())
    vectors = np.memmap(folder / "vectors.f32", np.float32, "c", shape=(meta["capacity"], meta["dim"]))
    ids = Texts.load(folder, "ids")
    lists = None
    if meta["lists"]:
        lists = IvfLists(np.load(folder / "centroids.npy"), np.load(folder / "starts.npy"))
    return NewsSnapshot(
        folder,
        meta["through"],
        [ids[i] for i in range(len(ids))],
        vectors,
        np.load(folder / "published.npy", mmap_mode="r"),
        np.load(folder / "released.npy", mmap_mode="r"),
        Texts.load(folder, "titles"),
        Texts.load(folder, "urls"),
        np.load(folder / "category_codes.npy", mmap_mode="r"),
        json.loads((folder / "categories.json").read_text()),
        lists,
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
