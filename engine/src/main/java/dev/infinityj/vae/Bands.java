package dev.infinityj.vae;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Row-band evaluation of maps [C, H, W] so that large decoder levels never hold more than the
 * inputs and outputs of one layer plus one band of temporaries. Every output row is computed
 * from exactly the same inputs as in the whole-map evaluation (3×3 convs read a one-row halo;
 * GroupNorm uses the whole map's statistics), so results are identical to the untiled path —
 * bit for bit with the implicit-GEMM convolution; with Winograd convolutions (large maps on the
 * CPU) up to fp32 rounding, since a band's 4×4 output tiles start at its own first row.
 */
final class Bands {
    private Bands() {}

    /** Output rows [y0, y1) of a layer, as a tensor [C, y1−y0, W] (views allowed). */
    @FunctionalInterface
    interface BandOp {
        Tensor rows(int y0, int y1);
    }

    /** Rows per band for a map of {@code channels}×{@code width} floats within {@code budgetBytes} (at least 1). */
    static int rowsFor(long budgetBytes, long channels, long width) {
        long r = budgetBytes / Math.max(1, channels * width * 4);
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, r));
    }

    /**
     * Evaluates {@code op} band by band into one host map [c, h, w]. A single band (bandRows ≥ h)
     * is returned as the backend computed it, without a round trip through host memory.
     */
    static Tensor assemble(Backend be, int c, int h, int w, int bandRows, BandOp op) {
        if (bandRows >= h) return op.rows(0, h); // the whole-range view of a contiguous result
        Tensor out = Tensor.allocateUninitialized(DType.F32, c, h, w);   // every row is written below
        MemorySegment dst = out.segment();
        long rowBytes = (long) w * 4;
        for (int y0 = 0; y0 < h; y0 += bandRows) {
            int y1 = Math.min(h, y0 + bandRows), n = y1 - y0;
            Tensor b = denseRows(be.download(op.rows(y0, y1)));
            long[] st = b.strides();
            for (int ch = 0; ch < c; ch++)
                MemorySegment.copy(b.storage(), b.byteOffset() + 4 * ch * st[0], dst, ((long) ch * h + y0) * rowBytes, n * rowBytes);
        }
        return out;
    }

    /** The input of a banded layer: host memory when it is read in several bands (band views are host views). */
    static Tensor source(Backend be, Tensor x, int bandRows) {
        return bandRows >= x.dim(1) ? x : be.download(x).contiguous();
    }

    /** Rows [a, b) of a map [C, H, W] (a view). */
    static Tensor rows(Tensor x, int a, int b) { return x.slice(1, a, b); }

    /** x [C, n, W] F32 itself when each channel's rows are one dense block (row stride W, element stride 1), else a copy. */
    private static Tensor denseRows(Tensor x) {
        long[] st = x.strides();
        boolean dense = x.dtype() == DType.F32 && st[2] == 1 && (st[1] == x.dim(2) || x.dim(1) == 1);
        return dense ? x : x.contiguous();
    }

    /**
     * Rows [a, b) of a host map [C, H, W] as a contiguous tensor (one bulk copy per channel; the
     * kernels would otherwise copy a band view element by element), or the whole map itself.
     */
    static Tensor hostRows(Tensor x, int a, int b) {
        if (a == 0 && b == x.dim(1)) return rows(x, a, b);
        Tensor v = rows(x, a, b);
        long[] st = v.strides();
        if (v.dtype() != DType.F32 || st[2] != 1 || st[1] != v.dim(2)) return v.contiguous();
        int c = (int) v.dim(0);
        long block = 4L * (b - a) * v.dim(2);
        Tensor out = Tensor.allocateUninitialized(DType.F32, c, b - a, v.dim(2));
        for (int ch = 0; ch < c; ch++)
            MemorySegment.copy(v.storage(), v.byteOffset() + 4 * ch * st[0], out.storage(), out.byteOffset() + ch * block, block);
        return out;
    }

    /** Output rows [y0, y1) of conv3×3(pad 1)(swish(GN(x))) with the whole map's GN statistics. */
    static Tensor normSwishConv(Backend be, Tensor x, Norm norm, Tensor stats, Conv conv, int y0, int y1) {
        int h = (int) x.dim(1);
        int a = Math.max(0, y0 - 1), b = Math.min(h, y1 + 1);
        Tensor c = conv.forward(be, norm.swish(be, be.upload(hostRows(x, a, b)), stats));
        return rows(c, y0 - a, y1 - a);
    }

    /** Output rows [y0, y1) (at 2H) of conv3×3(pad 1)(nearest×2(x)), the decoder's Upsample. */
    static Tensor upsampleConv(Backend be, Tensor x, Conv conv, int y0, int y1) {
        int h2 = 2 * (int) x.dim(1), w2 = 2 * (int) x.dim(2);
        int a = Math.max(0, y0 - 1), b = Math.min(h2, y1 + 1);
        int i0 = a / 2, i1 = (b - 1) / 2 + 1;   // input rows whose copies cover [a, b)
        Tensor u = be.interpolate(be.upload(rows(x, i0, i1)), 2 * (i1 - i0), w2, dev.infinityj.backend.Interpolation.NEAREST);
        Tensor c = conv.forward(be, u);
        return rows(c, y0 - 2 * i0, y1 - 2 * i0);
    }
}
