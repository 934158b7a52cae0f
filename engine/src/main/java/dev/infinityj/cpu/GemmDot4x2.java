package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The small-M GEMM kernel: dot products of 4 activation rows with 2 weight rows (8 accumulators,
 * 8 lanes each, reduced at the end), both rows contiguous along K. 8 accumulators + 2 weight + 4
 * activation vectors fit AVX2's 16 registers even when C2 hoists every load. Variants for 2 and
 * 1 rows cover M mod 4 without padding work. Each output is one fp32 dot product: 8 lane-wise
 * partial sums over k, then a fixed-order lane sum, so its value does not depend on the row grouping.
 */
final class GemmDot4x2 {
    private GemmDot4x2() {}

    private static final VectorSpecies<Float> S = Simd.F;

    /**
     * out[2i + r] = Σ_p x[xo + i·ldx + p] · w[wo + r·ldw + p] for i < 4, r < 2, p < kp
     * ({@code kp} a multiple of 8).
     */
    static void run(int kp, float[] x, int xo, int ldx, float[] w, int wo, int ldw, float[] out) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        int x1 = xo + ldx, x2 = x1 + ldx, x3 = x2 + ldx, w1 = wo + ldw;
        for (int p = 0; p < kp; p += 8) {
            FloatVector v0 = FloatVector.fromArray(S, w, wo + p);
            FloatVector v1 = FloatVector.fromArray(S, w, w1 + p);
            FloatVector u = FloatVector.fromArray(S, x, xo + p);
            a00 = u.fma(v0, a00); a01 = u.fma(v1, a01);
            u = FloatVector.fromArray(S, x, x1 + p);
            a10 = u.fma(v0, a10); a11 = u.fma(v1, a11);
            u = FloatVector.fromArray(S, x, x2 + p);
            a20 = u.fma(v0, a20); a21 = u.fma(v1, a21);
            u = FloatVector.fromArray(S, x, x3 + p);
            a30 = u.fma(v0, a30); a31 = u.fma(v1, a31);
        }
        out[0] = hsum(a00); out[1] = hsum(a01);
        out[2] = hsum(a10); out[3] = hsum(a11);
        out[4] = hsum(a20); out[5] = hsum(a21);
        out[6] = hsum(a30); out[7] = hsum(a31);
    }
    /** As {@link #run} for 2 activation rows: out[2i + r], i < 2. */
    static void run2(int kp, float[] x, int xo, int ldx, float[] w, int wo, int ldw, float[] out) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00;
        int x1 = xo + ldx, w1 = wo + ldw;
        for (int p = 0; p < kp; p += 8) {
            FloatVector v0 = FloatVector.fromArray(S, w, wo + p);
            FloatVector v1 = FloatVector.fromArray(S, w, w1 + p);
            FloatVector u = FloatVector.fromArray(S, x, xo + p);
            a00 = u.fma(v0, a00); a01 = u.fma(v1, a01);
            u = FloatVector.fromArray(S, x, x1 + p);
            a10 = u.fma(v0, a10); a11 = u.fma(v1, a11);
        }
        out[0] = hsum(a00); out[1] = hsum(a01);
        out[2] = hsum(a10); out[3] = hsum(a11);
    }

    /** As {@link #run} for 1 activation row: out[r]. */
    static void run1(int kp, float[] x, int xo, float[] w, int wo, int ldw, float[] out) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00;
        int w1 = wo + ldw;
        for (int p = 0; p < kp; p += 8) {
            FloatVector u = FloatVector.fromArray(S, x, xo + p);
            a00 = u.fma(FloatVector.fromArray(S, w, wo + p), a00);
            a01 = u.fma(FloatVector.fromArray(S, w, w1 + p), a01);
        }
        out[0] = hsum(a00); out[1] = hsum(a01);
    }

    /**
     * As {@link #run} for 4 weight rows: out[4i + r], i < 4, r < 4. 16 accumulators + 4 weight
     * vectors + 1 activation vector: needs the 32 vector registers of AVX-512 (see
     * {@link GemmSmallM#RN}); half the loads per FMA of the 4×2 tile. Same per-output arithmetic.
     */
    static void run4x4(int kp, float[] x, int xo, int ldx, float[] w, int wo, int ldw, float[] out) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00,
                a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int x1 = xo + ldx, x2 = x1 + ldx, x3 = x2 + ldx, w1 = wo + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        for (int p = 0; p < kp; p += 8) {
            FloatVector v0 = FloatVector.fromArray(S, w, wo + p);
            FloatVector v1 = FloatVector.fromArray(S, w, w1 + p);
            FloatVector v2 = FloatVector.fromArray(S, w, w2 + p);
            FloatVector v3 = FloatVector.fromArray(S, w, w3 + p);
            FloatVector u = FloatVector.fromArray(S, x, xo + p);
            a00 = u.fma(v0, a00); a01 = u.fma(v1, a01); a02 = u.fma(v2, a02); a03 = u.fma(v3, a03);
            u = FloatVector.fromArray(S, x, x1 + p);
            a10 = u.fma(v0, a10); a11 = u.fma(v1, a11); a12 = u.fma(v2, a12); a13 = u.fma(v3, a13);
            u = FloatVector.fromArray(S, x, x2 + p);
            a20 = u.fma(v0, a20); a21 = u.fma(v1, a21); a22 = u.fma(v2, a22); a23 = u.fma(v3, a23);
            u = FloatVector.fromArray(S, x, x3 + p);
            a30 = u.fma(v0, a30); a31 = u.fma(v1, a31); a32 = u.fma(v2, a32); a33 = u.fma(v3, a33);
        }
        out[0] = hsum(a00); out[1] = hsum(a01); out[2] = hsum(a02); out[3] = hsum(a03);
        out[4] = hsum(a10); out[5] = hsum(a11); out[6] = hsum(a12); out[7] = hsum(a13);
        out[8] = hsum(a20); out[9] = hsum(a21); out[10] = hsum(a22); out[11] = hsum(a23);
        out[12] = hsum(a30); out[13] = hsum(a31); out[14] = hsum(a32); out[15] = hsum(a33);
    }

    /** 2 activation rows × 4 weight rows: out[4i + r]. */
    static void run2x4(int kp, float[] x, int xo, int ldx, float[] w, int wo, int ldw, float[] out) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        int x1 = xo + ldx, w1 = wo + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        for (int p = 0; p < kp; p += 8) {
            FloatVector v0 = FloatVector.fromArray(S, w, wo + p);
            FloatVector v1 = FloatVector.fromArray(S, w, w1 + p);
            FloatVector v2 = FloatVector.fromArray(S, w, w2 + p);
            FloatVector v3 = FloatVector.fromArray(S, w, w3 + p);
            FloatVector u = FloatVector.fromArray(S, x, xo + p);
            a00 = u.fma(v0, a00); a01 = u.fma(v1, a01); a02 = u.fma(v2, a02); a03 = u.fma(v3, a03);
            u = FloatVector.fromArray(S, x, x1 + p);
            a10 = u.fma(v0, a10); a11 = u.fma(v1, a11); a12 = u.fma(v2, a12); a13 = u.fma(v3, a13);
        }
        out[0] = hsum(a00); out[1] = hsum(a01); out[2] = hsum(a02); out[3] = hsum(a03);
        out[4] = hsum(a10); out[5] = hsum(a11); out[6] = hsum(a12); out[7] = hsum(a13);
    }

    /** 1 activation row × 4 weight rows: out[r]. */
    static void run1x4(int kp, float[] x, int xo, float[] w, int wo, int ldw, float[] out) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00;
        int w1 = wo + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        for (int p = 0; p < kp; p += 8) {
            FloatVector u = FloatVector.fromArray(S, x, xo + p);
            a00 = u.fma(FloatVector.fromArray(S, w, wo + p), a00);
            a01 = u.fma(FloatVector.fromArray(S, w, w1 + p), a01);
            a02 = u.fma(FloatVector.fromArray(S, w, w2 + p), a02);
            a03 = u.fma(FloatVector.fromArray(S, w, w3 + p), a03);
        }
        out[0] = hsum(a00); out[1] = hsum(a01); out[2] = hsum(a02); out[3] = hsum(a03);
    }

    /**
     * Lane sum in a fixed order. Not {@code reduceLanes(ADD)}: its compiled form (a tree) and its
     * interpreted fallback (a sequential loop) round differently, so results would depend on the
     * JIT's state (seen as 1- vs 2-thread differences in GemmTest).
     */
    private static float hsum(FloatVector v) {
        return ((v.lane(0) + v.lane(1)) + (v.lane(2) + v.lane(3))) + ((v.lane(4) + v.lane(5)) + (v.lane(6) + v.lane(7)));
    }
}
