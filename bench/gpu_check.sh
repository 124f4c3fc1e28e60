#!/usr/bin/env bash
# One prepared check for a GPU machine that already has CuPy, PyTorch, Numba, pytest and
# pytest-benchmark, and no internet. Installs nothing; about 80 seconds on an H200 (each step
# has a time limit, 530 s in all).
#
#   bash bench/gpu_check.sh OUTDIR
#
# Writes to OUTDIR: env.txt (GPU, versions), tests-cupy.txt (the test suite on the cupy
# backend), bench-gpu.json / bench-gpu.md (the GPU benchmarks), profile-gpu.txt (epoch and
# update times against the cuBLAS floor, with and without CUDA graphs, and a profile) and
# summary.txt (exit codes and wall times).
set -uo pipefail
out=${1:?usage: bash bench/gpu_check.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

step() {  # step NAME SECONDS COMMAND... : run with a time limit, log rc and wall time
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  echo "$name: rc=$rc, $((SECONDS - start)) s" | tee -a "$out/summary.txt"
}

: > "$out/summary.txt"
step env 60 bash -c "nvidia-smi; $py bench/env_report.py"
step tests-cupy 150 "$py" -m pytest tests -q -k cupy -p no:cacheprovider --tb=short -rfE
# every GPU row of every shape: xprbm cupy (CUDA graph and launch by launch), the cuBLAS
# floor and the PyTorch peers on CUDA
step bench-gpu 200 "$py" -m pytest bench/bench_pcd.py -q -p no:cacheprovider \
  --benchmark-enable --benchmark-json="$out/bench-gpu.json" -k "cupy or cuda"
step profile-gpu 120 "$py" bench/profile_gpu.py
tail -n 40 "$out/tests-cupy.txt"
cat "$out/profile-gpu.txt"
if [ -s "$out/bench-gpu.json" ]; then
  "$py" bench/report.py "$out/bench-gpu.json" > "$out/bench-gpu.md" 2>&1
  cat "$out/bench-gpu.md"
else
  tail -n 30 "$out/bench-gpu.txt"
fi
cat "$out/summary.txt"
