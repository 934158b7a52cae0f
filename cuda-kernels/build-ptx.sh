#!/usr/bin/env bash
# Compiles every src/main/cuda/*.cu into the jar's resources (dev/infinityj/cuda/kernels/):
#   NAME.ptx     PTX for compute_80 (the driver JIT-compiles it for sm_80 and newer)
#   NAME.fatbin  SASS for sm_80, sm_86, sm_89, sm_90 plus compute_90 PTX (what the backend loads first)
#   NAME.ptxas.txt  ptxas -v for every architecture (registers, spills, shared memory per kernel)
#   kernels.list one module name per line;  BUILD-INFO  the nvcc version and every kernel entry point
# nvcc 13 writes PTX ISA 9.0, which needs an R580+ driver to JIT; the fatbin's SASS does not.
# Without nvcc the build still succeeds and says the CUDA kernels were skipped. Up-to-date outputs
# (newer than their .cu and every .cuh) are not rebuilt.
set -euo pipefail
src="$1"; out="$2"; nvcc="${3:-nvcc}"
mkdir -p "$out"
shopt -s nullglob
files=("$src"/*.cu)
headers=("$src"/*.cuh)
if ! command -v "$nvcc" >/dev/null 2>&1; then
  echo "[cuda-kernels] nvcc not found: CUDA kernels SKIPPED (the CUDA backend will report 'no CUDA kernels in this build')"
  echo "skipped: nvcc not found" > "$out/BUILD-INFO"
  : > "$out/kernels.list"
  exit 0
fi
ver=$("$nvcc" --version | tail -1)
newest_header=0
for h in "${headers[@]}"; do t=$(stat -c %Y "$h"); (( t > newest_header )) && newest_header=$t; done
flags=(-std=c++17 -O3 -I"$src")
built=0
: > "$out/kernels.list.tmp"
for f in "${files[@]}"; do
  name=$(basename "$f" .cu)
  echo "$name" >> "$out/kernels.list.tmp"
  src_t=$(stat -c %Y "$f"); (( newest_header > src_t )) && src_t=$newest_header
  if [[ -f "$out/$name.ptx" && -f "$out/$name.fatbin" && -f "$out/$name.ptxas.txt" && $(stat -c %Y "$out/$name.fatbin") -ge $src_t \
        && $(stat -c %Y "$out/$name.ptx") -ge $src_t && $(stat -c %Y "$out/$name.ptxas.txt") -ge $src_t ]]; then
    continue
  fi
  "$nvcc" -ptx "${flags[@]}" -arch=compute_80 "$f" -o "$out/$name.ptx"
  # -Xptxas -v: registers, spills and shared memory per kernel and architecture, kept as NAME.ptxas.txt
  # (KernelResourcesTest checks it: no spills, static shared memory within 48 KB)
  if ! "$nvcc" -fatbin "${flags[@]}" -Xptxas -v \
    -gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 \
    -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_90,code=compute_90 "$f" -o "$out/$name.fatbin" 2> "$out/$name.ptxas.tmp"; then
    cat "$out/$name.ptxas.tmp" >&2; rm -f "$out/$name.ptxas.tmp"; exit 1
  fi
  grep -v "warning\|^ *\^\|^$\|Remark" "$out/$name.ptxas.tmp" > "$out/$name.ptxas.txt" || true
  grep "warning" "$out/$name.ptxas.tmp" >&2 || true
  rm -f "$out/$name.ptxas.tmp"
  built=$((built + 1))
done
mv "$out/kernels.list.tmp" "$out/kernels.list"
{
  echo "nvcc: $ver"
  echo "targets: sm_80 sm_86 sm_89 sm_90 + compute_90 PTX (fatbin); compute_80 PTX (.ptx)"
  for f in "${files[@]}"; do
    name=$(basename "$f" .cu)
    echo "module $name: $(grep -o '\.entry [A-Za-z0-9_]*' "$out/$name.ptx" | cut -d' ' -f2 | tr '\n' ' ')"
  done
} > "$out/BUILD-INFO"
echo "[cuda-kernels] ${#files[@]} CUDA source(s) -> PTX + fatbin (sm_80/86/89/90 + PTX), $built rebuilt, with $ver"
