"""Shared fixtures: a tiny seeded synthetic world and a private embedding cache."""

from pathlib import Path

import pytest

from newsrec.data.synthetic import SyntheticWorldConfig, write_world

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
