package dev.infinityj.bench;

import dev.infinityj.backend.CpuBackend;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * CpuBackend.conv2d on BSQ-VAE layers: a 3×3 pad-1 conv C→C at side×side ("128x256": the
 * 128-channel level of a 256² decode; "512x64", "256x128": the 512/256-channel levels; "512x16",
 * "512x32": the small levels) and the 1×1 shortcut, by each {@code algo} (AUTO, WINOGRAD,
 * IMPLICIT_GEMM; Winograd applies to 3×3 only). Reports {@code conv:gflop} in ops/s = effective
 * GFLOPS of the direct convolution (2·O·C·kh·kw·H·W per call), so Winograd's gain shows directly.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 3, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class ConvBench {

    /** channels x side. */
    @Param({"128x256", "512x64"})
    public String layer;

    @Param({"AUTO"})
    public String algo;

    @Param({"3", "1"})
    public int kernel;

    @Param({"1", "2"})
    public int threads;

    private CpuBackend be;
    private Tensor x, w, b;
    private double gflopPerCall;


    @Setup(Level.Trial)
    public void setup() {
        String[] s = layer.split("x");
        int c = Integer.parseInt(s[0]), side = Integer.parseInt(s[1]);
        be = new CpuBackend(threads).convAlgorithm(CpuBackend.ConvAlgorithm.valueOf(algo));
        SplittableRandom r = new SplittableRandom(7);
        x = random(r, c, side, side);
        w = random(r, c, c, kernel, kernel);
        b = random(r, c);
        gflopPerCall = 2.0 * c * c * kernel * kernel * side * side * 1e-9;
    }

    private static Tensor random(SplittableRandom r, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() - 0.5);
        return Tensor.ofFloats(v, shape).to(DType.F32);
    }

    @TearDown(Level.Trial)
    public void tearDown() { be.close(); }

    @Benchmark
    public Tensor conv(GflopCounter f) {
        Tensor y = be.conv2d(x, w, b, 1, kernel / 2);
        f.gflop += gflopPerCall;
        return y;
    }
}
