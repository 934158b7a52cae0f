package dev.infinityj.backend;

import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * Plain GroupNorm split into statistics and application (double accumulation), so a large map
 * can be normalised in row bands with the statistics of the whole map. Host tensors only.
 */
public final class GroupNormReference {
    private GroupNormReference() {}

    /** [groups, 2]: (mean, 1/√(biased var + eps)) of each group of x [C, ...]. */
    public static Tensor stats(Tensor x, int groups, float eps) {
        x = f32(x, "groupNormStats");
        long c = x.dim(0), hw = x.numel() / c;
        if (c % groups != 0) throw new ShapeException("groupNormStats: " + c + " channels not divisible by " + groups + " groups");
        long n = c / groups * hw;
        Tensor out = Tensor.allocate(DType.F32, groups, 2);
        MemorySegment xs = x.segment(), os = out.segment();
        for (long g = 0; g < groups; g++) {
            double mean = 0, var = 0;
            for (long i = 0; i < n; i++) mean += xs.getAtIndex(F32_LE, g * n + i);
            mean /= n;
            for (long i = 0; i < n; i++) { double d = xs.getAtIndex(F32_LE, g * n + i) - mean; var += d * d; }
            var /= n;
            os.setAtIndex(F32_LE, 2 * g, (float) mean);
            os.setAtIndex(F32_LE, 2 * g + 1, (float) (1 / Math.sqrt(var + eps)));
        }
        return out;
    }

    /** (x − mean)·rstd·weight + bias per channel of x [C, ...], then SiLU if asked. */
    public static Tensor apply(Tensor x, int groups, Tensor stats, Tensor weight, Tensor bias, boolean silu) {
        x = f32(x, "groupNormApply");
        long c = x.dim(0), hw = x.numel() / c;
        if (c % groups != 0 || stats.numel() != 2L * groups)
            throw new ShapeException("groupNormApply: " + c + " channels, " + groups + " groups, stats " + stats.describe());
        long cg = c / groups;
        float[] st = stats.toFloatArray();
        float[] w = weight == null ? null : weight.toFloatArray(), b = bias == null ? null : bias.toFloatArray();
        Tensor out = Tensor.allocate(DType.F32, x.shape());
        MemorySegment xs = x.segment(), os = out.segment();
        for (long ch = 0; ch < c; ch++) {
            int g = (int) (ch / cg);
            double mean = st[2 * g], inv = st[2 * g + 1];
            for (long i = 0; i < hw; i++) {
                long at = ch * hw + i;
                float v = (float) ((xs.getAtIndex(F32_LE, at) - mean) * inv);
                if (w != null) v *= w[(int) ch];
                if (b != null) v += b[(int) ch];
                if (silu) v = (float) (v / (1 + Math.exp(-v)));
                os.setAtIndex(F32_LE, at, v);
            }
        }
        return out;
    }

    private static Tensor f32(Tensor t, String what) {
        if (t.dtype() != DType.F32) throw new ShapeException(what + ": expected F32 activations, got " + t.describe());
        return t.contiguous();
    }
}
