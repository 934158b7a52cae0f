package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Row reductions for the norm kernels: float vector lanes over chunks of {@link #CHUNK} elements,
 * chunk totals added in double, so long rows (GroupNorm groups of millions) keep ~1e-7 relative
 * accuracy. Offsets and lengths are in elements.
 */
public final class Reductions {
    private Reductions() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final int CHUNK = 512;

    /** Σ x[off, off+n). */
    public static double sum(MemorySegment x, long off, long n) {
        double total = 0;
        for (long c = 0; c < n; c += CHUNK) total += sumChunk(x, off + c, (int) Math.min(CHUNK, n - c));
        return total;
    }

    static float sumChunk(MemorySegment x, long off, int n) {
        FloatVector a = FloatVector.zero(S), b = a;
        int p = 0;
        for (; p <= n - 2 * L; p += 2 * L) {
            a = a.add(FloatVector.fromMemorySegment(S, x, (off + p) * 4, LE));
            b = b.add(FloatVector.fromMemorySegment(S, x, (off + p + L) * 4, LE));
        }
        float r = VecMath.hsum(a.add(b));
        for (; p < n; p++) r += x.getAtIndex(F, off + p);
        return r;
    }

    /** Σ (x − mean)² over x[off, off+n). */
    public static double sumSqDev(MemorySegment x, long off, long n, float mean) {
        double total = 0;
        for (long c = 0; c < n; c += CHUNK) total += sumSqDevChunk(x, off + c, (int) Math.min(CHUNK, n - c), mean);
        return total;
    }

    static float sumSqDevChunk(MemorySegment x, long off, int n, float mean) {
        FloatVector a = FloatVector.zero(S), b = a;
        int p = 0;
        for (; p <= n - 2 * L; p += 2 * L) {
            FloatVector u = FloatVector.fromMemorySegment(S, x, (off + p) * 4, LE).sub(mean);
            FloatVector w = FloatVector.fromMemorySegment(S, x, (off + p + L) * 4, LE).sub(mean);
            a = u.fma(u, a);
            b = w.fma(w, b);
        }
        float r = VecMath.hsum(a.add(b));
        for (; p < n; p++) { float u = x.getAtIndex(F, off + p) - mean; r += u * u; }
        return r;
    }

    /** Σ x² over x[off, off+n). */
    public static double sumSq(MemorySegment x, long off, long n) { return sumSqDev(x, off, n, 0f); }

    /** max x[off, off+n) (n ≥ 1). */
    public static float max(MemorySegment x, long off, int n) {
        float mx = Float.NEGATIVE_INFINITY;
        int p = 0;
        if (n >= L) {
            FloatVector m = FloatVector.fromMemorySegment(S, x, off * 4, LE);
            for (p = L; p <= n - L; p += L) m = m.max(FloatVector.fromMemorySegment(S, x, (off + p) * 4, LE));
            mx = m.reduceLanes(VectorOperators.MAX);
        }
        for (; p < n; p++) mx = Math.max(mx, x.getAtIndex(F, off + p));
        return mx;
    }
}
