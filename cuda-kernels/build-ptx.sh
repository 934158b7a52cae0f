#!/usr/bin/env bash
# Compiles every src/main/cuda/*.cu to PTX (compute_80 PTX, JIT-compiled by the driver for sm_80..sm_90)
# plus a fatbin with SASS for sm_80/86/89/90 and PTX, into the jar's resources.
# Without nvcc the build still succeeds and says the CUDA kernels were skipped.
set -euo pipefail
src="$1"; out="$2"; nvcc="${3:-nvcc}"
mkdir -p "$out"
shopt -s nullglob
files=("$src"/*.cu)
if ! command -v "$nvcc" >/dev/null 2>&1; then
  echo "[cuda-kernels] nvcc not found: CUDA kernels skipped (the CUDA backend will report 'no kernels in this build')"
  echo "skipped: nvcc not found" > "$out/BUILD-INFO"
  exit 0
fi
ver=$("$nvcc" --version | tail -1)
: > "$out/BUILD-INFO"
echo "nvcc: $ver" >> "$out/BUILD-INFO"
for f in "${files[@]}"; do
  name=$(basename "$f" .cu)
  "$nvcc" -ptx -std=c++17 -O3 -arch=compute_80 "$f" -o "$out/$name.ptx"
  "$nvcc" -fatbin -std=c++17 -O3 \
    -gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 \
    -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_90,code=compute_90 "$f" -o "$out/$name.fatbin"
  echo "kernel: $name" >> "$out/BUILD-INFO"
done
echo "[cuda-kernels] compiled ${#files[@]} CUDA source(s) to PTX + fatbin with $ver"
