package dev.infinityj.bench;

import dev.infinityj.cpu.CpuThreads;
import dev.infinityj.cpu.Gemm;
import dev.infinityj.cpu.GemmB;
import dev.infinityj.cpu.Mat;
import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static dev.infinityj.tensor.Tensor.I16_LE;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Same-process ratio against OpenBLAS: calls cblas_sgemm (through FFM) and {@link Gemm} (F32 and
 * BF16 [N, K] weights, and the BF16 weight packed as the models use it) alternately on the same data and prints the best GFLOPS of each and the ratios.
 * Interleaving makes the ratio robust to background load, which JMH runs and the C peer
 * (bench/peer) measured one after the other are not. Not a JMH benchmark; a plain main:
 *
 * <pre>
 * bench/peer/run-openblas-peer.sh   # once: fetches libopenblas0-pthread into ${TMPDIR:-/tmp}/infinityj-openblas
 * D=${TMPDIR:-/tmp}/infinityj-openblas/root/usr/lib/x86_64-linux-gnu
 * LD_LIBRARY_PATH=$D/openblas-pthread:$D java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *   -cp bench/target/benchmarks.jar dev.infinityj.bench.GemmVsOpenBlas $D/openblas-pthread/libopenblas.so.0 2 \
 *   1024x2048x6144 1024x2048x8192 1024x8192x2048 1024x2048x2048 4096x2048x2048
 * </pre>
 * Arguments: library path, threads, then MxKxN shapes (y = x·wᵀ, w [N,K]).
 */
public final class GemmVsOpenBlas {
    public static void main(String[] args) throws Throwable {
        if (args.length < 3) {
            System.err.println("usage: GemmVsOpenBlas <libopenblas.so> <threads> MxKxN...");
            System.exit(2);
        }
        SymbolLookup lib = SymbolLookup.libraryLookup(Path.of(args[0]), Arena.global());
        int threads = Integer.parseInt(args[1]);
        Linker linker = Linker.nativeLinker();
        MethodHandle sgemm = linker.downcallHandle(lib.find("cblas_sgemm").orElseThrow(), FunctionDescriptor.ofVoid(
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT));
        linker.downcallHandle(lib.find("openblas_set_num_threads").orElseThrow(), FunctionDescriptor.ofVoid(JAVA_INT))
                .invokeExact(threads);
        try (CpuThreads pool = new CpuThreads(threads)) {
            System.out.println("threads,M,K,N,openblas_gflops,f32_gflops,f32_ratio,bf16_gflops,bf16_ratio,packed_bf16_gflops,packed_bf16_ratio");
            for (int ai = 2; ai < args.length; ai++) {
                String[] s = args[ai].split("x");
                int m = Integer.parseInt(s[0]), k = Integer.parseInt(s[1]), n = Integer.parseInt(s[2]);
                try (Arena ar = Arena.ofShared()) {
                    MemorySegment x = ar.allocate(4L * m * k, 64), w = ar.allocate(4L * n * k, 64),
                            wb = ar.allocate(2L * n * k, 64), c = ar.allocate(4L * m * n, 64);
                    SplittableRandom r = new SplittableRandom(1);
                    for (long i = 0; i < (long) m * k; i++) x.setAtIndex(F32_LE, i, (float) (r.nextDouble() - 0.5));
                    for (long i = 0; i < (long) n * k; i++) {
                        float v = (float) ((r.nextDouble() - 0.5) * 0.05);
                        w.setAtIndex(F32_LE, i, v);
                        wb.setAtIndex(I16_LE, i, DType.f32ToBf16(v));
                    }
                    Mat a = Mat.rowMajor(x, 0, DType.F32, k), bf = Mat.transposed(w, 0, DType.F32, k), bb = Mat.transposed(wb, 0, DType.BF16, k);
                    // the form the models run: the BF16 weight packed once (PackedLinear), as after convert or linearWeight
                    Tensor packedW = n % PackedLinear.PANEL == 0 ? PackedLinear.pack(pool, Tensor.of(DType.BF16, wb, n, k)) : null;
                    GemmB bp = packedW == null ? null : PackedLinear.view(packedW);
                    double flop = 2.0 * m * n * k, blas = 0, f32 = 0, bf16 = 0, packed = 0;
                    long start = System.nanoTime();
                    for (int rep = 0; rep < 50 && System.nanoTime() - start < 30e9; rep++) {
                        long t = System.nanoTime();
                        sgemm.invokeExact(101, 111, 112, m, n, k, 1f, x, k, w, k, 0f, c, n);   // row-major, x·wᵀ
                        blas = Math.max(blas, flop / (System.nanoTime() - t));
                        t = System.nanoTime();
                        Gemm.multiply(pool, m, n, k, a, bf, c, 0, n, null, null, false);
                        f32 = Math.max(f32, flop / (System.nanoTime() - t));
                        t = System.nanoTime();
                        Gemm.multiply(pool, m, n, k, a, bb, c, 0, n, null, null, false);
                        bf16 = Math.max(bf16, flop / (System.nanoTime() - t));
                        if (bp != null) {
                            t = System.nanoTime();
                            Gemm.multiply(pool, m, n, k, a, bp, c, 0, n, null, null, false);
                            packed = Math.max(packed, flop / (System.nanoTime() - t));
                        }
                    }
                    System.out.printf("%d,%d,%d,%d,%.1f,%.1f,%.2f,%.1f,%.2f,%.1f,%.2f%n", threads, m, k, n, blas, f32, f32 / blas, bf16, bf16 / blas,
                            packed, packed / blas);
                }
            }
        }
    }
}
