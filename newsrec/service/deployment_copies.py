"""This machine's copies of deployed model folders, each named by the digest of its files.

A deployment names a model folder, and that folder stays writable: a model.pt written over the
old one after the deployment was accepted must change nothing (nor leave two workers serving
different weights under one version). So no worker loads a deployed folder itself. The files
`Ranker.load` reads are copied once per machine into `<root>/<digest>/`: hashed while copied,
written under a temporary name, made read-only and on disk, then renamed into place, so a copy
is either absent or whole. Every worker of the machine loads that copy. A machine that has no
copy yet (another instance) makes its own from the folder, and refuses it if the files no
longer hash to what the deployment recorded: it keeps serving what it has, as before copies.
The `--model` folder of `newsrec serve` is copied the same way when the service starts.

Old copies are removed (`collect`), else every deployment would stay on disk for ever. A copy
goes when the newest deployment does not name it, no process of the machine uses it, and it
was neither made nor taken for `GRACE_SECONDS`. "Uses": each process holds a shared `flock` on
the folder of every copy it serves, from the moment it took it (`copy`) until it serves others
(`serving`); the collector must get the lock exclusively, without waiting, and moves the folder
away while it holds it. A process that dies drops its locks with it. The grace period covers
the moments no lock can: a deployment just copied by the request that proves it, which its
worker's loader takes a moment later, and a copy in the making before its lock is taken.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from newsrec.models.ranker import model_files, model_version

__all__ = ["DeploymentError", "ModelCopies", "GRACE_SECONDS"]

logger = logging.getLogger(__name__)
CHUNK = 1 << 20  # bytes copied at a time: a large model.pt is never in memory whole
GRACE_SECONDS = 600.0  # a copy made or taken this recently is kept, held or not
COPYING, REMOVING = ".copying-", ".removing-"  # folders in the making, and on their way out


class DeploymentError(ValueError):
    """A model that cannot serve here; the message says why and what to do."""


class ModelCopies:
    """Content-addressed copies of model folders under `root`, shared by the machine's workers;
    one instance per process (its locks say which copies the process uses)."""

    def __init__(self, root: Path):
        self.root = root
        self._held: dict[str, int] = {}  # digest -> the copy's folder, opened and locked shared
        self._lock = threading.Lock()

    @classmethod
    def of_machine(cls, snapshot_dir: Path) -> ModelCopies:
        """The copies beside this machine's news snapshots (NEWSREC_SNAPSHOT_DIR), which its workers share."""
        return cls(snapshot_dir / "deployments")

    def copy(self, model_dir: str, version: str = "", digest: str = "") -> Path:
        """This machine's copy of the model in `model_dir`, made from that folder if there is none;
        held by this process until `serving` leaves it out.

        `version` and `digest` are what the deployment recorded (its weights' version, the digest
        of all its files; empty: whatever the folder holds now). Files that hash otherwise raise
        DeploymentError, a missing folder or file FileNotFoundError."""
        if digest and (held := self._hold(digest)):
            return held  # whole: a copy is renamed into place only once complete
        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=COPYING, dir=self.root))
        lock, kept = _locked(work, fcntl.LOCK_SH), False  # the lock goes with the copy when it is renamed into place
        try:
            copied = _copy_hashed(Path(model_dir), work)
            if (version and model_version(work) != version) or (digest and copied != digest):
                raise DeploymentError(
                    f"{model_dir} changed since it was deployed (its files are not those of version {version}): "
                    "deploy the folder again"
                )
            for _ in range(3):
                try:
                    work.rename(self.root / copied)  # atomic: the machine's workers see no copy or a whole one
                except OSError:
                    if not (self.root / copied).is_dir():
                        raise
                    if held := self._hold(copied):  # another worker put the same files there first
                        return held
                    continue  # ... and it was collected since: put this one there
                self._keep(copied, lock)
                kept = True
                return self.root / copied
            raise DeploymentError(f"{self.root / copied} kept changing while {model_dir} was copied: try again")
        finally:
            if not kept:
                os.close(lock)
            shutil.rmtree(work, ignore_errors=True)  # gone once renamed; else what this call left

    def serving(self, digests: set[str]) -> None:
        """This process uses these copies only now: the others' locks are let go."""
        with self._lock:
            for digest in [d for d in self._held if d not in digests]:
                os.close(self._held.pop(digest))

    def settle(self, serving: set[str], named: set[str]) -> list[str]:
        """What a worker does once it serves other models: `serving`, then `collect` (logged)."""
        self.serving(serving)
        if removed := self.collect(named | serving):
            logger.info("removed this machine's copies of models no deployment serves: %s", removed)
        return removed

    def collect(self, named: set[str]) -> list[str]:
        """Remove the copies that `named` (the newest deployment's digests) leaves out, that no
        process uses and that were not made or taken in the last `GRACE_SECONDS`; and what
        processes killed while copying or removing left. Returns the names removed."""
        removed = []
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if folder.name in named or folder.name in self._held or not folder.is_dir():
                continue
            try:
                if time.time() - folder.stat().st_mtime < GRACE_SECONDS and not folder.name.startswith(REMOVING):
                    continue
                lock = _locked(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except (FileNotFoundError, BlockingIOError):  # gone already, or in use
                continue
            try:
                grave = folder.with_name(f"{REMOVING}{folder.name.removeprefix(REMOVING)}-{os.getpid()}")
                folder.rename(grave)  # while locked: whoever opens it by its name finds nothing
            except OSError:
                continue
            finally:
                os.close(lock)
            shutil.rmtree(grave, ignore_errors=True)  # its files are read-only; the folder is writable
            removed.append(folder.name)
        return removed

    def _hold(self, digest: str) -> Path | None:
        """The copy named `digest`, locked shared by this process; None if there is none."""
        path = self.root / digest
        with self._lock:
            if digest in self._held:
                return path
        try:
            lock = _locked(path, fcntl.LOCK_SH)  # waits while a collector moves it away (a moment)
        except FileNotFoundError:
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(lock).st_ino  # not moved away before the lock was had
        except FileNotFoundError:
            same = False
        if not same:
            os.close(lock)
            return None
        os.utime(path)  # taken now: a grace period from here, as for a fresh copy
        self._keep(digest, lock)
        return path

    def _keep(self, digest: str, lock: int) -> None:
        with self._lock:
            if digest in self._held:
                os.close(lock)
            else:
                self._held[digest] = lock


def _locked(folder: Path, how: int) -> int:
    """`folder` opened and flock-ed `how`; raises FileNotFoundError, or BlockingIOError (LOCK_NB)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, how)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _copy_hashed(folder: Path, to: Path) -> str:
    """Copy the model files of `folder` into `to`, read-only and on disk; the digest of the bytes
    written (each file's name and sha256), taken as they are copied, not read again later."""
    hashes = []
    for source in model_files(folder):
        target, sha = to / source.name, hashlib.sha256()
        with source.open("rb") as f, target.open("xb") as out:
            while chunk := f.read(CHUNK):
                sha.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # on disk before the rename shows the copy: a crash leaves no torn copy
        target.chmod(0o444)
        hashes.append(f"{source.name} {sha.hexdigest()}")
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()
