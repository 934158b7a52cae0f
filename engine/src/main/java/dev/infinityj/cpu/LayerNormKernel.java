package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * LayerNorm of one row (biased variance, two passes): o = (x − mean)·rstd·w + b; w, b nullable.
 * AdaLN is the same row with w = 1+scale, b = shift. Reference: {@code NaiveBackend.layerNorm}.
 */
public final class LayerNormKernel {
    private LayerNormKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    public static void row(MemorySegment x, long xo, MemorySegment o, long oo, int c, float[] w, float[] b, float eps) {
        double mean = Reductions.sum(x, xo, c) / c;
        float mf = (float) mean;
        double var = Reductions.sumSqDev(x, xo, c, mf) / c;
        float inv = (float) (1.0 / Math.sqrt(var + eps));
        int p = 0;
        for (; p <= c - L; p += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, (xo + p) * 4, LE).sub(mf).mul(inv);
            if (w != null) v = v.mul(FloatVector.fromArray(S, w, p));
            if (b != null) v = v.add(FloatVector.fromArray(S, b, p));
            v.intoMemorySegment(o, (oo + p) * 4, LE);
        }
        for (; p < c; p++) {
            float v = (x.getAtIndex(F, xo + p) - mf) * inv;
            if (w != null) v *= w[p];
            if (b != null) v += b[p];
            o.setAtIndex(F, oo + p, v);
        }
    }
}
