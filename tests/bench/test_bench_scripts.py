"""The bench/ scripts run end to end at a tiny size (figures come from the full runs, not from tests)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_encoding_bench_prints_a_row_per_encoder():
    pytest.importorskip("sentence_transformers")
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "encoding.py"), "--mind", "/nonexistent", "--n", "16",
                          "--batch", "8", "--repeats", "1"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "| 8 |" in line]
    assert [r.split(" | ")[0] for r in rows] == ["| sentence-transformers encode (peer)", "| newsrec PLM.embed fp32",
                                                "| newsrec PLM.embed int8"]
    assert "| 1.0000 / 1.0000 |" in rows[1]  # same weights, same pooling: the same vectors as the peer


def test_retrieval_bench_compares_three_methods_with_recall():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "retrieval.py"), "--sizes", "500", "--queries", "12"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line.split(" | ") for line in run.stdout.splitlines() if line.startswith("| 500 |")]
    assert [r[1] for r in rows] == ["NumPy matmul + argpartition", "FAISS IndexFlatIP", "newsrec FaissIndex (exact)"]
    assert all(r[4].rstrip(" |") == "1.000" for r in rows)  # exact search at this size: every top-10 found
