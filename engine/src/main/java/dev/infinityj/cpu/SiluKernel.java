package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** SiLU o = z / (1 + e^(−z)) with {@link VecMath#exp}. Reference: {@code NaiveBackend.silu}. */
public final class SiluKernel {
    private SiluKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    public static void run(MemorySegment x, long xo, MemorySegment o, long oo, long n) {
        long p = 0;
        for (; p <= n - L; p += L) {
            FloatVector z = FloatVector.fromMemorySegment(S, x, (xo + p) * 4, LE);
            z.div(VecMath.exp(z.neg()).add(1f)).intoMemorySegment(o, (oo + p) * 4, LE);
        }
        for (; p < n; p++) { float z = x.getAtIndex(F, xo + p); o.setAtIndex(F, oo + p, z / (VecMath.exp(-z) + 1f)); }
    }

    /** In place over a[ao, ao+n). */
    public static void inPlace(MemorySegment a, long ao, long n) { run(a, ao, a, ao, n); }
}
