package dev.infinityj.bench;

import dev.infinityj.tensor.Tensor;

import java.util.SplittableRandom;

/**
 * What the GPU timing harnesses share (named Cuda* so gpu-check's kit, which packs
 * dev/infinityj/bench/Cuda*.class, carries it; not a *Bench, so it is not run as one).
 */
final class CudaBenchSupport {
    private CudaBenchSupport() {}

    /** max |a − b| / max |b|: a result's error relative to the reference's scale. */
    static double relDiff(float[] a, float[] b) {
        double max = 1e-30, err = 0;
        for (int i = 0; i < a.length; i++) { max = Math.max(max, Math.abs(b[i])); err = Math.max(err, Math.abs(a[i] - b[i])); }
        return err / max;
    }

    /** Uniform values in [-1, 1). */
    static Tensor random(SplittableRandom r, long... shape) {
        float[] x = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.ofFloats(x, shape);
    }
}
