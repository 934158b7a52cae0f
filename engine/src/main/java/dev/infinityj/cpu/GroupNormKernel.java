package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * GroupNorm in two parts, as the VAE uses it on large maps in row bands. Statistics: each group's
 * contiguous range is cut into fixed pieces of {@link #PIECE} elements whose partial sums (float
 * lanes, double chunk totals) are added in piece order, so results do not depend on the thread
 * count. Apply: one channel range at a time, (x − mean)·rstd·w + b, optionally fused SiLU.
 * Reference: {@code GroupNormReference}.
 */
public final class GroupNormKernel {
    private GroupNormKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    public static final int PIECE = 1 << 16;

    /** stats[2g] = mean, stats[2g+1] = 1/√(biased var + eps) of groups of n elements of x (contiguous). */
    public static void stats(CpuThreads pool, MemorySegment x, int groups, long n, float eps, float[] stats) {
        int pieces = (int) Math.max(1, (n + PIECE - 1) / PIECE);
        double[] part = new double[groups * pieces];
        boolean par = pool != null && (long) groups * n >= 2L * PIECE;
        run(pool, par, groups * pieces, t -> {
            long from = (long) (t % pieces) * PIECE, len = Math.min(PIECE, n - from);
            part[t] = len <= 0 ? 0 : Reductions.sum(x, (t / pieces) * n + from, len);
        });
        float[] mean = new float[groups];
        for (int g = 0; g < groups; g++) {
            double s = 0;
            for (int p = 0; p < pieces; p++) s += part[g * pieces + p];
            mean[g] = (float) (s / n);
        }
        run(pool, par, groups * pieces, t -> {
            long from = (long) (t % pieces) * PIECE, len = Math.min(PIECE, n - from);
            part[t] = len <= 0 ? 0 : Reductions.sumSqDev(x, (t / pieces) * n + from, len, mean[t / pieces]);
        });
        for (int g = 0; g < groups; g++) {
            double s = 0;
            for (int p = 0; p < pieces; p++) s += part[g * pieces + p];
            stats[2 * g] = mean[g];
            stats[2 * g + 1] = (float) (1 / Math.sqrt(s / n + eps));
        }
    }

    private static void run(CpuThreads pool, boolean par, int tasks, java.util.function.IntConsumer body) {
        if (par) pool.parallelFor(tasks, body);
        else for (int t = 0; t < tasks; t++) body.accept(t);
    }

    /** o[oo, oo+n) ← ((x − mean)·rstd)·w + b, then SiLU if asked, over x[xo, xo+n). */
    public static void apply(MemorySegment x, long xo, MemorySegment o, long oo, long n,
                             float mean, float rstd, float w, float b, boolean silu) {
        long p = 0;
        for (; p <= n - L; p += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, (xo + p) * 4, LE).sub(mean).mul(rstd).mul(w).add(b);
            if (silu) v = v.div(VecMath.exp(v.neg()).add(1f));
            v.intoMemorySegment(o, (oo + p) * 4, LE);
        }
        for (; p < n; p++) {
            float v = (x.getAtIndex(F, xo + p) - mean) * rstd * w + b;
            if (silu) v = v / (VecMath.exp(-v) + 1f);
            o.setAtIndex(F, oo + p, v);
        }
    }
}
