#!/usr/bin/env bash
# Measures the OpenBLAS sgemm peer on GemmBench's shapes. Fetches Debian's libopenblas0-pthread
# into $OPENBLAS_PEER_DIR (default $TMPDIR/infinityj-openblas; no system change), compiles openblas_sgemm.c against it, runs with 1 and 2 threads.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${OPENBLAS_PEER_DIR:-${TMPDIR:-/tmp}/infinityj-openblas}"
lib="$dir/root/usr/lib/x86_64-linux-gnu/openblas-pthread"
if [ ! -f "$lib/libopenblas.so.0" ]; then
  mkdir -p "$dir" && (cd "$dir" && apt-get download libopenblas0-pthread libgfortran5 2>/dev/null \
    && for d in *.deb; do dpkg -x "$d" root; done)
fi
gfortran_dir="$dir/root/usr/lib/x86_64-linux-gnu"
gcc -O2 -o "$dir/openblas_sgemm" "$here/openblas_sgemm.c" "$lib/libopenblas.so.0" \
  -Wl,-rpath,"$lib" -Wl,-rpath,"$gfortran_dir" -Wl,-rpath-link,"$gfortran_dir"
for t in ${THREADS:-1 2}; do
  echo "# OpenBLAS $(basename "$(readlink -f "$lib/libopenblas.so.0")"), OPENBLAS_NUM_THREADS=$t"
  LD_LIBRARY_PATH="$lib:$gfortran_dir" OPENBLAS_NUM_THREADS=$t "$dir/openblas_sgemm"
done
