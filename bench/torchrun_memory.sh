#!/usr/bin/env bash
# Peak memory of each process of a data-parallel training run (torchrun, CPU, gloo).
#
#   bash bench/torchrun_memory.sh WORLD [PROCESSES] [CODE]
#
# WORLD: a folder with news.tsv, train/, dev/ and embeddings.sqlite (a bench/scale.py world,
# e.g. runs/scale/x100, whose cache already holds its news); PROCESSES: default 2; CODE: a
# checkout whose newsrec to run (default: this one), to compare two commits on the same world.
# Trains 1 epoch (validation on dev/ included) with one thread per process, each process under
# /usr/bin/time -v, and prints every process's peak RSS and the run's wall time. The log and the
# model go to ${OUT:-/tmp/torchrun-memory}.
set -euo pipefail
WORLD=$(realpath "$1")
PROCESSES=${2:-2}
CODE=$(realpath "${3:-$(dirname "$0")/..}")
OUT=${OUT:-/tmp/torchrun-memory}
PYTHON="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"  # not realpath: that would leave the venv
rm -rf "$OUT" && mkdir -p "$OUT"
echo "newsrec from $CODE ($(git -C "$CODE" rev-parse --short HEAD)), $PROCESSES processes, $(nproc) cores," \
  "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
started=$(date +%s)
cd "$CODE"  # python -m runs the newsrec found here first
OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 "$PYTHON" -m torch.distributed.run --nproc_per_node="$PROCESSES" \
  --master_port=$((29500 + RANDOM % 1000)) --no-python \
  /usr/bin/time -v "$PYTHON" -m newsrec.cli.main train --news "$WORLD/news.tsv" --behaviors "$WORLD/train" \
  --valid "$WORLD/dev" --epochs 1 --cache "$WORLD/embeddings.sqlite" --out "$OUT/model" >"$OUT/train.log" 2>&1 ||
  { tail -20 "$OUT/train.log"; exit 1; }
echo "wall $(($(date +%s) - started)) s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E ": [0-9.]+ s \(peak RSS" "$OUT/train.log" | sed 's/^.*INFO //'  # each stage, in each process
grep "Maximum resident set size" "$OUT/train.log" | awk '{printf "process peak RSS: %.0f MiB\n", $6 / 1024}'
