package dev.infinityj.cpu;

import dev.infinityj.tensor.Tensor;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.fail;

/** Shared helpers for the kernel tests: seeded native tensors and a tolerance check with a useful message. */
final class KernelTestSupport {
    private KernelTestSupport() {}

    static float[] random(long seed, int n, double amp) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * amp);
        return a;
    }

    static Tensor tensor(long seed, double amp, long... shape) {
        return Tensor.ofFloats(random(seed, (int) Tensor.numel(shape), amp), shape);
    }

    /** |got − ref| ≤ atol + rtol·|ref| everywhere. */
    static void assertClose(String what, double[] ref, float[] got, double rtol, double atol) {
        if (ref.length != got.length) fail(what + ": expected " + ref.length + " values, got " + got.length);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < ref.length; i++) {
            double tol = atol + rtol * Math.abs(ref[i]), diff = Math.abs(got[i] - ref[i]);
            double e = tol == 0 ? (diff == 0 ? 0 : Double.POSITIVE_INFINITY) : diff / tol;
            if (!(e <= worst)) { worst = e; at = i; }
        }
        if (worst > 1 || Double.isNaN(worst))
            fail(what + ": at " + at + " expected " + ref[at] + " got " + got[at] + " (" + worst + "× tolerance)");
    }

    static void assertBitEqual(String what, float[] a, float[] b) {
        if (a.length != b.length) fail(what + ": lengths " + a.length + " vs " + b.length);
        for (int i = 0; i < a.length; i++)
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) fail(what + ": differs at " + i + ": " + a[i] + " vs " + b[i]);
    }
}
