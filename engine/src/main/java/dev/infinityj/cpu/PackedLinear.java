package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static dev.infinityj.tensor.Tensor.I16_LE;
import static dev.infinityj.tensor.Tensor.I64_LE;

/**
 * A {@code Linear.weight} [N, K] repacked once into the GEMM's B-panel order: a tensor
 * [N/16, K, 16] in the weight's own dtype, panel q holding rows 16q…16q+15 of the weight
 * transposed, so element (p, j) of panel q is W[16q + j, p]. Packing a B block for {@link Gemm}
 * is then a contiguous widening ({@link PackedB}) instead of a 16-row transposition on every call
 * — that transposition was half the micro-kernel's time at the 2B transformer's middle scales
 * (M = 72…128 rows), and the [N, K] streaming path for small M spent a third of its time widening.
 *
 * <p>Same bytes as the original; values unchanged (a permutation), so GEMM results are bit for bit
 * those of the unpacked weight through the same blocked path.
 */
public final class PackedLinear {
    private PackedLinear() {}

    public static final int PANEL = Gemm.NR;

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
        pool.parallelFor(tasks, task -> {
            int q0 = (int) ((long) panels * task / tasks), q1 = (int) ((long) panels * (task + 1) / tasks);
            for (int q = q0; q < q1; q++)
                panel(src, srcBase + (long) q * PANEL * st[0] * es, st[0] * es, st[1], k, t, dst, dstBase + (long) q * k * PANEL * es);
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
            long row = src0 + j * ld, o = dst0 + 2L * j;
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

    /**
     * The [N, K] weight a packed one was made from, in the same dtype: the inverse permutation of
     * {@link #pack}, for backends whose linear wants the PyTorch layout (see Backend.linearWeight).
     */
    public static Tensor unpack(CpuThreads pool, Tensor packed) {
        if (!isPacked(packed)) throw new ShapeException("cannot unpack " + packed.describe() + ": not a packed Linear weight [N/16, K, 16] (contiguous)");
        int panels = Math.toIntExact(packed.dim(0));
        long k = packed.dim(1), es = packed.dtype().byteSize();
        Tensor out = Tensor.allocateUninitialized(packed.dtype(), (long) panels * PANEL, k);
        MemorySegment src = packed.storage(), dst = out.storage();
        long srcBase = packed.byteOffset(), dstBase = out.byteOffset();
        boolean wide = es == 4;
        int tasks = Math.min(panels, pool.threads() * 8);
        pool.parallelFor(tasks, task -> {
            int q0 = (int) ((long) panels * task / tasks), q1 = (int) ((long) panels * (task + 1) / tasks);
            for (int q = q0; q < q1; q++) {
                long s0 = srcBase + (long) q * k * PANEL * es, d0 = dstBase + (long) q * PANEL * k * es;
                for (int j = 0; j < PANEL; j++) {
                    long d = d0 + j * k * es, s = s0 + j * es;
                    if (wide) for (long p = 0; p < k; p++) dst.set(F32_LE, d + 4 * p, src.get(F32_LE, s + 4 * PANEL * p));
                    else for (long p = 0; p < k; p++) dst.set(I16_LE, d + 2 * p, src.get(I16_LE, s + 2 * PANEL * p));
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
        return new PackedB(packed.storage(), packed.byteOffset(), packed.dtype(), packed.dim(1));
    }

    /** N of the original weight. */
    public static long outFeatures(Tensor packed) { return packed.dim(0) * PANEL; }

    /** K of the original weight. */
    public static long inFeatures(Tensor packed) { return packed.dim(1); }

    /**
     * The K×N B operand over packed panels: a panel's K block is {@code kc·16} contiguous values,
     * widened straight into the kernel's float panel.
     */
    public record PackedB(MemorySegment seg, long base, DType dtype, long k) implements GemmB {
        @Override
        public void packPanel(int p0, int kc, int j0, int nr, float[] dst, int dstOff) {
            if (j0 % PANEL != 0 || nr != PANEL) throw new IllegalStateException("packed panels are read whole: j0 " + j0 + ", nr " + nr);
            long es = dtype.byteSize(), src = base + ((j0 / PANEL) * k + p0) * PANEL * es;
            switch (dtype) {
                case F32 -> GemmPack.rowsF32(seg, src, 4L * PANEL, kc, dst, dstOff);
                case BF16 -> GemmPack.rowsBf16(seg, src, 2L * PANEL, kc, dst, dstOff);
                default -> GemmPack.rowsF16(seg, src, 2L * PANEL, kc, dst, dstOff);
            }
        }
    }
}
