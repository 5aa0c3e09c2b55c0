#!/usr/bin/env bash
# The study's GPU check on a bare CUDA machine with no network (as lent through the device tool):
#
#   bash bench/gpu_smoke.sh STAGE OUT
#
# STAGE holds the parts made by bench/gpu_payload.sh (they travel in several transfers); OUT receives
# gpu-smoke.tar.gz (records, executed notebooks, figures, report, 2:4 bench, timings) and the logs.
# It installs the carried wheels beside the machine's own torch, converts the GGUF, runs the gpu-smoke profile
# runs bench/sparse24_cuda.py (short), then
# the gpu-smoke profile with --keep-going (every cell that can run does; failures are listed at the end).
set -uo pipefail
STAGE=${1:?stage folder}
OUT=${2:?output folder}
RUN_LIMIT_S=${RUN_LIMIT_S:-360}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_smoke.log") 2>&1
step() { echo "== $(date -u +%T) $*"; }

step "payload check"
(cd "$STAGE" && sha256sum -c --quiet SHA256SUMS) || { echo "gpu_smoke: payload parts missing or damaged in $STAGE"; exit 3; }
cat "$STAGE"/part-* | tar -xz -C /tmp
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site /tmp/payload/whl/*.whl || exit 4
cp -r /tmp/payload/site/* /tmp/site/
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit --format=csv
python3 -c "import sys, torch, transformers, peft, trl, bitsandbytes, codecarbon, papermill
print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))
print('transformers', transformers.__version__, 'peft', peft.__version__, 'trl', trl.__version__,
      'bitsandbytes', bitsandbytes.__version__, 'codecarbon', codecarbon.__version__)" || exit 5
git rev-parse HEAD 2>/dev/null || echo "no git metadata here"

step "GGUF -> safetensors"
python3 -m helpers.models || exit 6

step "2:4 semi-structured vs dense"
mkdir -p runs/gpu-smoke
timeout 120 python3 bench/sparse24_cuda.py --out runs/gpu-smoke/sparse24_cuda.json
echo "bench exit $?"

step "run_all --profile gpu-smoke --keep-going (limit ${RUN_LIMIT_S} s)"
timeout "$RUN_LIMIT_S" python3 run_all.py --profile gpu-smoke --keep-going
echo "run_all exit $?"

step "pack"
tar -czf "$OUT/gpu-smoke.tar.gz" results/gpu-smoke figures/gpu-smoke \
    $(cd . && ls -d runs/gpu-smoke/*.ipynb runs/gpu-smoke/*.json runs/gpu-smoke/report runs/gpu-smoke/done 2>/dev/null)
ls -la "$OUT"
step "done"
