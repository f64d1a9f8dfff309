"""This machine's copies of deployed model folders, each named by the digest of its files.

A deployment names a model folder, and that folder stays writable: a model.pt written over the
old one after the deployment was accepted must change nothing (nor leave two workers serving
different weights under one version). So no worker loads a deployed folder itself. The files
`Ranker.load` reads are copied once per machine into `<root>/<digest>/`: hashed while copied,
written under a temporary name, made read-only and on disk, then renamed into place, so a copy
is either absent or whole. Every worker of the machine loads that copy. A machine that has no
copy yet (another instance) makes its own from the folder, and refuses it if the files no
longer hash to what the deployment recorded: it keeps serving what it has, as before copies.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from newsrec.models.ranker import model_files, model_version

__all__ = ["DeploymentError", "ModelCopies"]

CHUNK = 1 << 20  # bytes copied at a time: a large model.pt is never in memory whole


class DeploymentError(ValueError):
    """A model that cannot serve here; the message says why and what to do."""


class ModelCopies:
    """Content-addressed copies of model folders under `root`, shared by the machine's workers."""

    def __init__(self, root: Path):
        self.root = root

    def copy(self, model_dir: str, version: str = "", digest: str = "") -> Path:
        """This machine's copy of the model in `model_dir`, made from that folder if there is none.

        `version` and `digest` are what the deployment recorded (its weights' version, the digest
        of all its files; empty: whatever the folder holds now). Files that hash otherwise raise
        DeploymentError, a missing folder or file FileNotFoundError."""
        if digest and (self.root / digest).is_dir():
            return self.root / digest  # whole: a copy is renamed into place only once complete
        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".copying-", dir=self.root))
        try:
            copied = _copy_hashed(Path(model_dir), work)
            if (version and model_version(work) != version) or (digest and copied != digest):
                raise DeploymentError(
                    f"{model_dir} changed since it was deployed (its files are not those of version {version}): "
                    "deploy the folder again"
                )
            try:
                work.rename(self.root / copied)  # atomic: the machine's workers see no copy or a whole one
            except OSError:
                if not (self.root / copied).is_dir():
                    raise  # else another worker put the same files there first
            return self.root / copied
        finally:
            shutil.rmtree(work, ignore_errors=True)  # gone once renamed; else what this call left


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
