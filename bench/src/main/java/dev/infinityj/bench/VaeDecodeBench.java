package dev.infinityj.bench;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.vae.VaeConfig;
import dev.infinityj.vae.VaeDecoder;
import dev.infinityj.vae.VaeEncoder;
import dev.infinityj.vae.VaeKeys;
import dev.infinityj.vae.VaeWeights;
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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * BSQ-VAE on the CPU backend with the real d32 shapes (base 128, ch_mult [1,2,4,4,4], patch 16)
 * and random weights: decode of a 16×16 latent (256² image) and a 64×64 latent (1024² image),
 * and the encoder at 256². Single-shot times (one decode is seconds). Peak resident memory of
 * the fork (VmHWM) is printed at tear-down, and the bytes of cached Winograd weights; the official torch 1.13 + OpenBLAS decode of a 256²
 * image takes about 5.3 s on this kind of 2-core machine (issue 4).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx6g"})
@State(Scope.Benchmark)
public class VaeDecodeBench {
    /** Latent side: 16 → 256² output, 64 → 1024² output. */
    @Param({"16", "64"})
    public int latent;

    /** d32: the real shapes (base 128); tiny: base 24 as in the fixtures, for smoke runs of the harness. */
    @Param({"d32"})
    public String shapes;

    /** CpuBackend.ConvAlgorithm for the 3×3 convolutions: AUTO (Winograd where it pays), WINOGRAD, IMPLICIT_GEMM. */
    @Param({"AUTO"})
    public String algo;

    private CpuBackend be;
    private VaeDecoder decoder;
    private VaeEncoder encoder;
    private Tensor z, image;

    @Setup(Level.Trial)
    public void setup() {
        be = new CpuBackend().convAlgorithm(CpuBackend.ConvAlgorithm.valueOf(algo));
        VaeConfig cfg = shapes.equals("tiny")
                ? new VaeConfig(32, 24, new int[] {1, 2, 4, 4, 4}, 2, 16, false, VaeConfig.GROUP_NORM_EPS)
                : VaeConfig.forType(32);
        var keys = new java.util.LinkedHashMap<>(VaeKeys.decoder(cfg));
        keys.putAll(VaeKeys.encoder(cfg));
        VaeWeights w = new VaeWeights(RandomWeightSource.of("vae-" + shapes, keys, DType.F32, 1));
        decoder = new VaeDecoder(cfg, w);
        encoder = new VaeEncoder(cfg, w);
        // a latent like f_hat: sums of ±1/√32 codes over the scales
        SplittableRandom r = new SplittableRandom(2);
        float[] v = new float[32 * latent * latent];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((r.nextInt(13) - 6) / Math.sqrt(32));
        z = Tensor.ofFloats(v, 32, latent, latent);
        float[] px = new float[3 * 256 * 256];
        for (int i = 0; i < px.length; i++) px[i] = (float) (r.nextDouble() * 2 - 1);
        image = Tensor.ofFloats(px, 3, 256, 256);
    }

    @Benchmark
    public Tensor decode() { return decoder.decode(be, z); }

    /** The encoder at 256² (runs once per latent param; compare the latent=16 row). */
    @Benchmark
    public Tensor encode256() { return encoder.encode(be, image); }

    @TearDown(Level.Trial)
    public void peakMemory() throws Exception {
        System.out.println("\n[VaeDecodeBench] Winograd weight cache " + (dev.infinityj.cpu.WinogradWeights.cachedBytes() >> 20) + " MiB");
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmHWM")) System.out.println("\n[VaeDecodeBench latent=" + latent + " " + shapes + " " + algo + "] peak RSS " + line.substring(6).trim());
    }
}
