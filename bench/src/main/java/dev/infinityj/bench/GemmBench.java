package dev.infinityj.bench;

import dev.infinityj.cpu.CpuThreads;
import dev.infinityj.cpu.Gemm;
import dev.infinityj.cpu.GemmB;
import dev.infinityj.cpu.Mat;
import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static dev.infinityj.tensor.Tensor.I16_LE;

/**
 * {@link Gemm} on the 2B transformer's Linear shapes: y[M,N] = x[M,K]·w[N,K]ᵀ, w in the PyTorch
 * [out, in] layout as F32 or BF16 (the same operation as bench/peer/openblas_sgemm.c, which
 * times cblas_sgemm with CblasTrans on B). M ∈ {1, 16, 144, 1024, 4096}; K×N ∈ {2048×6144 (qkv),
 * 2048×8192 (fc1), 8192×2048 (fc2), 2048×2048 (proj)}.
 *
 * <p>GFLOPS: the secondary result {@code gemm:gflop} (an @AuxCounters OPERATIONS counter that adds
 * 2·M·N·K/10⁹ per call) is reported in ops/s, i.e. directly in GFLOPS; the primary score is
 * calls/s. Several forks on purpose: roughly one JVM in four compiled the same 5×16 kernel to a
 * ~2× slower version on Zen 3 (toolchain probe §2), so look at the per-fork spread, not only the mean.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 3, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class GemmBench {

    @Param({"1", "16", "144", "1024", "4096"})
    public int m;

    /** K×N of the weight (w is [N, K]). */
    @Param({"2048x6144", "2048x8192", "8192x2048", "2048x2048"})
    public String kn;

    @Param({"BF16", "F32"})
    public String wtype;

    @Param({"1", "2"})
    public int threads;

    /** plain: the [N, K] weight as stored (PyTorch layout); packed: {@link PackedLinear} panels (what models use). */
    @Param({"packed", "plain"})
    public String layout;

    private Arena arena;
    private CpuThreads pool;
    private int k, n;
    private Mat x;
    private GemmB w;
    private MemorySegment y;


    @Setup(Level.Trial)
    public void setup() {
        String[] s = kn.split("x");
        k = Integer.parseInt(s[0]);
        n = Integer.parseInt(s[1]);
        DType dt = DType.valueOf(wtype);
        arena = Arena.ofShared();
        pool = new CpuThreads(threads);
        SplittableRandom r = new SplittableRandom(42);
        MemorySegment xs = arena.allocate(4L * m * k, 64), ws = arena.allocate((long) dt.byteSize() * n * k, 64);
        for (long i = 0; i < (long) m * k; i++) xs.setAtIndex(F32_LE, i, (float) (r.nextDouble() - 0.5));
        for (long i = 0; i < (long) n * k; i++) {
            float v = (float) ((r.nextDouble() - 0.5) * 0.05);
            if (dt == DType.F32) ws.setAtIndex(F32_LE, i, v);
            else ws.setAtIndex(I16_LE, i, DType.f32ToBf16(v));
        }
        y = arena.allocate(4L * m * n, 64);
        x = Mat.rowMajor(xs, 0, DType.F32, k);
        w = Mat.transposed(ws, 0, dt, k);
        if (layout.equals("packed")) {
            Tensor packed = PackedLinear.pack(pool, Tensor.of(dt, ws, n, k));
            w = PackedLinear.view(packed);
            keep = packed;
        }
    }

    private Tensor keep; // the packed weight's owner

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public MemorySegment gemm(GflopCounter f) {
        Gemm.multiply(pool, m, n, k, x, w, y, 0, n, null, null, false);
        f.gflop += 2.0 * m * n * k * 1e-9;
        return y;
    }
}
