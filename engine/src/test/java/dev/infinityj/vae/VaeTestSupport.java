package dev.infinityj.vae;

import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;

import java.lang.reflect.InvocationTargetException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens fixture weights and compares tensors for the VAE tests. */
final class VaeTestSupport {
    private VaeTestSupport() {}

    /** A fixture's vae.pth through the project's checkpoint reader (dev.infinityj.io.Checkpoints). */
    static WeightSource openVae(Path fixtureDir) {
        Path pth = fixtureDir.resolve("vae.pth");
        Assumptions.assumeTrue(Files.isRegularFile(pth), "skipped: " + pth + " not found");
        try {
            Class<?> c = Class.forName("dev.infinityj.io.Checkpoints");
            return (WeightSource) c.getMethod("open", Path.class).invoke(null, pth);
        } catch (ClassNotFoundException e) {
            // before the .pth reader lands: a converted copy named by a system property (development only)
            String alt = System.getProperty("infinityj.test.vae." + fixtureDir.getFileName());
            Assumptions.assumeTrue(alt != null, "skipped: no .pth reader (dev.infinityj.io.Checkpoints) on this branch");
            return SafetensorsFile.open(Path.of(alt));
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("length " + a.length + " vs " + b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    static double maxAbsDiff(Tensor a, Tensor b) { return maxAbsDiff(a.toFloatArray(), b.toFloatArray()); }
}
