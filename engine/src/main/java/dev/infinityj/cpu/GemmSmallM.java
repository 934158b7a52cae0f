package dev.infinityj.cpu;

import dev.infinityj.tensor.DType;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static dev.infinityj.tensor.Tensor.I16_LE;

/**
 * GEMM for small M (a few activation rows) against a weight stored [N, K] (the Linear layout):
 * weight-streaming. Each pair of weight rows is read from memory once, widened to fp32 into a
 * per-thread row buffer (BF16/F16 widening is hidden behind the memory stream), and dotted with
 * every activation row ({@link GemmDot4x2}). N is split over the threads; no pack pass.
 * Each C element is one dot product in a fixed order, independent of the split.
 */
final class GemmSmallM {
    private GemmSmallM() {}

    /**
     * Weight rows per tile: 4 where 512-bit vectors exist (AVX-512: 32 vector registers, so the
     * 16-accumulator {@link GemmDot4x2#run4x4} does not spill), else 2. Results do not depend on it.
     */
    static final int RM = 4, RN = Simd.WIDE_REGISTERS ? 4 : 2;
    /** K block: 64 rows × 1024 floats = 256 KB of activations, within L2 on Zen 3 and 4. */
    static final int KB = 1024;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static void multiply(CpuThreads pool, int m, int n, int k, Mat a, Mat w, MemorySegment c, long cOff, long ldc,
                         float[] biasN, float[] biasM, boolean accumulate) {
        int kp = (k + 7) & ~7;
        float[] xs = new float[m * kp];
        for (int i = 0; i < m; i++) MemorySegment.copy(a.seg(), F32_LE, a.offset(i, 0), xs, i * kp, k);
        int threads = (long) m * n * k < Gemm.PARALLEL_MIN_MACS ? 1 : pool.threads();
        int pairs = (n + RN - 1) / RN;
        int tasks = threads == 1 ? 1 : Math.min(pairs, threads * 4);
        pool.parallelFor(tasks, t -> {
            int j0 = (int) ((long) pairs * t / tasks) * RN, j1 = Math.min(n, (int) ((long) pairs * (t + 1) / tasks) * RN);
            if (j0 < j1) rows(j0, j1, m, k, kp, xs, w, c, cOff, ldc, biasN, biasM, accumulate);
        });
    }

    /**
     * Columns [j0, j1) of C. K is walked in blocks of {@link #KB} so the activation rows of a block
     * (m·KB floats, ≤ 256 KB) stay in L2 while every weight row of the range streams past once;
     * per-block dot products are summed into {@code acc} in block order (fixed by K alone).
     */
    private static void rows(int j0, int j1, int m, int k, int kp, float[] xs, Mat w, MemorySegment c, long cOff, long ldc,
                             float[] biasN, float[] biasM, boolean accumulate) {
        int nl = j1 - j0;
        float[] acc = new float[m * nl];
        float[] out = new float[RM * RN];
        for (int k0 = 0; k0 < k; k0 += KB) {
            int kb = Math.min(KB, k - k0), kbp = (kb + 7) & ~7;
            float[] wb = GemmScratch.get().w(RN * kbp);
            for (int j = j0; j < j1; j += RN) {
                int nr = Math.min(RN, j1 - j);
                for (int r = 0; r < RN; r++) {
                    if (r < nr) {
                        widenRow(w.seg(), w.offset(k0, j + r), w.dtype(), kb, wb, r * kbp);
                        Arrays.fill(wb, r * kbp + kb, (r + 1) * kbp, 0f);
                    } else {
                        Arrays.fill(wb, r * kbp, (r + 1) * kbp, 0f);
                    }
                }
                for (int i = 0; i < m; ) {
                    int rows = m - i >= 4 ? 4 : m - i >= 2 ? 2 : 1;
                    if (RN == 4) {
                        if (rows == 4) GemmDot4x2.run4x4(kbp, xs, i * kp + k0, kp, wb, 0, kbp, out);
                        else if (rows == 2) GemmDot4x2.run2x4(kbp, xs, i * kp + k0, kp, wb, 0, kbp, out);
                        else GemmDot4x2.run1x4(kbp, xs, i * kp + k0, wb, 0, kbp, out);
                    } else {
                        if (rows == 4) GemmDot4x2.run(kbp, xs, i * kp + k0, kp, wb, 0, kbp, out);
                        else if (rows == 2) GemmDot4x2.run2(kbp, xs, i * kp + k0, kp, wb, 0, kbp, out);
                        else GemmDot4x2.run1(kbp, xs, i * kp + k0, wb, 0, kbp, out);
                    }
                    for (int ii = 0; ii < rows; ii++)
                        for (int r = 0; r < nr; r++) {
                            int o = (i + ii) * nl + j - j0 + r;
                            acc[o] = k0 == 0 ? out[ii * RN + r] : acc[o] + out[ii * RN + r];
                        }
                    i += rows;
                }
            }
        }
        for (int i = 0; i < m; i++)
            for (int j = j0; j < j1; j++) {
                long o = cOff + 4 * ((long) i * ldc + j);
                float v = acc[i * nl + j - j0];
                if (accumulate) v = v + c.get(F32_LE, o);
                if (biasN != null) v += biasN[j];
                if (biasM != null) v += biasM[i];
                c.set(F32_LE, o, v);
            }
    }

    /** k contiguous values of type t at byte src → dst[off .. off+k) as fp32. */
    static void widenRow(MemorySegment s, long src, DType t, int k, float[] dst, int off) {
        int kv = k & ~7, p = 0;
        switch (t) {
            case F32 -> {
                for (; p < kv; p += 8) FloatVector.fromMemorySegment(Widen.F, s, src + 4L * p, LE).intoArray(dst, off + p);
                for (; p < k; p++) dst[off + p] = s.get(F32_LE, src + 4L * p);
            }
            case BF16 -> {
                for (; p < kv; p += 8) Widen.bf16(s, src + 2L * p).intoArray(dst, off + p);
                for (; p < k; p++) dst[off + p] = Float.intBitsToFloat(s.get(I16_LE, src + 2L * p) << 16);
            }
            default -> {
                for (; p < kv; p += 8) Widen.f16(s, src + 2L * p).intoArray(dst, off + p);
                for (; p < k; p++) dst[off + p] = Float.float16ToFloat(s.get(I16_LE, src + 2L * p));
            }
        }
    }
}
