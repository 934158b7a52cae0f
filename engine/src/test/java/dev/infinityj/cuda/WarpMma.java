package dev.infinityj.cuda;

import dev.infinityj.tensor.DType;

/**
 * One warp's {@code mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32} and {@code __shfl_xor_sync},
 * emulated on the 32 lanes' registers, for the lane-level transcription of flash_attention_mma.cu.
 *
 * <p>The fragment layouts are the PTX ISA's (section 9.7.14.5.8, "Matrix Fragments for mma.m16n8k16
 * with floating point type", .bf16), with g = groupID = lane >> 2, t = threadID_in_group = lane % 4,
 * and two bf16 per 32-bit register, the lower-indexed element in the low half:
 * <ul>
 *   <li>A (16×16, row), a0..a7 in registers 0..3: row g for a0, a1, a4, a5 and g + 8 otherwise;
 *       column 2t + (i &amp; 1), plus 8 for i ≥ 4;</li>
 *   <li>B (16×8, col), b0..b3 in registers 0..1: row 2t + (i &amp; 1), plus 8 for i ≥ 2; column g;</li>
 *   <li>C / D (16×8, f32), c0..c3: row g for c0, c1 and g + 8 for c2, c3; column 2t + (i &amp; 1).</li>
 * </ul>
 * The products of bf16 values are exact in fp32; the emulator sums them and c in double and rounds
 * once to float. Tensor cores accumulate with their own (unspecified) internal order and rounding, a
 * difference of the order of fp32 rounding: far below the bf16 tolerances the attention tests use.
 */
final class WarpMma {
    private WarpMma() {}

    static final int LANES = 32;

    static float bf16(int bits) { return DType.bf16ToF32((short) bits); }

    /** The bf16 element {@code i} (0-based: a0 = 0) of a fragment, from register i / 2, half i % 2. */
    static float element(int[] regs, int i) { return bf16(regs[i >> 1] >>> (16 * (i & 1))); }

    /** Rows of A for element i of lane's fragment, per the layout above. */
    static int aRow(int lane, int i) { return (i < 2 || (i >= 4 && i < 6)) ? lane >> 2 : (lane >> 2) + 8; }
    static int aCol(int lane, int i) { return (lane & 3) * 2 + (i & 1) + (i >= 4 ? 8 : 0); }
    static int bRow(int lane, int i) { return (lane & 3) * 2 + (i & 1) + (i >= 2 ? 8 : 0); }
    static int bCol(int lane, int i) { return lane >> 2; }
    static int cRow(int lane, int i) { return i < 2 ? lane >> 2 : (lane >> 2) + 8; }
    static int cCol(int lane, int i) { return (lane & 3) * 2 + (i & 1); }

    /**
     * d = a·b + c for the warp, in place in c: a[lane][4] (bf16x2 words), b[lane][2], c[lane][4]. Checks
     * that the fragments cover every matrix element exactly once (the layout is a bijection).
     */
    static void mma16816(int[][] a, int[][] b, float[][] c) {
        double[][] am = new double[16][16], bm = new double[16][8], cm = new double[16][8];
        int[][] seenA = new int[16][16], seenB = new int[16][8], seenC = new int[16][8];
        for (int lane = 0; lane < LANES; lane++) {
            for (int i = 0; i < 8; i++) {
                int r = aRow(lane, i), col = aCol(lane, i);
                am[r][col] = element(a[lane], i);
                seenA[r][col]++;
            }
            for (int i = 0; i < 4; i++) {
                int r = bRow(lane, i), col = bCol(lane, i);
                bm[r][col] = element(b[lane], i);
                seenB[r][col]++;
            }
            for (int i = 0; i < 4; i++) {
                int r = cRow(lane, i), col = cCol(lane, i);
                cm[r][col] = c[lane][i];
                seenC[r][col]++;
            }
        }
        for (int r = 0; r < 16; r++)
            for (int col = 0; col < 16; col++) {
                if (seenA[r][col] != 1) throw new IllegalStateException("A fragment layout covers (" + r + "," + col + ") " + seenA[r][col] + " times");
                if (col < 8 && (seenB[r][col] != 1 || seenC[r][col] != 1)) throw new IllegalStateException("B/C fragment layout not a bijection at (" + r + "," + col + ")");
            }
        for (int lane = 0; lane < LANES; lane++)
            for (int i = 0; i < 4; i++) {
                int r = cRow(lane, i), col = cCol(lane, i);
                double s = cm[r][col];
                for (int kk = 0; kk < 16; kk++) s += am[r][kk] * bm[kk][col];
                c[lane][i] = (float) s;
            }
    }

    /** {@code __shfl_xor_sync(0xffffffff, v, mask)} for every lane. */
    static float[] shflXor(float[] v, int mask) {
        float[] out = new float[LANES];
        for (int lane = 0; lane < LANES; lane++) out[lane] = v[lane ^ mask];
        return out;
    }

    /** Two floats as bf16x2, round to nearest even (__floats2bfloat162_rn): lo in the low half. */
    static int pack(float lo, float hi) {
        return (DType.f32ToBf16(lo) & 0xffff) | (DType.f32ToBf16(hi) & 0xffff) << 16;
    }

    /** A float rounded to bf16 and back (__bfloat162float(__float2bfloat16_rn(x))). */
    static float round(float x) { return DType.bf16ToF32(DType.f32ToBf16(x)); }
}
