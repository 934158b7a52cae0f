package dev.infinityj.bench;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.vae.VaeConfig;
import dev.infinityj.vae.VaeDecoder;
import dev.infinityj.vae.VaeKeys;
import dev.infinityj.vae.VaeWeights;

import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

/**
 * The d32 VAE decode of a 16×16 latent (256² image, random F32 weights, as {@link VaeDecodeBench})
 * with the 3×3 convolutions by Winograd where it pays ({@code AUTO}) and all by the implicit GEMM,
 * alternated in one JVM, so background load hits both alike; prints wall and process CPU seconds
 * of each decode and the load average. The first AUTO decode includes the one-time weight
 * transforms. Not a JMH benchmark; a plain main:
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
 *   dev.infinityj.bench.VaeDecodeAB [repetitions, default 6]
 * </pre>
 */
public final class VaeDecodeAB {
    private VaeDecodeAB() {}

    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        CpuBackend auto = new CpuBackend();
        CpuBackend implicit = new CpuBackend().convAlgorithm(CpuBackend.ConvAlgorithm.IMPLICIT_GEMM);
        VaeConfig cfg = VaeConfig.forType(32);
        VaeDecoder dec = new VaeDecoder(cfg, new VaeWeights(RandomWeightSource.of("vae-d32", VaeKeys.decoder(cfg), DType.F32, 1)));
        SplittableRandom r = new SplittableRandom(2);
        float[] v = new float[32 * 16 * 16];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((r.nextInt(13) - 6) / Math.sqrt(32));
        Tensor z = Tensor.ofFloats(v, 32, 16, 16);
        for (int rep = 0; rep < reps; rep++)
            for (CpuBackend be : new CpuBackend[] {auto, implicit}) {
                long c0 = os.getProcessCpuTime(), t0 = System.nanoTime();
                dec.decode(be, z);
                long t = System.nanoTime() - t0, c = os.getProcessCpuTime() - c0;
                System.out.printf("%s decode 256²: wall %.2f s, cpu %.2f s, load average %.1f%n",
                        be == auto ? "AUTO         " : "IMPLICIT_GEMM", t / 1e9, c / 1e9, os.getSystemLoadAverage());
            }
    }
}
