#!/usr/bin/env bash
# Runs infinityj's CUDA tests on a GPU machine that has an NVIDIA driver but no Java and no Maven.
#
#   On the build machine (JDK 25, Maven, nvcc):
#     cuda-kernels/gpu-check.sh kit [DIR]      # default DIR = target/gpu-kit (about 50 MB)
#   Carry DIR to the GPU machine (e.g. the device tool's carry: ["target/gpu-kit"]), then there:
#     cuda-kernels/gpu-check.sh run [DIR]      # exit status 0 = every test passed
#
# The kit: a jlink'd Java runtime (java.base, java.logging, jdk.zipfs, jdk.incubator.vector; the flags the tests
# need are baked in with --add-options), the engine/bindings/cuda-kernels jars, their test classes,
# and JUnit's ConsoleLauncher standalone jar (org.junit.platform:junit-platform-console-standalone,
# from ~/.m2 or Maven Central). 'run' executes the CUDA and bindings tests, the GPU timing harnesses
# (bench/.../Cuda*Bench: ms/call, GFLOPS, and each output checked against the fused kernel's; extra
# arguments through BENCH_ARGS, e.g. BENCH_ARGS="iters=20"), then, where NVIDIA's
# compute-sanitizer is installed, the GPU tests again under memcheck (device pool off, so every tensor is
# its own driver allocation and an access past its end is seen), racecheck-free kernels being
# checked for out-of-bounds and misaligned accesses. Between the harnesses and memcheck, the pipeline
# bench: `infinityj bench --device cuda --preset 2b --random-weights --pn 1M` with FUSED and with MMA
# attention (PIPELINE_PN, PIPELINE_REPS, PIPELINE_TIMEOUT; PIPELINE_PN=0 skips it).
#
# libcuda comes from the machine's driver; cuBLAS is optional and found in PyTorch's pip layout
# (site-packages/nvidia/*/lib) or via INFINITYJ_CUDA_LIB=dir1:dir2.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cmd="${1:-}"; dir="${2:-$here/target/gpu-kit}"
junit_version=1.14.4
console="junit-platform-console-standalone-$junit_version.jar"

case "$cmd" in
kit)
  : "${JAVA_HOME:?set JAVA_HOME to a JDK 25}"
  (cd "$here" && ./mvnw -B -ntp -o -q -pl engine,bench -am package -DskipTests)
  rm -rf "$dir"; mkdir -p "$dir/lib"
  cp "$here"/bindings/target/infinityj-bindings-*.jar "$here"/cuda-kernels/target/infinityj-cuda-kernels-*.jar \
     "$here"/engine/target/infinityj-engine-*.jar "$dir/lib/"
  "$JAVA_HOME/bin/jar" cf "$dir/lib/engine-tests.jar" -C "$here/engine/target/test-classes" .
  "$JAVA_HOME/bin/jar" cf "$dir/lib/bindings-tests.jar" -C "$here/bindings/target/test-classes" .
  # the GPU timing harnesses (plain mains that need only the engine; not the JMH uber-jar)
  (cd "$here/bench/target/classes" && "$JAVA_HOME/bin/jar" cf "$dir/lib/cuda-bench.jar" dev/infinityj/bench/Cuda*.class \
     && ls dev/infinityj/bench/Cuda*Bench.class | sed 's/\.class$//; s#/#.#g' > "$dir/benches.list")
  jar_in_m2="$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/$junit_version/$console"
  if [[ ! -f "$jar_in_m2" ]]; then
    (cd "$here" && ./mvnw -B -ntp -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:$junit_version -Dtransitive=false)
  fi
  cp "$jar_in_m2" "$dir/lib/"
  # the CLI (shaded: engine + picocli) for the pipeline bench; kept out of lib/ so the test class path stays as it was
  (cd "$here" && ./mvnw -B -ntp -o -q -pl cli -am package -DskipTests)
  cp "$here/cli/target/infinityj.jar" "$dir/infinityj.jar"
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.zipfs,jdk.incubator.vector --strip-debug --no-header-files \
    --no-man-pages --compress=zip-9 --add-options="--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED" \
    --output "$dir/rt"
  cp "$0" "$dir/gpu-check.sh"
  echo "[gpu-check] kit in $dir ($(du -sh "$dir" | cut -f1)); on the GPU machine: $dir/gpu-check.sh run $dir"
  ;;
run)
  java="$dir/rt/bin/java"
  [[ -x "$java" ]] || { echo "[gpu-check] no runtime at $dir/rt: build the kit first ('gpu-check.sh kit')"; exit 2; }
  cp_list=$(ls "$dir"/lib/*.jar | grep -v "$console" | tr '\n' ':')
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader || echo "[gpu-check] nvidia-smi not found"
  status=0
  "$java" -Xmx8g -jar "$dir/lib/$console" execute --class-path "$cp_list" \
    --select-package dev.infinityj.cuda --select-package dev.infinityj.bindings.cuda \
    --details=tree --disable-banner || status=$?
  # timing harnesses: they compare each implementation's output with the fused kernel's and print
  # ms/call and GFLOPS; a failure here fails the run, the numbers themselves are for the log
  for main in $(cat "$dir/benches.list"); do
    echo "[gpu-check] $main ${BENCH_ARGS:-}"
    "$java" -Xmx16g -cp "$cp_list" "$main" ${BENCH_ARGS:-} || status=$?
  done
  # issue 8's end-to-end figures: 2B shapes, random weights, 1024x1024 (13 scales), CFG 3 on every
  # scale: per-scale ms, T5 ms, VAE ms, total, and peak GPU memory; once with FUSED attention, once with
  # MMA (tensor cores, BF16 KV cache). PIPELINE_PN=0 skips it.
  if [[ "${PIPELINE_PN:-1M}" != 0 ]]; then
    for att in fused mma; do
      echo "[gpu-check] infinityj bench --device cuda --preset 2b --random-weights --pn ${PIPELINE_PN:-1M} (attention $att)"
      timeout "${PIPELINE_TIMEOUT:-240}" "$java" -Xmx24g -XX:MaxDirectMemorySize=64g -Dinfinityj.cuda.attention=$att \
        -jar "$dir/infinityj.jar" bench --device cuda --preset 2b --random-weights --pn "${PIPELINE_PN:-1M}" \
        --warmup 1 --reps "${PIPELINE_REPS:-3}" || status=$?
    done
  fi
  if command -v compute-sanitizer >/dev/null; then
    echo "[gpu-check] compute-sanitizer memcheck over the GPU tests"
    compute-sanitizer --tool memcheck --leak-check full --error-exitcode 86 \
      "$java" -Xmx8g -Dinfinityj.cuda.pool=off -jar "$dir/lib/$console" execute --class-path "$cp_list" \
      --select-class dev.infinityj.cuda.CudaBackendGpuTest --details=summary --disable-banner || status=$?
  else
    echo "[gpu-check] compute-sanitizer not installed here: memcheck NOT run"
  fi
  exit $status
  ;;
*)
  echo "usage: gpu-check.sh kit [DIR]   (build machine)  |  gpu-check.sh run [DIR]   (GPU machine)"; exit 2 ;;
esac
