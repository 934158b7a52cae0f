package dev.infinityj.backend;

import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * PyTorch's F.interpolate for channel-first [C, H, W] maps, align_corners=False, with the same
 * float32 index arithmetic as ATen's CPU kernels (UpSample.h: area_pixel_compute_scale /
 * area_pixel_compute_source_index use opmath float for float tensors), so indices and weights
 * round exactly as in PyTorch.
 */
public final class InterpolationReference {
    private InterpolationReference() {}

    public static Tensor interpolate(Tensor x, int outH, int outW, Interpolation mode) {
        int c = (int) x.dim(0), ih = (int) x.dim(1), iw = (int) x.dim(2);
        Tensor out = Tensor.allocate(DType.F32, c, outH, outW);
        MemorySegment xs = x.contiguous().segment(), os = out.segment();
        float sh = (float) ih / outH, sw = (float) iw / outW;
        for (int ch = 0; ch < c; ch++) {
            long ib = (long) ch * ih * iw, ob = (long) ch * outH * outW;
            switch (mode) {
                case BILINEAR -> {
                    for (int y = 0; y < outH; y++) {
                        float sy = Math.max(sh * (y + 0.5f) - 0.5f, 0f);
                        int y0 = (int) sy, y1 = Math.min(y0 + 1, ih - 1);
                        float ly = sy - y0, hy = 1f - ly;
                        for (int xx = 0; xx < outW; xx++) {
                            float sx = Math.max(sw * (xx + 0.5f) - 0.5f, 0f);
                            int x0 = (int) sx, x1 = Math.min(x0 + 1, iw - 1);
                            float lx = sx - x0, hx = 1f - lx;
                            float v = hy * (hx * at(xs, ib, iw, y0, x0) + lx * at(xs, ib, iw, y0, x1))
                                    + ly * (hx * at(xs, ib, iw, y1, x0) + lx * at(xs, ib, iw, y1, x1));
                            os.setAtIndex(F32_LE, ob + (long) y * outW + xx, v);
                        }
                    }
                }
                case BICUBIC -> {
                    for (int y = 0; y < outH; y++) {
                        float sy = sh * (y + 0.5f) - 0.5f;
                        int fy = (int) Math.floor(sy);
                        float[] wy = cubicWeights(sy - fy);
                        for (int xx = 0; xx < outW; xx++) {
                            float sx = sw * (xx + 0.5f) - 0.5f;
                            int fx = (int) Math.floor(sx);
                            float[] wx = cubicWeights(sx - fx);
                            float v = 0;
                            for (int a = 0; a < 4; a++) {
                                int yy = Math.clamp(fy - 1 + a, 0, ih - 1);
                                float row = 0;
                                for (int b = 0; b < 4; b++) row += wx[b] * at(xs, ib, iw, yy, Math.clamp(fx - 1 + b, 0, iw - 1));
                                v += wy[a] * row;
                            }
                            os.setAtIndex(F32_LE, ob + (long) y * outW + xx, v);
                        }
                    }
                }
                case AREA -> {
                    for (int y = 0; y < outH; y++) {
                        int y0 = (int) Math.floor((double) y * ih / outH), y1 = (int) Math.ceil((double) (y + 1) * ih / outH);
                        for (int xx = 0; xx < outW; xx++) {
                            int x0 = (int) Math.floor((double) xx * iw / outW), x1 = (int) Math.ceil((double) (xx + 1) * iw / outW);
                            float sum = 0;
                            for (int yy = y0; yy < y1; yy++) for (int q = x0; q < x1; q++) sum += at(xs, ib, iw, yy, q);
                            os.setAtIndex(F32_LE, ob + (long) y * outW + xx, sum / ((y1 - y0) * (x1 - x0)));
                        }
                    }
                }
                case NEAREST, NEAREST_EXACT -> {
                    boolean exact = mode == Interpolation.NEAREST_EXACT;
                    for (int y = 0; y < outH; y++) {
                        int yy = Math.min((int) Math.floor(exact ? (y + 0.5f) * sh : y * sh), ih - 1);
                        for (int xx = 0; xx < outW; xx++) {
                            int q = Math.min((int) Math.floor(exact ? (xx + 0.5f) * sw : xx * sw), iw - 1);
                            os.setAtIndex(F32_LE, ob + (long) y * outW + xx, at(xs, ib, iw, yy, q));
                        }
                    }
                }
            }
        }
        return out;
    }

    private static float at(MemorySegment s, long base, int w, int y, int x) {
        return s.getAtIndex(F32_LE, base + (long) y * w + x);
    }

    /** PyTorch's cubic convolution weights with A = -0.75 for fractional offset t. */
    static float[] cubicWeights(float t) {
        float a = -0.75f;
        float x1 = t + 1, x2 = t, x3 = 1 - t, x4 = 2 - t;
        return new float[] {
                ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a,
                ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1,
                ((a + 2) * x3 - (a + 3)) * x3 * x3 + 1,
                ((a * x4 - 5 * a) * x4 + 8 * a) * x4 - 4 * a };
    }
}
