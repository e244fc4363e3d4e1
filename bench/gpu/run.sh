#!/usr/bin/env bash
# OpenCL benchmark of one Qwen3-30B-A3B MoE layer (Q4_K_M: q4_K gate/up, q6_K down) at 1, 8, 32 and 512 tokens on
# the first GPU (or FERRUM_OPENCL_DEVICE): prints ms/layer, GB/s and the fraction of the device's peak memory
# bandwidth (FERRUM_PEAK_GBS, else a table of known GPUs), GFLOP/s, and the NMSE against the CPU executor on the same
# input. Finishes in well under 10 minutes on a GPU machine (the CPU check at 512 tokens takes seconds on 16 cores).
#
#   bench/gpu/run.sh                      # builds with the .NET 10 SDK, then runs
#   bench/gpu/run.sh path/to/ferrum-opencl-bench   # runs a self-contained binary (no SDK on the GPU machine)
#
# Publish the self-contained binary on a machine with the SDK (linux-x64):
#   dotnet publish bench/gpu/OpenCLBench -c Release -r linux-x64 --self-contained -o artifacts/opencl-bench
# then copy artifacts/opencl-bench/ to the GPU machine and pass artifacts/opencl-bench/ferrum-opencl-bench.
# The GPU machine needs an OpenCL driver (NVIDIA's ships libOpenCL.so.1 and an ICD).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-}
if [ -z "$bin" ]; then
  command -v dotnet >/dev/null || { echo "run.sh: no .NET SDK here; pass a published ferrum-opencl-bench (see the header of this script)" >&2; exit 2; }
  dotnet publish bench/gpu/OpenCLBench -c Release -r linux-x64 --self-contained -o artifacts/opencl-bench -nologo -v q
  bin=artifacts/opencl-bench/ferrum-opencl-bench
fi
[ -x "$bin" ] || { echo "run.sh: $bin is not an executable" >&2; exit 2; }
args=(--tokens 1,8,32,512 --seconds "${FERRUM_BENCH_SECONDS:-3}")
[ -n "${FERRUM_OPENCL_DEVICE:-}" ] && args+=(--device "$FERRUM_OPENCL_DEVICE")
[ -n "${FERRUM_PEAK_GBS:-}" ] && args+=(--peak-gbs "$FERRUM_PEAK_GBS")
timeout 480 "$bin" "${args[@]}"
