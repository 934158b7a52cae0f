package dev.infinityj.vae;

import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens fixture weights and compares tensors for the VAE tests. */
final class VaeTestSupport {
    private VaeTestSupport() {}

    /** A fixture's vae.pth through the project's checkpoint reader ({'vae': state_dict} is descended into). */
    static WeightSource openVae(Path fixtureDir) {
        Path pth = fixtureDir.resolve("vae.pth");
        Assumptions.assumeTrue(Files.isRegularFile(pth), "skipped: " + pth + " not found");
        return Checkpoints.open(pth);
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("length " + a.length + " vs " + b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    static double maxAbsDiff(Tensor a, Tensor b) { return maxAbsDiff(a.toFloatArray(), b.toFloatArray()); }
}
