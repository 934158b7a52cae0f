package dev.infinityj.cpu;

import dev.infinityj.tensor.DType;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static dev.infinityj.tensor.Tensor.I16_LE;
import static dev.infinityj.tensor.Tensor.I64_LE;

/**
 * Packing for {@link Gemm}: B panels {@code [k][16]} and A panels {@code [k][MR]} as float[],
 * widening BF16/F16 on the way (free at pack time: a packed B block is reused by every row block
 * of A; widening inside the micro-kernel costs ~30%). Zero padding fills the columns/rows past
 * the matrix edge so the micro-kernel always runs full tiles.
 */
final class GemmPack {
    private GemmPack() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    // ---------------------------------------------------------------- B panels [kc][16]

    static void packB(Mat b, int p0, int kc, int j0, int nr, float[] dst, int off) {
        MemorySegment s = b.seg();
        DType t = b.dtype();
        int es = t.byteSize();
        long src = b.offset(p0, j0);
        if (b.colStride() == 1 && nr == 16) {          // [K, N] layout: 16 contiguous values per k
            long ld = b.rowStride() * es;
            switch (t) {
                case F32 -> rowsF32(s, src, ld, kc, dst, off);
                case BF16 -> rowsBf16(s, src, ld, kc, dst, off);
                default -> rowsF16(s, src, ld, kc, dst, off);
            }
        } else if (b.rowStride() == 1 && nr == 16 && (kc & 3) == 0 && t == DType.BF16) {
            // [N, K] bf16 (Linear.weight), full panel: straight into the panel, no row buffer
            transposeBf16(s, src, b.colStride() * es, kc, dst, off);
        } else if (b.rowStride() == 1) {               // [N, K] layout (Linear.weight): transpose
            long ld = b.colStride() * es;
            float[] row = TMP.get();
            for (int j = 0; j < nr; j++) {
                if (t == DType.F32) {
                    colF32(s, src + j * ld, kc, dst, off + j);
                } else {
                    GemmSmallM.widenRow(s, src + j * ld, t, kc, row, 0);   // vector widening into L1
                    scatter(row, kc, dst, off + j);
                }
            }
            zeroColumns(kc, nr, dst, off);
        } else {
            for (int p = 0; p < kc; p++)
                for (int j = 0; j < 16; j++)
                    dst[off + 16 * p + j] = j < nr ? read(s, b.offset(p0 + p, j0 + j), t) : 0f;
        }
    }

    static void rowsF32(MemorySegment s, long src, long ld, int kc, float[] dst, int off) { rowsF32(s, src, ld, kc, dst, off, 16); }

    static void rowsF32(MemorySegment s, long src, long ld, int kc, float[] dst, int off, int stride) {
        for (int p = 0; p < kc; p++, src += ld, off += stride) {
            FloatVector.fromMemorySegment(Widen.F, s, src, LE).intoArray(dst, off);
            FloatVector.fromMemorySegment(Widen.F, s, src + 32, LE).intoArray(dst, off + 8);
        }
    }

    static void rowsBf16(MemorySegment s, long src, long ld, int kc, float[] dst, int off) {
        for (int p = 0; p < kc; p++, src += ld, off += 16) {
            Widen.bf16(s, src).intoArray(dst, off);
            Widen.bf16(s, src + 16).intoArray(dst, off + 8);
        }
    }

    static void rowsF16(MemorySegment s, long src, long ld, int kc, float[] dst, int off) { rowsF16(s, src, ld, kc, dst, off, 16); }

    static void rowsF16(MemorySegment s, long src, long ld, int kc, float[] dst, int off, int stride) {
        for (int p = 0; p < kc; p++, src += ld, off += stride) {
            Widen.f16(s, src).intoArray(dst, off);
            Widen.f16(s, src + 16).intoArray(dst, off + 8);
        }
    }

    /**
     * 16 bf16 rows (row j at src + j·ld) → dst[off + 16p + j], p < kc (kc a multiple of 4): four
     * values per 64-bit load, widened by shifting (exact), stored straight into the panel.
     */
    private static void transposeBf16(MemorySegment s, long src, long ld, int kc, float[] dst, int off) {
        for (int j = 0; j < 16; j++, src += ld) {
            int o = off + j;
            for (int p = 0; p < kc; p += 4) {
                long v = s.get(I64_LE, src + 2L * p);
                int lo = (int) v, hi = (int) (v >>> 32), q = o + 16 * p;
                dst[q] = Float.intBitsToFloat(lo << 16);
                dst[q + 16] = Float.intBitsToFloat(lo & 0xffff0000);
                dst[q + 32] = Float.intBitsToFloat(hi << 16);
                dst[q + 48] = Float.intBitsToFloat(hi & 0xffff0000);
            }
        }
    }

    private static final ThreadLocal<float[]> TMP = ThreadLocal.withInitial(() -> new float[Gemm.KC]);

    private static void colF32(MemorySegment s, long src, int kc, float[] dst, int off) {
        for (int p = 0; p < kc; p++) dst[off + 16 * p] = s.get(F32_LE, src + 4L * p);
    }

    private static void scatter(float[] row, int kc, float[] dst, int off) {
        for (int p = 0; p < kc; p++) dst[off + 16 * p] = row[p];
    }

    private static void zeroColumns(int kc, int nr, float[] dst, int off) {
        if (nr == 16) return;
        for (int p = 0; p < kc; p++)
            for (int j = nr; j < 16; j++) dst[off + 16 * p + j] = 0f;
    }

    // ---------------------------------------------------------------- A panels [kc][MR]

    private static final int MR = Gemm.MR;

    static void packA(Mat a, int i0, int mr, int p0, int kc, float[] dst, int off) {
        MemorySegment s = a.seg();
        DType t = a.dtype();
        int es = t.byteSize();
        if (a.colStride() == 1) {
            long ld = a.rowStride() * es;
            long src = a.offset(i0, p0);
            for (int i = 0; i < mr; i++) {
                long row = src + i * ld;
                switch (t) {
                    case F32 -> { for (int p = 0; p < kc; p++) dst[off + MR * p + i] = s.get(F32_LE, row + 4L * p); }
                    case BF16 -> { for (int p = 0; p < kc; p++) dst[off + MR * p + i] = Float.intBitsToFloat(s.get(I16_LE, row + 2L * p) << 16); }
                    default -> { for (int p = 0; p < kc; p++) dst[off + MR * p + i] = Float.float16ToFloat(s.get(I16_LE, row + 2L * p)); }
                }
            }
        } else {
            for (int i = 0; i < mr; i++)
                for (int p = 0; p < kc; p++) dst[off + MR * p + i] = read(s, a.offset(i0 + i, p0 + p), t);
        }
        for (int i = mr; i < MR; i++)
            for (int p = 0; p < kc; p++) dst[off + MR * p + i] = 0f;
    }

    static float read(MemorySegment s, long off, DType t) {
        return switch (t) {
            case F32 -> s.get(F32_LE, off);
            case BF16 -> Float.intBitsToFloat(s.get(I16_LE, off) << 16);
            default -> Float.float16ToFloat(s.get(I16_LE, off));
        };
    }
}
