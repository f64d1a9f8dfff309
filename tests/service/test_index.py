"""The shared index: exact top-k by the model's score [n, g(pop)] over the catalogue's own rows,
through writes and new rows (the fp16 copy only proposes; fp32 decides); past the snapshot's
size, IVF lists plus the most popular rows."""

import numpy as np
import pytest

from newsrec.encoders.news_table import NewsTable
from newsrec.service.index import HalfCopy, Items, SharedIndex
from newsrec.service.ivf_lists import IvfLists, list_order

DIM = 8


def items_of(vectors: np.ndarray, popularity: np.ndarray, spare: int = 10) -> Items:
    """Items over a buffer laid out like a snapshot's: row 0 padding, the rows, spare room."""
    buffer = np.zeros((len(vectors) + 1 + spare, vectors.shape[1]), np.float32)
    buffer[1 : len(vectors) + 1] = vectors
    terms = np.zeros(len(buffer), np.float32)
    terms[1 : len(vectors) + 1] = popularity
    return Items(NewsTable.over([f"n{i}" for i in range(len(vectors))], buffer), terms)


def brute_force(items: Items, query: np.ndarray, k: int) -> list[int]:
    n = len(items)
    scores = items.vectors()[1:] @ query[:-1] + query[-1] * items.popularity[1 : n + 1]
    return (1 + np.argsort(-scores, kind="stable")[:k]).tolist()


def test_exact_search_ranks_by_content_and_popularity_through_writes_and_new_rows():
    rng = np.random.default_rng(0)
    items = items_of(rng.normal(size=(3000, DIM)).astype(np.float32), rng.normal(size=3000).astype(np.float32))
    index = SharedIndex(items)
    assert index.exact and len(index) == 3000
    for query in rng.normal(size=(10, DIM + 1)).astype(np.float32):
        scores, rows = index.search(query, 10)
        assert rows.tolist() == brute_force(items, query, 10)
        assert np.allclose(scores, items.vectors()[rows] @ query[:-1] + query[-1] * items.popularity[rows], atol=1e-4)
    # replaced vectors, a popularity jump and news past the first capacity: all found at once
    items.table.upsert(["n5", *[f"new{i}" for i in range(40)]], 3 * rng.normal(size=(41, DIM)).astype(np.float32))
    items.moved.add(items.table.row["n5"])  # as the catalogue marks a replaced row
    items.popularity = np.concatenate([items.popularity, np.zeros(100, np.float32)])
    items.popularity[items.table.row["n9"]] = 50.0
    index.write(np.array(items.table.rows(["n5", "n9"])))
    query = np.append(rng.normal(size=DIM), 1.0).astype(np.float32)
    rows = index.search(query, 10)[1].tolist()
    assert rows == brute_force(items, query, 10) and rows[0] == items.table.row["n9"]
    assert index.search(query, 5000)[1].size == 3040  # k past the size: everything, ranked


def test_past_the_snapshot_size_lists_and_popular_rows_find_what_exact_search_finds():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, DIM))
    vectors = centres[rng.integers(0, 20, 4000)] + 0.3 * rng.normal(size=(4000, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    padded = np.vstack([np.zeros((1, DIM), np.float32), vectors])
    order, centroids, starts = list_order(padded, 4000)
    popularity = np.zeros(4000, np.float32)
    popularity[rng.choice(4000, 30, replace=False)] = 5.0  # a few items far more popular than the rest
    items = items_of(vectors[order], popularity[order])
    items.lists, items.listed = IvfLists(centroids, starts), 4000
    every_list, one_list = SharedIndex(items, probe_share=1.0), SharedIndex(items, probe_share=1e-9)
    for query in np.hstack([vectors[:20], np.ones((20, 1), np.float32)]):
        assert every_list.search(query, 10)[1].tolist() == brute_force(items, query, 10)
    # weak interests: the popularity term ranks, and the popular rows hold it whatever list is probed
    weak = np.append(0.01 * vectors[0], 1.0).astype(np.float32)
    assert one_list.search(weak, 10)[1].tolist() == brute_force(items, weak, 10)
    # news posted after the snapshot are in no list: scanned exactly
    items.table.upsert(["late"], 10 * vectors[:1])
    items.popularity = np.concatenate([items.popularity, np.zeros(10, np.float32)])
    one_list.write(np.array([len(items)]))
    assert one_list.search(np.append(vectors[0], 1.0), 1)[1].tolist() == [items.table.row["late"]]


def test_the_fp16_copy_proposes_and_the_fp32_rows_decide():
    """Two rows whose fp16 roundings rank the other way round than their fp32 values: the exact
    search must still put the fp32 winner first, and the copy's error must stay within its bound."""
    winner = np.full(DIM, 1.000487, np.float32)  # rounds down to 1.0 in fp16
    loser = np.full(DIM, 1.0004, np.float32)  # rounds down to 1.0 ...
    loser[0] = 1.000489  # ... but this one up to 1.000977: the loser's fp16 score is the larger
    rng = np.random.default_rng(3)
    vectors = np.vstack([0.1 * rng.normal(size=(500, DIM)), loser, winner]).astype(np.float32)
    copy = HalfCopy.of(vectors)
    if copy is None:
        pytest.skip("this torch has no fbgemm: the exact search scans the fp32 rows")
    query = np.ones(DIM, np.float32)
    rough = copy.scores(query[None])[0]
    assert rough[501] < rough[500] and vectors[501] @ query > vectors[500] @ query
    assert np.all(np.abs(rough - vectors @ query) <= copy.slack(query))
    items = items_of(vectors, np.zeros(502, np.float32))
    index = SharedIndex(items)
    assert index.search(np.append(query, 0.0), 1)[1].tolist() == [502]
    assert index._copy is not None  # it was the copy's path that answered
    # the best row replaced by nothing after the copy was made: its old rough score must not set
    # the bar that the other rows have to pass
    vectors[501] = 3.0
    items = items_of(vectors, np.zeros(502, np.float32))
    index = SharedIndex(items)
    assert index.search(np.append(query, 0.0), 1)[1].tolist() == [502]
    items.table.upsert(["n501"], np.zeros((1, DIM), np.float32))
    items.moved.add(502)
    assert index.search(np.append(query, 0.0), 1)[1].tolist() == [501]
