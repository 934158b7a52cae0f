package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * A strided matrix view for {@link Gemm}: element (r, c) is the F32, BF16 or F16 value at byte
 * {@code base + (r·rowStride + c·colStride)·size} of {@code seg} (strides in elements). As the A
 * operand it is M×K; as the B operand K×N, so a {@code Linear.weight} [N, K] stored row-major is
 * {@link #transposed} (rowStride 1, colStride K) and a plain [K, N] matrix is {@link #rowMajor}.
 * The segment must be native or mapped (never a heap segment: see {@link Tensor}).
 */
public record Mat(MemorySegment seg, long base, DType dtype, long rowStride, long colStride) implements GemmB {

    public Mat {
        if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16)
            throw new ShapeException("GEMM operand must be F32, BF16 or F16, got " + dtype);
        if (seg.heapBase().isPresent())
            throw new IllegalArgumentException("GEMM operands must be native or mapped segments, not heap segments");
    }

    /** Row-major with leading dimension {@code ld} (elements): (r, c) at r·ld + c. */
    public static Mat rowMajor(MemorySegment seg, long base, DType dtype, long ld) {
        return new Mat(seg, base, dtype, ld, 1);
    }

    /** The transpose of a row-major matrix with leading dimension {@code ld}: (r, c) at c·ld + r. */
    public static Mat transposed(MemorySegment seg, long base, DType dtype, long ld) {
        return new Mat(seg, base, dtype, 1, ld);
    }

    /** A rank-2 tensor as a matrix (any strides). */
    public static Mat of(Tensor t) {
        if (t.rank() != 2) throw new ShapeException("GEMM operand must be rank 2, got " + t.describe());
        long[] st = t.strides();
        return new Mat(t.storage(), t.byteOffset(), t.dtype(), st[0], st[1]);
    }

    /** The transpose of a rank-2 tensor (a {@code Linear.weight} [N, K] as the K×N B operand). */
    public static Mat transposeOf(Tensor t) {
        if (t.rank() != 2) throw new ShapeException("GEMM operand must be rank 2, got " + t.describe());
        long[] st = t.strides();
        return new Mat(t.storage(), t.byteOffset(), t.dtype(), st[1], st[0]);
    }

    int elementBytes() { return dtype.byteSize(); }

    /** Byte offset of element (r, c). */
    long offset(long r, long c) { return base + (r * rowStride + c * colStride) * dtype.byteSize(); }

    @Override
    public void packPanel(int p0, int kc, int j0, int nr, float[] dst, int dstOff) {
        GemmPack.packB(this, p0, kc, j0, nr, dst, dstOff);
    }

    @Override
    public void packPanel32(int p0, int kc, int j0, float[] dst, int dstOff) {
        if (colStride == 1 && dtype == DType.F32) {   // [K, N] F32 (Winograd's V, matmul): 32 contiguous values per k
            GemmPack.rowsF32(seg, offset(p0, j0), rowStride * 4, kc, dst, dstOff, 32);
            GemmPack.rowsF32(seg, offset(p0, j0 + 16), rowStride * 4, kc, dst, dstOff + 16, 32);
        } else {
            GemmB.super.packPanel32(p0, kc, j0, dst, dstOff);
        }
    }

    /** A panel of {@code mr ≤ MR} rows starting at row i0: dst[off + MR·p + i] = A(i0+i, p0+p), zero rows below mr. */
    void packA(int i0, int mr, int p0, int kc, float[] dst, int dstOff) {
        GemmPack.packA(this, i0, mr, p0, kc, dst, dstOff);
    }
}
