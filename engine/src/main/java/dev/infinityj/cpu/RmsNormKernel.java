package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** RMSNorm of one row: o = x / √(mean(x²)+eps) · w (w nullable). Reference: {@code NaiveBackend.rmsNorm}. */
public final class RmsNormKernel {
    private RmsNormKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    public static void row(MemorySegment x, long xo, MemorySegment o, long oo, int c, float[] w, float eps) {
        float inv = (float) (1.0 / Math.sqrt(Reductions.sumSq(x, xo, c) / c + eps));
        int p = 0;
        for (; p <= c - L; p += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, (xo + p) * 4, LE).mul(inv);
            if (w != null) v = v.mul(FloatVector.fromArray(S, w, p));
            v.intoMemorySegment(o, (oo + p) * 4, LE);
        }
        for (; p < c; p++) {
            float v = x.getAtIndex(F, xo + p) * inv;
            if (w != null) v *= w[p];
            o.setAtIndex(F, oo + p, v);
        }
    }
}
