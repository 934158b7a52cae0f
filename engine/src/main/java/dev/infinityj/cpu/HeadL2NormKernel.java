package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** One head row: o = x / max(‖x‖₂, eps) · m. Reference: {@code NaiveBackend.headL2Normalize}. */
public final class HeadL2NormKernel {
    private HeadL2NormKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    public static void row(MemorySegment x, long xo, MemorySegment o, long oo, int d, float m, float eps) {
        float inv = 1f / Math.max((float) Math.sqrt(Reductions.sumSq(x, xo, d)), eps);
        int p = 0;
        for (; p <= d - L; p += L)
            FloatVector.fromMemorySegment(S, x, (xo + p) * 4, LE).mul(inv).mul(m).intoMemorySegment(o, (oo + p) * 4, LE);
        for (; p < d; p++) o.setAtIndex(F, oo + p, x.getAtIndex(F, xo + p) * inv * m);
    }
}
