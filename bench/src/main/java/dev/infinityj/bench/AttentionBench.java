package dev.infinityj.bench;

import dev.infinityj.backend.CpuBackend;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * CpuBackend.attention (the FlashAttention kernel) on Infinity's shapes: 16 heads × D 128, the
 * 2B 1M schedule's last scale (4096 queries against 10521 cached keys) and a small scale
 * (16 queries × 521 keys). Cosine attention passes scale 1; q/k/v are random in [−1, 1).
 * The {@code attention:gflop} secondary result ({@link GflopCounter}) counts 4·Lq·Lk·D·H flops per call (Q·Kᵀ and P·V) and is
 * reported per second, i.e. GFLOPS. {@code -p shape=16x521} for a quick smoke run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 3, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 2)
@Measurement(iterations = 5)
public class AttentionBench {
    @Param({"4096x10521", "16x521"})
    public String shape;

    @Param({"16"})
    public int heads;

    @Param({"128"})
    public int headDim;

    private CpuBackend backend;
    private Tensor q, k, v;
    private double gflopPerCall;

    @Setup(Level.Trial)
    public void setup() {
        String[] s = shape.split("x");
        int lq = Integer.parseInt(s[0]), lk = Integer.parseInt(s[1]);
        backend = new CpuBackend();
        q = random(1, lq, heads, headDim);
        k = random(2, lk, heads, headDim);
        v = random(3, lk, heads, headDim);
        gflopPerCall = 4.0 * lq * lk * headDim * heads / 1e9;
    }

    private static Tensor random(long seed, long... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.ofFloats(a, shape);
    }

    /** Secondary result: GFLOP done, reported per second (= GFLOPS). */

    @Benchmark
    public Tensor attention(GflopCounter flops) {
        Tensor o = backend.attention(q, k, v, 1f);
        flops.gflop += gflopPerCall;
        return o;
    }

    @TearDown(Level.Trial)
    public void tearDown() { /* shared pool: nothing to close */ }
}
