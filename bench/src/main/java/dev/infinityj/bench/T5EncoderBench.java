package dev.infinityj.bench;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.text.T5Config;
import dev.infinityj.text.T5Encoder;
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
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The Flan-T5-XL encoder (24 layers, d_model 2048, 32 heads × 64, d_ff 5120, vocab 32128) on the
 * CPU backend: seeded random bf16 weights generated in memory, a 32-token prompt (31 random ids +
 * EOS). Peer: a plain PyTorch T5 encoder takes ≈ 2.0 s for 32 tokens on this kind of 2-core machine
 * (../shared/notes/official-cpu-peer.md); target ≤ 0.7 s. {@code -p layers=1} gives a quick smoke run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 2, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 2)
@Measurement(iterations = 5)
public class T5EncoderBench {
    @Param({"24"})
    public int layers;

    @Param({"32"})
    public int tokens;

    private T5Encoder encoder;
    private int[] ids;

    @Setup(Level.Trial)
    public void setup() {
        T5Config cfg = T5Config.flanT5Xl().withLayers(layers);
        RandomWeightSource weights = RandomWeightSource.of("flan-t5-xl encoder", cfg.encoderWeightShapes(), DType.BF16, 20241122L);
        encoder = T5Encoder.fromWeights(cfg, weights, new CpuBackend());
        SplittableRandom r = new SplittableRandom(7);
        ids = new int[tokens];
        for (int i = 0; i < tokens - 1; i++) ids[i] = 3 + r.nextInt(31_997);
        ids[tokens - 1] = 1;   // EOS
    }

    @Benchmark
    public Tensor encode() {
        return encoder.encode(ids);
    }
}
