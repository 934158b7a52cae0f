package dev.infinityj.cuda;

import java.lang.foreign.ValueLayout;

import static dev.infinityj.cuda.WarpMma.LANES;

/**
 * flash_attention_mma.cu transcribed warp by warp and lane by lane on {@link WarpMma}: the chunked
 * global→shared loads (Q staged in the K buffer, V transposed), the Q fragments kept per lane, the
 * fused q / k norm factors, S = Q·Kᵀ and O += P·V as m16n8k16 MMAs on the lanes' registers, the masked
 * tail tile, the row max / sum over quads with shuffles, the bf16 rounding of P and its re-packing from
 * the S accumulators as A fragments, the per-row rescaling and the final normalisation and float2
 * stores. Run by {@link FakeCudaDriver} for launches of flash_attention_mma_bf16, so a wrong index in
 * the kernel's structure (as transcribed) shows up against a float64 reference. Shared memory is
 * modelled by arrays and every phase between two __syncthreads runs for all threads before the next.
 *
 * <p>What this cannot show: that the kernel compiles to what its source says, that the hardware's
 * fragment layout is the PTX ISA's as cited, timing or races beyond the barrier structure. The
 * kernel is unverified on hardware.
 */
final class MmaAttentionEmulation {
    private MmaAttentionEmulation() {}

    static final int BQ = 64, BK = 64, MAXD = 128, LDK = MAXD + 8, LDV = BK + 8, THREADS = 128, WARPS = 4;

    static void run(FakeCudaDriver f, int[] grid, Object[] v) {
        long q = (Long) v[0], k = (Long) v[1], vv = (Long) v[2], bias = (Long) v[3], qScale = (Long) v[4], o = (Long) v[5];
        int Lq = (Integer) v[6], Lk = (Integer) v[7], H = (Integer) v[8], D = (Integer) v[9], Dv = (Integer) v[10];
        long qsL = (Long) v[11], qsH = (Long) v[12], ksL = (Long) v[13], ksH = (Long) v[14], vsL = (Long) v[15], vsH = (Long) v[16];
        float scale = (Float) v[17], eps = (Float) v[19];
        int flags = (Integer) v[18];
        if (D <= 0 || Dv <= 0 || D > MAXD || Dv > MAXD || D % 16 != 0 || Dv % 16 != 0)
            throw new IllegalStateException("flash_attention_mma launched with D=" + D + ", Dv=" + Dv);
        if (grid[0] != (Lq + BQ - 1) / BQ || grid[1] != H || grid[2] != 1)
            throw new IllegalStateException("flash_attention_mma grid " + java.util.Arrays.toString(grid));
        boolean normQ = (flags & 1) != 0, normK = (flags & 2) != 0;
        int nD = D >> 4, nDv8 = Dv >> 3, cD = D >> 3, cDv = Dv >> 3;
        boolean qvec = vec(q, qsL, qsH), kvec = vec(k, ksL, ksH), vvec = vec(vv, vsL, vsH);
        for (int bx = 0; bx < grid[0]; bx++)
            for (int h = 0; h < grid[1]; h++) {
                int i0 = bx * BQ;
                short[][] ks = new short[BK][LDK], vt = new short[MAXD][LDV];
                float[] kinv = new float[BK];
                // Q tile → ks
                for (int tid = 0; tid < THREADS; tid++)
                    for (int e = tid; e < BQ * cD; e += THREADS) {
                        int r = e / cD, c8 = e - r * cD, i = i0 + r;
                        short[] x = i < Lq ? ld8(f, q, (long) i * qsL + h * qsH + 8 * c8, qvec) : new short[8];
                        System.arraycopy(x, 0, ks[r], 8 * c8, 8);
                    }
                // per warp, per lane registers
                int[][][][] qa = new int[WARPS][MAXD / 16][LANES][4];
                float[][] qf0 = new float[WARPS][LANES], qf1 = new float[WARPS][LANES];
                float[][][][] oc = new float[WARPS][MAXD / 8][LANES][4];
                float[][] mA = new float[WARPS][LANES], mB = new float[WARPS][LANES], lA = new float[WARPS][LANES], lB = new float[WARPS][LANES];
                for (int w = 0; w < WARPS; w++) {
                    float[] ss0 = new float[LANES], ss1 = new float[LANES];
                    for (int lane = 0; lane < LANES; lane++) {
                        int g = lane >> 2, t = lane & 3, r0 = 16 * w + g;
                        for (int s = 0; s < MAXD / 16; s++) {
                            int[] a = qa[w][s][lane];
                            if (s < nD) {
                                a[0] = word(ks[r0], 16 * s + 2 * t);
                                a[1] = word(ks[r0 + 8], 16 * s + 2 * t);
                                a[2] = word(ks[r0], 16 * s + 2 * t + 8);
                                a[3] = word(ks[r0 + 8], 16 * s + 2 * t + 8);
                                float x;
                                x = lo(a[0]); ss0[lane] += x * x; x = hi(a[0]); ss0[lane] += x * x;
                                x = lo(a[2]); ss0[lane] += x * x; x = hi(a[2]); ss0[lane] += x * x;
                                x = lo(a[1]); ss1[lane] += x * x; x = hi(a[1]); ss1[lane] += x * x;
                                x = lo(a[3]); ss1[lane] += x * x; x = hi(a[3]); ss1[lane] += x * x;
                            }
                        }
                    }
                    java.util.Arrays.fill(qf0[w], scale);
                    java.util.Arrays.fill(qf1[w], scale);
                    if (normQ) {
                        ss0 = quadSum(ss0);
                        ss1 = quadSum(ss1);
                        float hs = qScale != 0 ? rf(f, qScale, h) : 1f;
                        for (int lane = 0; lane < LANES; lane++) {
                            qf0[w][lane] = scale * (1f / Math.max((float) Math.sqrt(ss0[lane]), eps)) * hs;
                            qf1[w][lane] = scale * (1f / Math.max((float) Math.sqrt(ss1[lane]), eps)) * hs;
                        }
                    }
                    java.util.Arrays.fill(mA[w], Float.NEGATIVE_INFINITY);
                    java.util.Arrays.fill(mB[w], Float.NEGATIVE_INFINITY);
                }

                for (int j0 = 0; j0 < Lk; j0 += BK) {
                    for (int tid = 0; tid < THREADS; tid++) {
                        for (int e = tid; e < BK * cD; e += THREADS) {
                            int c = e / cD, c8 = e - c * cD, j = j0 + c;
                            short[] x = j < Lk ? ld8(f, k, (long) j * ksL + h * ksH + 8 * c8, kvec) : new short[8];
                            System.arraycopy(x, 0, ks[c], 8 * c8, 8);
                        }
                        for (int e = tid; e < BK * cDv; e += THREADS) {
                            int c = e / cDv, c8 = e - c * cDv, j = j0 + c, d = 8 * c8;
                            short[] x = j < Lk ? ld8(f, vv, (long) j * vsL + h * vsH + d, vvec) : new short[8];
                            for (int m = 0; m < 8; m++) vt[d + m][c] = x[m];
                        }
                    }
                    if (normK) {
                        float[] part = new float[THREADS];
                        for (int tid = 0; tid < THREADS; tid++) {
                            int c = tid >> 1, p = tid & 1;
                            float ss = 0f;
                            for (int d = 2 * p; d < D; d += 4) {
                                int x = word(ks[c], d);
                                float a = lo(x), b = hi(x);
                                ss += a * a;
                                ss += b * b;
                            }
                            part[tid] = ss;
                        }
                        for (int tid = 0; tid < THREADS; tid++) {
                            float ss = part[tid] + part[tid ^ 1]; // __shfl_xor 1 (lanes tid, tid^1 share a warp)
                            if ((tid & 1) == 0) kinv[tid >> 1] = 1f / Math.max((float) Math.sqrt(ss), eps);
                        }
                    }
                    for (int w = 0; w < WARPS; w++)
                        warpTile(f, w, i0, j0, h, Lq, Lk, nD, nDv8, normK, bias, ks, vt, kinv, qa[w], qf0[w], qf1[w], oc[w], mA[w], mB[w], lA[w], lB[w]);
                }

                for (int w = 0; w < WARPS; w++) {
                    float[] sumA = quadSum(lA[w]), sumB = quadSum(lB[w]);
                    for (int lane = 0; lane < LANES; lane++) {
                        int g = lane >> 2, t = lane & 3, iA = i0 + 16 * w + g, iB = iA + 8;
                        float invA = 1f / sumA[lane], invB = 1f / sumB[lane];
                        for (int n = 0; n < nDv8; n++) {
                            int col = 8 * n + 2 * t;
                            float[] c = oc[w][n][lane];
                            if (iA < Lq) { wf(f, o, ((long) iA * H + h) * Dv + col, c[0] * invA); wf(f, o, ((long) iA * H + h) * Dv + col + 1, c[1] * invA); }
                            if (iB < Lq) { wf(f, o, ((long) iB * H + h) * Dv + col, c[2] * invB); wf(f, o, ((long) iB * H + h) * Dv + col + 1, c[3] * invB); }
                        }
                    }
                }
            }
    }

    /** One warp's work on one key tile: S, scores and online softmax, O += P·V. */
    private static void warpTile(FakeCudaDriver f, int w, int i0, int j0, int h, int Lq, int Lk, int nD, int nDv8, boolean normK,
                                 long bias, short[][] ks, short[][] vt, float[] kinv, int[][][] qa, float[] qf0, float[] qf1,
                                 float[][][] oc, float[] mA, float[] mB, float[] lA, float[] lB) {
        float[][][] sc = new float[BK / 8][LANES][4];
        for (int s = 0; s < nD; s++)
            for (int n = 0; n < BK / 8; n++) {
                int[][] b = new int[LANES][2];
                for (int lane = 0; lane < LANES; lane++) {
                    int g = lane >> 2, t = lane & 3;
                    b[lane][0] = word(ks[8 * n + g], 16 * s + 2 * t);
                    b[lane][1] = word(ks[8 * n + g], 16 * s + 2 * t + 8);
                }
                WarpMma.mma16816(qa[s], b, sc[n]);
            }
        float[] tA = new float[LANES], tB = new float[LANES];
        for (int lane = 0; lane < LANES; lane++) {
            int g = lane >> 2, t = lane & 3, iA = i0 + 16 * w + g, iB = iA + 8;
            tA[lane] = tB[lane] = Float.NEGATIVE_INFINITY;
            for (int n = 0; n < BK / 8; n++)
                for (int e = 0; e < 4; e++) {
                    int cl = 8 * n + 2 * t + (e & 1), j = j0 + cl, i = e < 2 ? iA : iB;
                    float x = sc[n][lane][e] * (e < 2 ? qf0[lane] : qf1[lane]);
                    if (normK) x *= kinv[cl];
                    if (bias != 0 && i < Lq && j < Lk) x += rf(f, bias, ((long) h * Lq + i) * Lk + j);
                    x = j < Lk ? x : Float.NEGATIVE_INFINITY;
                    sc[n][lane][e] = x;
                    if (e < 2) tA[lane] = Math.max(tA[lane], x); else tB[lane] = Math.max(tB[lane], x);
                }
        }
        tA = quadMax(tA);
        tB = quadMax(tB);
        float[] cA = new float[LANES], cB = new float[LANES];
        for (int lane = 0; lane < LANES; lane++) {
            float nA = Math.max(mA[lane], tA[lane]), nB = Math.max(mB[lane], tB[lane]);
            cA[lane] = nA == Float.NEGATIVE_INFINITY ? 1f : (float) Math.exp(mA[lane] - nA);
            cB[lane] = nB == Float.NEGATIVE_INFINITY ? 1f : (float) Math.exp(mB[lane] - nB);
            float sA = 0f, sB = 0f;
            for (int n = 0; n < BK / 8; n++)
                for (int e = 0; e < 4; e++) {
                    float mm = e < 2 ? nA : nB;
                    float p = mm == Float.NEGATIVE_INFINITY ? 0f : WarpMma.round((float) Math.exp(sc[n][lane][e] - mm));
                    sc[n][lane][e] = p;
                    if (e < 2) sA += p; else sB += p;
                }
            lA[lane] = lA[lane] * cA[lane] + sA;
            lB[lane] = lB[lane] * cB[lane] + sB;
            mA[lane] = nA;
            mB[lane] = nB;
            for (int n = 0; n < MAXD / 8; n++) {
                oc[n][lane][0] *= cA[lane]; oc[n][lane][1] *= cA[lane];
                oc[n][lane][2] *= cB[lane]; oc[n][lane][3] *= cB[lane];
            }
        }
        for (int s = 0; s < BK / 16; s++) {
            int[][] pa = new int[LANES][];
            for (int lane = 0; lane < LANES; lane++) {
                float[] x0 = sc[2 * s][lane], x1 = sc[2 * s + 1][lane];
                pa[lane] = new int[] {WarpMma.pack(x0[0], x0[1]), WarpMma.pack(x0[2], x0[3]), WarpMma.pack(x1[0], x1[1]), WarpMma.pack(x1[2], x1[3])};
            }
            for (int n = 0; n < nDv8; n++) {
                int[][] b = new int[LANES][2];
                for (int lane = 0; lane < LANES; lane++) {
                    int g = lane >> 2, t = lane & 3;
                    b[lane][0] = word(vt[8 * n + g], 16 * s + 2 * t);
                    b[lane][1] = word(vt[8 * n + g], 16 * s + 2 * t + 8);
                }
                WarpMma.mma16816(pa, b, oc[n]);
            }
        }
    }

    /** ma_vec: 16-byte loads when base, row and head strides keep every row start 16-byte aligned. */
    private static boolean vec(long p, long sL, long sH) { return (p & 15) == 0 && (sL & 7) == 0 && (sH & 7) == 0; }

    /** ma_ld8: eight bf16 from element index idx of base; a vector load must be 16-byte aligned. */
    private static short[] ld8(FakeCudaDriver f, long base, long idx, boolean vec) {
        long addr = base + 2 * idx;
        if (vec && (addr & 15) != 0) throw new IllegalStateException("misaligned 16-byte load at 0x" + Long.toHexString(addr));
        var seg = f.dev(addr, 16);
        short[] out = new short[8];
        for (int m = 0; m < 8; m++) out[m] = seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * m);
        return out;
    }

    /** The 32-bit shared-memory word at row[col], row[col + 1] (col even): col in the low half. */
    private static int word(short[] row, int col) {
        if ((col & 1) != 0) throw new IllegalStateException("misaligned 32-bit shared load at column " + col);
        return (row[col] & 0xffff) | (row[col + 1] & 0xffff) << 16;
    }

    private static float lo(int w) { return Float.intBitsToFloat(w << 16); }
    private static float hi(int w) { return Float.intBitsToFloat(w & 0xffff0000); }

    private static float[] quadSum(float[] v) {
        float[] a = WarpMma.shflXor(v, 1), r = new float[LANES];
        for (int l = 0; l < LANES; l++) r[l] = v[l] + a[l];
        float[] b = WarpMma.shflXor(r, 2);
        for (int l = 0; l < LANES; l++) r[l] += b[l];
        return r;
    }

    private static float[] quadMax(float[] v) {
        float[] a = WarpMma.shflXor(v, 1), r = new float[LANES];
        for (int l = 0; l < LANES; l++) r[l] = Math.max(v[l], a[l]);
        float[] b = WarpMma.shflXor(r, 2);
        for (int l = 0; l < LANES; l++) r[l] = Math.max(r[l], b[l]);
        return r;
    }

    private static float rf(FakeCudaDriver f, long p, long i) { return f.dev(p + 4 * i, 4).get(ValueLayout.JAVA_FLOAT, 0); }

    private static void wf(FakeCudaDriver f, long p, long i, float x) { f.dev(p + 4 * i, 4).set(ValueLayout.JAVA_FLOAT, 0, x); }
}
