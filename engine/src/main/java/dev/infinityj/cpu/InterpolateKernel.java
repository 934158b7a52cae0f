package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Row kernels for F.interpolate (align_corners=False) on one channel of a [C, H, W] map. Source
 * indices and weights come from per-axis tables built with exactly the float arithmetic of
 * {@code InterpolationReference} (itself PyTorch-exact), and each output uses the reference's
 * expression in the same order, so results are bit-identical. Nearest ×2 (the VAE upsampler)
 * duplicates lanes with a vector shuffle.
 */
public final class InterpolateKernel {
    private InterpolateKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final VectorShuffle<Float> DUP_LO = VectorShuffle.fromOp(S, i -> i / 2);
    static final VectorShuffle<Float> DUP_HI = VectorShuffle.fromOp(S, i -> S.length() / 2 + i / 2);

    /** 'nearest' / 'nearest-exact' source index of every output position along one axis. */
    public static int[] nearestIndex(int in, int out, boolean exact) {
        float s = (float) in / out;
        int[] idx = new int[out];
        for (int i = 0; i < out; i++) idx[i] = Math.min((int) Math.floor(exact ? (i + 0.5f) * s : i * s), in - 1);
        return idx;
    }

    /** True when idx[i] == i/2 for every i (exact ×2 upsampling) and the length is even. */
    public static boolean isDup2(int[] idx, int in) {
        if (idx.length != 2 * in) return false;
        for (int i = 0; i < idx.length; i++) if (idx[i] != i / 2) return false;
        return true;
    }

    /** o[oo + i] = x[xo + src[i]] for i < n; with dup2, src[i] = i/2 is done with vector shuffles. */
    public static void nearestRow(MemorySegment x, long xo, MemorySegment o, long oo, int[] src, boolean dup2) {
        int n = src.length, i = 0;
        if (dup2) {
            for (; i <= n - 2 * L; i += 2 * L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, (xo + i / 2) * 4, LE);
                v.rearrange(DUP_LO).intoMemorySegment(o, (oo + i) * 4, LE);
                v.rearrange(DUP_HI).intoMemorySegment(o, (oo + i + L) * 4, LE);
            }
        }
        for (; i < n; i++) o.setAtIndex(F, oo + i, x.getAtIndex(F, xo + src[i]));
    }

    /** Bilinear axis table: lower/upper source index and weights, exactly as the reference computes them. */
    public record Linear(int[] i0, int[] i1, float[] lo, float[] hi) {
        public static Linear of(int in, int out) {
            float s = (float) in / out;
            int[] a = new int[out], b = new int[out];
            float[] l = new float[out], h = new float[out];
            for (int i = 0; i < out; i++) {
                float src = Math.max(s * (i + 0.5f) - 0.5f, 0f);
                a[i] = (int) src;
                b[i] = Math.min(a[i] + 1, in - 1);
                l[i] = src - a[i];
                h[i] = 1f - l[i];
            }
            return new Linear(a, b, l, h);
        }
    }

    /** One bilinear output row from source rows at r0, r1 (element offsets) with row weights hy, ly. */
    public static void bilinearRow(MemorySegment x, long r0, long r1, float hy, float ly, MemorySegment o, long oo, Linear t) {
        int[] x0 = t.i0(), x1 = t.i1();
        float[] lx = t.lo(), hx = t.hi();
        for (int i = 0; i < x0.length; i++) {
            float v = hy * (hx[i] * x.getAtIndex(F, r0 + x0[i]) + lx[i] * x.getAtIndex(F, r0 + x1[i]))
                    + ly * (hx[i] * x.getAtIndex(F, r1 + x0[i]) + lx[i] * x.getAtIndex(F, r1 + x1[i]));
            o.setAtIndex(F, oo + i, v);
        }
    }

    /** 'area' (adaptive average pooling) window bounds [start, end) per output position. */
    public static int[][] areaBounds(int in, int out) {
        int[] a = new int[out], b = new int[out];
        for (int i = 0; i < out; i++) {
            a[i] = (int) Math.floor((double) i * in / out);
            b[i] = (int) Math.ceil((double) (i + 1) * in / out);
        }
        return new int[][] {a, b};
    }

    /** One area output row: window rows [y0, y1) of a channel at element offset cb, width w. */
    public static void areaRow(MemorySegment x, long cb, int w, int y0, int y1, int[][] xb, MemorySegment o, long oo) {
        int[] x0 = xb[0], x1 = xb[1];
        for (int i = 0; i < x0.length; i++) {
            float sum = 0;
            for (int yy = y0; yy < y1; yy++)
                for (int q = x0[i]; q < x1[i]; q++) sum += x.getAtIndex(F, cb + (long) yy * w + q);
            o.setAtIndex(F, oo + i, sum / ((y1 - y0) * (x1[i] - x0[i])));
        }
    }
}
