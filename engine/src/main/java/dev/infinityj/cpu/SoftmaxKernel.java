package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Softmax of one row (max-subtracted, {@link VecMath#exp}). Reference: {@code NaiveBackend.softmax}. */
public final class SoftmaxKernel {
    private SoftmaxKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    public static void row(MemorySegment x, long xo, MemorySegment o, long oo, int c) {
        float mx = Reductions.max(x, xo, c);
        int p = 0;
        for (; p <= c - L; p += L)
            VecMath.exp(FloatVector.fromMemorySegment(S, x, (xo + p) * 4, LE).sub(mx)).intoMemorySegment(o, (oo + p) * 4, LE);
        for (; p < c; p++) o.setAtIndex(F, oo + p, VecMath.exp(x.getAtIndex(F, xo + p) - mx));
        float inv = (float) (1.0 / Reductions.sum(o, oo, c));
        for (p = 0; p <= c - L; p += L)
            FloatVector.fromMemorySegment(S, o, (oo + p) * 4, LE).mul(inv).intoMemorySegment(o, (oo + p) * 4, LE);
        for (; p < c; p++) o.setAtIndex(F, oo + p, o.getAtIndex(F, oo + p) * inv);
    }
}
