"""The in-process index: exact top-k (NumPy) through upserts, replacements and removals; IVF past its limit."""

import numpy as np

from newsrec.service.index import FaissIndex


def brute_force(vectors: dict[int, np.ndarray], query: np.ndarray, k: int) -> list[int]:
    keys = sorted(vectors, key=lambda key: -float(vectors[key] @ query))
    return keys[:k]


def test_exact_search_follows_upserts_replacements_and_removals():
    rng = np.random.default_rng(0)
    index, truth = FaissIndex(8), {}
    for start in range(0, 3500, 700):  # several batches: the store grows past its first capacity
        keys = np.arange(start, start + 700)
        vectors = rng.normal(size=(700, 8)).astype(np.float32)
        index.upsert(keys, vectors)
        truth.update(zip(keys.tolist(), vectors))
    replaced = rng.normal(size=(50, 8)).astype(np.float32) * 3  # larger norms: they should rise to the top
    index.upsert(np.arange(100, 150), replaced)
    truth.update(zip(range(100, 150), replaced))
    gone = np.array([100, 5, 2999, 1234, 77777])  # 77777 was never there
    index.remove(gone)
    for key in gone.tolist():
        truth.pop(key, None)
    assert len(index) == len(truth) == 3496 and index.exact
    for query in rng.normal(size=(20, 8)).astype(np.float32):
        scores, keys = index.search(query, 10)
        assert keys.tolist() == brute_force(truth, query, 10)
        assert np.allclose(scores, [truth[key] @ query for key in keys.tolist()], atol=1e-5)
    assert index.search(rng.normal(size=8), 5000)[1].size == 3496  # k past the size: everything, ranked


def test_past_its_limit_the_index_turns_approximate_and_still_finds_near_neighbours():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    index = FaissIndex(16, approximate_above=2000, nlist=16, nprobe=16)  # nprobe = nlist: every list searched
    index.upsert(np.arange(3000), vectors)
    assert not index.exact and len(index) == 3000
    index.remove(np.array([0]))
    assert len(index) == 2999
    query = vectors[10]
    assert index.search(query, 10)[1].tolist() == brute_force(dict(enumerate(vectors[1:], 1)), query, 10)
