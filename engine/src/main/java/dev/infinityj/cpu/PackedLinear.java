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
    public static boolean packable(Tensor w) {
        return w.rank() == 2 && w.dim(0) % PANEL == 0 && w.dim(0) > 0 && w.dim(1) > 0
                && (w.dtype() == DType.F32 || w.dtype() == DType.BF16 || w.dtype() == DType.F16);
    }

    /** Whether {@code t} is a packed weight (the shape {@link #pack} returns). */
    public static boolean isPacked(Tensor t) {
        return t.rank() == 3 && t.dim(2) == PANEL && t.isContiguous();
    }

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
