package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * Implicit im2col of an F32 map x [C, H, W] as the B operand (K = C·kh·kw rows, N = outH·outW
 * columns) of a convolution written as a GEMM: out[O, outH·outW] = w[O, C·kh·kw] · col. The
 * column matrix is never materialised: each packed [k][16] panel is gathered straight from x
 * (16 consecutive output pixels; k = (c·kh + dy)·kw + dx, the row order of a flattened
 * Conv2d.weight), so memory stays bounded by the GEMM's packing buffers whatever the map size.
 * A panel inside one output row and away from the borders is two vector loads per k row
 * (stride 1) or a branch-free strided gather (stride 2); the rest is a checked scalar gather.
 * x rows must be contiguous (element stride 1 along W); channel and row strides are free, so
 * row-band views of a larger map are read in place.
 */
public final class ConvInput implements GemmB {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final MemorySegment seg;
    private final long base, chStride, rowStride;
    private final int h, w, kh, kw, stride, pad, outW;

    /**
     * @param base      byte offset of x[0, 0, 0]
     * @param chStride  elements between channels
     * @param rowStride elements between rows
     */
    public ConvInput(MemorySegment seg, long base, long chStride, long rowStride, int h, int w,
                     int kh, int kw, int stride, int pad) {
        if (stride < 1 || pad < 0) throw new ShapeException("conv: stride must be >= 1 and padding >= 0, got " + stride + ", " + pad);
        if (seg.heapBase().isPresent()) throw new IllegalArgumentException("conv input must be a native or mapped segment");
        this.seg = seg; this.base = base; this.chStride = chStride; this.rowStride = rowStride;
        this.h = h; this.w = w; this.kh = kh; this.kw = kw; this.stride = stride; this.pad = pad;
        this.outW = outSize(w, kw, stride, pad);
        if (outW < 1 || outSize(h, kh, stride, pad) < 1)
            throw new ShapeException("conv: kernel " + kh + "x" + kw + " does not fit input " + h + "x" + w + " with padding " + pad);
    }

    public static int outSize(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

    @Override
    public void packPanel(int p0, int kc, int j0, int nr, float[] dst, int off) {
        int oy0 = j0 / outW, ox0 = j0 % outW;
        int taps = kh * kw;
        int ci = p0 / taps, t = p0 % taps, dy = t / kw, dx = t % kw;
        boolean oneRow = nr == 16 && ox0 + 16 <= outW;
        for (int p = 0; p < kc; p++, off += 16) {
            if (oneRow) rowPanel(ci, oy0 * stride - pad + dy, ox0 * stride - pad + dx, dst, off);
            else generalPanel(ci, dy, dx, j0, nr, dst, off);
            if (++dx == kw) { dx = 0; if (++dy == kh) { dy = 0; ci++; } }
        }
    }

    /** Input pixels ix, ix+stride, … (16) of row iy, zeros outside the map; one output row's panel. */
    private void rowPanel(int ci, int iy, int ix, float[] dst, int off) {
        if (iy < 0 || iy >= h) {
            for (int j = 0; j < 16; j++) dst[off + j] = 0f;
            return;
        }
        long row = base + 4 * (ci * chStride + iy * rowStride);
        if (ix >= 0 && ix + 15 * stride < w) {
            if (stride == 1) {
                FloatVector.fromMemorySegment(Widen.F, seg, row + 4L * ix, LE).intoArray(dst, off);
                FloatVector.fromMemorySegment(Widen.F, seg, row + 4L * ix + 32, LE).intoArray(dst, off + 8);
            } else {
                long step = 4L * stride, src = row + 4L * ix;
                for (int j = 0; j < 16; j++) dst[off + j] = seg.get(F32_LE, src + j * step);
            }
        } else if (stride == 1 && ix == -1 && w >= 15) {           // left border of a pad-1 conv
            dst[off] = 0f;
            FloatVector.fromMemorySegment(Widen.F, seg, row, LE).intoArray(dst, off + 1);
            FloatVector.fromMemorySegment(Widen.F, seg, row + 28, LE).intoArray(dst, off + 8);
        } else if (stride == 1 && ix + 15 == w && ix >= 0) {      // right border of a pad-1 conv
            FloatVector.fromMemorySegment(Widen.F, seg, row + 4L * ix, LE).intoArray(dst, off);
            FloatVector.fromMemorySegment(Widen.F, seg, row + 4L * ix + 28, LE).intoArray(dst, off + 7);
            dst[off + 15] = 0f;
        } else {
            for (int j = 0; j < 16; j++) {
                int x = ix + j * stride;
                dst[off + j] = x >= 0 && x < w ? seg.get(F32_LE, row + 4L * x) : 0f;
            }
        }
    }

    /** Panels crossing output rows, and the last partial panel. */
    private void generalPanel(int ci, int dy, int dx, int j0, int nr, float[] dst, int off) {
        int oy = j0 / outW, ox = j0 % outW;
        long chan = base + 4 * (ci * chStride);
        for (int j = 0; j < 16; j++) {
            float v = 0f;
            if (j < nr) {
                int iy = oy * stride - pad + dy, ix = ox * stride - pad + dx;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = seg.get(F32_LE, chan + 4 * (iy * rowStride + ix));
                if (++ox == outW) { ox = 0; oy++; }
            }
            dst[off + j] = v;
        }
    }
}
