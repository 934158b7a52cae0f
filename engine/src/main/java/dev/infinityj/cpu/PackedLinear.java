package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static dev.infinityj.tensor.Tensor.I16_LE;
import static dev.infinityj.tensor.Tensor.I64_LE;

/**
 * A {@code Linear.weight} [N, K] repacked once into the GEMM's B-panel order, in the weight's own
 * dtype. Layout: K blocks of {@link #KBLOCK} in order; inside block b (kc = min(KBLOCK, K − b·KBLOCK)
 * columns), the N/16 panels in order; inside panel q, for p < kc, the 16 values
 * W[16q + j, b·KBLOCK + p], j < 16, at slot {@link #slot}(j): j itself for F32/F16; for BF16 the two
 * halves interleaved (c0, c8, c1, c9, …, c7, c15), so that one 32-byte load of eight int32 lanes
 * widens to columns 0–7 by a 16-bit left shift and to columns 8–15 by masking the low halves —
 * two ALU ops for sixteen values. So element (n, k) is at
 * {@code (k − k % KBLOCK)·N + (n / 16)·kc·16 + (k % KBLOCK)·16 + slot(n % 16)}. Stored as a tensor
 * [N/16, K, 16] (its shape carries N and K; the element order is this one, read only through this
 * class).
 *
 * <p>Why: packing a B block for {@link Gemm} becomes a contiguous widening ({@link PackedB})
 * instead of a 16-row transposition on every call (that transposition was half the
 * micro-kernel's time at the 2B transformer's middle scales, M = 72…128), and one K block of all
 * panels is one contiguous stream, which the hardware prefetcher follows (with panel-major order
 * a T5 forward at M = 32 spent 30 % of its time waiting in the widening).
 *
 * <p>Same bytes as the original; values unchanged (a permutation), so GEMM results are bit for bit
 * those of the unpacked weight through the same blocked path.
 */
public final class PackedLinear {
    private PackedLinear() {}

    public static final int PANEL = Gemm.NR;

    /**
     * Columns per K block: the GEMM's K step over packed weights. Each block costs one
     * read-modify-write pass over C (at 256 those passes were ~10 % of the 2B transformer's
     * profile); a block's BF16 panel (32 KB) and A panel are read from L2 at 8 bytes per cycle,
     * well inside its bandwidth. Measured (1 thread, loaded VM, GFLOPS at 256/512/1024/2048):
     * M=32 K=2048 95/98/102/–, M=128 K=2048 88/89/95/93, M=512 K=8192 –/–/99/91.
     * Part of the file format (layout linear-panel16-v1): changing it needs a new layout name.
     */
    public static final int KBLOCK = 1024;

    /** Position of column j (< 16) inside a packed group of 16 values of dtype t. */
    public static int slot(DType t, int j) {
        return t == DType.BF16 ? (j < 8 ? 2 * j : 2 * (j - 8) + 1) : j;
    }

    /** Whether {@code w} can be packed: rank 2, F32/BF16/F16, N a multiple of 16. */
    public static boolean packable(Tensor w) { return packable(w.dtype(), w.shape()); }

    /** {@link #packable(Tensor)} from a dtype and shape alone (the converter decides before reading the data). */
    public static boolean packable(DType dtype, long[] shape) {
        return shape.length == 2 && shape[0] % PANEL == 0 && shape[0] > 0 && shape[1] > 0 && floating16or32(dtype);
    }

    /** Whether {@code t} is a packed weight (the shape {@link #pack} returns). */
    public static boolean isPacked(Tensor t) {
        return t.rank() == 3 && t.dim(2) == PANEL && t.isContiguous();
    }

    /** Whether a stored dtype and shape can hold a packed weight: [N/16 ≥ 1, K ≥ 1, 16], F32/BF16/F16. */
    public static boolean isPackedShape(DType dtype, long[] shape) {
        return shape.length == 3 && shape[2] == PANEL && shape[0] > 0 && shape[1] > 0 && floating16or32(dtype);
    }

    /** The packed shape [N/16, K, 16] of a weight [N, K] (N a multiple of 16). */
    public static long[] packedShape(long[] nk) {
        if (nk.length != 2 || nk[0] % PANEL != 0) throw new ShapeException("a packed Linear weight needs [N, K] with N a multiple of 16, got " + java.util.Arrays.toString(nk));
        return new long[]{nk[0] / PANEL, nk[1], PANEL};
    }

    /** The weight's own shape [N, K] of a packed shape [N/16, K, 16]. */
    public static long[] unpackedShape(long[] packed) {
        if (packed.length != 3 || packed[2] != PANEL) throw new ShapeException("not a packed Linear weight shape [N/16, K, 16]: " + java.util.Arrays.toString(packed));
        return new long[]{packed[0] * PANEL, packed[1]};
    }

    private static boolean floating16or32(DType t) { return t == DType.F32 || t == DType.BF16 || t == DType.F16; }

    /** The packed copy of {@code w} [N, K] (see {@link #packable}); panels are packed in parallel. */
    public static Tensor pack(CpuThreads pool, Tensor w) {
        if (!packable(w)) throw new ShapeException("cannot pack " + w.describe() + " as a Linear weight: need rank 2, F32/BF16/F16, rows a multiple of 16");
        int panels = Math.toIntExact(w.dim(0) / PANEL);
        long k = w.dim(1);
        DType t = w.dtype();
        Tensor out = Tensor.allocateUninitialized(t, panels, k, PANEL);
        long[] st = w.strides();
        MemorySegment src = w.storage(), dst = out.storage();
        long srcBase = w.byteOffset(), dstBase = out.byteOffset(), es = t.byteSize();
        int tasks = Math.min(panels, pool.threads() * 8);
        long n = w.dim(0);
        pool.parallelFor(tasks, task -> {
            int q0 = (int) ((long) panels * task / tasks), q1 = (int) ((long) panels * (task + 1) / tasks);
            for (int q = q0; q < q1; q++)
                for (long b = 0; b < k; b += KBLOCK) {
                    long kc = Math.min(KBLOCK, k - b);
                    panel(src, srcBase + ((long) q * PANEL * st[0] + b * st[1]) * es, st[0] * es, st[1], kc, t,
                            dst, dstBase + (b * n + (long) q * kc * PANEL) * es);
                }
        });
        return out;
    }

    /** 16 rows (row j at {@code src + j·ld} bytes, element stride {@code cs}) → dst[16p + j]. */
    private static void panel(MemorySegment src, long src0, long ld, long cs, long k, DType t, MemorySegment dst, long dst0) {
        if (t == DType.F32) {
            for (int j = 0; j < PANEL; j++)
                for (long p = 0; p < k; p++)
                    dst.set(F32_LE, dst0 + 4 * (PANEL * p + j), src.get(F32_LE, src0 + j * ld + 4 * p * cs));
            return;
        }
        long k4 = cs == 1 ? k & ~3L : 0;
        for (int j = 0; j < PANEL; j++) {
            long row = src0 + j * ld, o = dst0 + 2L * slot(t, j);
            long p = 0;
            for (; p < k4; p += 4) {            // four 16-bit values per 64-bit load
                long v = src.get(I64_LE, row + 2 * p);
                dst.set(I16_LE, o + 32 * p, (short) v);
                dst.set(I16_LE, o + 32 * (p + 1), (short) (v >>> 16));
                dst.set(I16_LE, o + 32 * (p + 2), (short) (v >>> 32));
                dst.set(I16_LE, o + 32 * (p + 3), (short) (v >>> 48));
            }
            for (; p < k; p++) dst.set(I16_LE, o + 32 * p, src.get(I16_LE, row + 2 * p * cs));
        }
    }

    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** kc groups of 16 interleaved bf16 (see the class comment) → dst[off + stride·p + j], exact. */
    private static void interleavedBf16(MemorySegment s, long src, int kc, float[] dst, int off, int stride) {
        for (int p = 0; p < kc; p++, src += 32, off += stride) {
            IntVector v = IntVector.fromMemorySegment(I8, s, src, LE);
            v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off);
            v.and(0xffff0000).reinterpretAsFloats().intoArray(dst, off + 8);
        }
    }

    /**
     * The [N, K] weight a packed one was made from, in the same dtype: the inverse permutation of
     * {@link #pack}, for backends whose linear wants the PyTorch layout (see Backend.linearWeight).
     */
    public static Tensor unpack(CpuThreads pool, Tensor packed) {
        if (!isPacked(packed)) throw new ShapeException("cannot unpack " + packed.describe() + ": not a packed Linear weight [N/16, K, 16] (contiguous)");
        int panels = Math.toIntExact(packed.dim(0));
        long n = outFeatures(packed), k = inFeatures(packed);
        DType t = packed.dtype();
        long es = t.byteSize();
        Tensor out = Tensor.allocateUninitialized(t, n, k);
        MemorySegment src = packed.storage(), dst = out.storage();
        long srcBase = packed.byteOffset(), dstBase = out.byteOffset();
        int tasks = Math.min(panels, pool.threads() * 8);
        pool.parallelFor(tasks, task -> {
            int q0 = (int) ((long) panels * task / tasks), q1 = (int) ((long) panels * (task + 1) / tasks);
            for (int q = q0; q < q1; q++)
                for (long b = 0; b < k; b += KBLOCK) {
                    long kc = Math.min(KBLOCK, k - b), s0 = srcBase + (b * n + (long) q * kc * PANEL) * es;
                    for (int j = 0; j < PANEL; j++) {
                        long d = dstBase + (((long) q * PANEL + j) * k + b) * es, s = s0 + slot(t, j) * es;
                        if (es == 4) for (long p = 0; p < kc; p++) dst.set(F32_LE, d + 4 * p, src.get(F32_LE, s + 4 * PANEL * p));
                        else for (long p = 0; p < kc; p++) dst.set(I16_LE, d + 2 * p, src.get(I16_LE, s + 2 * PANEL * p));
                    }
                }
        });
        return out;
    }

    /** {@link #unpack(CpuThreads, Tensor)} on the shared pool. */
    public static Tensor unpack(Tensor packed) { return unpack(CpuThreads.shared(), packed); }

    /** {@code w} in the PyTorch layout [N, K]: unpacked if it is packed, else itself. */
    public static Tensor plain(Tensor w) { return isPacked(w) ? unpack(w) : w; }

    /** The B operand view of a packed weight (K×N). */
    public static PackedB view(Tensor packed) {
        if (!isPacked(packed)) throw new ShapeException("not a packed Linear weight: " + packed.describe());
        return new PackedB(packed.storage(), packed.byteOffset(), packed.dtype(), outFeatures(packed), packed.dim(1));
    }

    /** N of the original weight. */
    public static long outFeatures(Tensor packed) { return packed.dim(0) * PANEL; }

    /** K of the original weight. */
    public static long inFeatures(Tensor packed) { return packed.dim(1); }

    /**
     * The K×N B operand over packed panels: a panel's K block is {@code kc·16} contiguous values,
     * widened straight into the kernel's float panel. Asked for whole K blocks (p0 a multiple of
     * KBLOCK) and whole panels, as {@link Gemm} does.
     */
    public record PackedB(MemorySegment seg, long base, DType dtype, long n, long k) implements GemmB {
        /** Byte offset of K block p0 (a multiple of KBLOCK, kc columns) of the panel holding column j0. */
        long panelOffset(int p0, int kc, int j0) {
            return base + ((long) p0 * n + (long) (j0 / PANEL) * kc * PANEL) * dtype.byteSize();
        }

        /** Two adjacent panels (j0 a multiple of 16, j0 + 32 ≤ N) of K block p0, each widened in one contiguous pass. */
        @Override
        public void packPanel32(int p0, int kc, int j0, float[] dst, int dstOff) {
            long lo = panelOffset(p0, kc, j0), hi = panelOffset(p0, kc, j0 + PANEL);
            int o = dstOff, o2 = dstOff + PANEL;
            switch (dtype) {
                case BF16 -> { interleavedBf16(seg, lo, kc, dst, o, 32); interleavedBf16(seg, hi, kc, dst, o2, 32); }
                case F32 -> { GemmPack.rowsF32(seg, lo, 4L * PANEL, kc, dst, o, 32); GemmPack.rowsF32(seg, hi, 4L * PANEL, kc, dst, o2, 32); }
                default -> { GemmPack.rowsF16(seg, lo, 2L * PANEL, kc, dst, o, 32); GemmPack.rowsF16(seg, hi, 2L * PANEL, kc, dst, o2, 32); }
            }
        }

        @Override
        public void packPanel(int p0, int kc, int j0, int nr, float[] dst, int dstOff) {
            if (j0 % PANEL != 0 || nr != PANEL) throw new IllegalStateException("packed panels are read whole: j0 " + j0 + ", nr " + nr);
            if (p0 % KBLOCK != 0 || (kc != KBLOCK && p0 + kc != k)) throw new IllegalStateException("packed K blocks are read whole: p0 " + p0 + ", kc " + kc);
            long es = dtype.byteSize(), src = base + ((long) p0 * n + (long) (j0 / PANEL) * kc * PANEL) * es;
            switch (dtype) {
                case F32 -> GemmPack.rowsF32(seg, src, 4L * PANEL, kc, dst, dstOff);
                case BF16 -> interleavedBf16(seg, src, kc, dst, dstOff, PANEL);
                default -> GemmPack.rowsF16(seg, src, 2L * PANEL, kc, dst, dstOff);
            }
        }
    }
}
