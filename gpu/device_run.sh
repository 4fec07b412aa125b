#!/bin/bash
# The GPU check on a lent GPU machine, in one call: what ./studio gpu-pack put in
# .gpu-carry/ (nlohmann-json's headers, the Fashion-MNIST files, the benchmark peer's wheels)
# is put in place, then ./studio gpu-check builds, checks and benchmarks; the log and the
# benchmark's tables go to $OUT (or ./gpu-check-out). Run from the repository root:
#   bash gpu/device_run.sh
set -u
export PYTHONUNBUFFERED=1
start=$(date +%s)
stamp() { echo "[+$(( $(date +%s) - start ))s] $*"; }
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
log="$OUT/gpu-check.log"
{
  stamp "device"; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))'
  nproc; lscpu | grep "Model name"
  cp -r .gpu-carry/include/nlohmann /usr/include/ && mkdir -p /usr/share/cmake && cp -r .gpu-carry/cmake/nlohmann_json /usr/share/cmake/
  if ls .gpu-carry/whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu-carry/whl/*.whl && export PYTHONPATH=/tmp/site
    python3 -c 'import lightly; from lightly.loss import NTXentLoss; print("lightly", lightly.__version__)' || export STUDIO_GPU_BENCH_ARGS="--quick --no-peer"
  else
    export STUDIO_GPU_BENCH_ARGS="--quick --no-peer"
  fi
  export STUDIO_FASHION_MNIST_DIR="$PWD/.gpu-carry/fashion-mnist"
  stamp "gpu-check"
  timeout 540 ./studio gpu-check
  echo "gpu-check rc=$?"
  stamp "done"
} 2>&1 | tee "$log"
cp build-gpu/bench-cuda.md build-gpu/bench-cuda.json build-gpu/methods-cuda.md build-gpu/methods-cuda.json "$OUT/" 2>/dev/null
grep -E "^\[[0-9]+/[0-9]+\]" "$log" | tail -3
exit 0
