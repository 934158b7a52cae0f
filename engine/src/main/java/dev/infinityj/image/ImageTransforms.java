package dev.infinityj.image;

import dev.infinityj.BadInputException;

/**
 * The official input transform for the VAE encoder (tools/run_infinity.py {@code transform}):
 * resize with PIL's LANCZOS so the image covers the target (the side that limits keeps the
 * target size, the other is {@code int()}-truncated), then crop the centre
 * ({@code (size − target) // 2} from the top/left). The resize reproduces Pillow's
 * {@code ImagingResample} for 8-bit images: separable Lanczos-3 with support scaled by the
 * downscale factor, coefficients normalised then quantised to 22-bit fixed point, horizontal
 * pass first with the intermediate rounded and clipped to 8 bits, then the vertical pass.
 */
public final class ImageTransforms {
    /** Pillow's PRECISION_BITS for 8-bit resampling (32 − 8 − 2). */
    private static final int PRECISION_BITS = 22;
    private static final double LANCZOS_SUPPORT = 3.0;

    private ImageTransforms() {}

    /** Resize-to-cover then centre-crop to exactly {@code targetW}×{@code targetH}, as the official transform. */
    public static RgbImage coverAndCenterCrop(RgbImage img, int targetW, int targetH) {
        if (targetW <= 0 || targetH <= 0) throw new BadInputException("target size " + targetW + "x" + targetH + " is not positive");
        int w = img.width(), h = img.height();
        double aspect = (double) w / h;
        int rw, rh;
        if (aspect <= (double) targetW / targetH) {
            rw = targetW;
            rh = (int) (targetW / aspect);
        } else {
            rh = targetH;
            rw = (int) (aspect * targetH);
        }
        // float rounding can land one pixel short of the target, where the official code would fail
        rw = Math.max(rw, targetW);
        rh = Math.max(rh, targetH);
        RgbImage r = resizeLanczos(img, rw, rh);
        return crop(r, (rw - targetW) / 2, (rh - targetH) / 2, targetW, targetH);
    }

    public static RgbImage crop(RgbImage img, int x0, int y0, int w, int h) {
        if (x0 < 0 || y0 < 0 || x0 + w > img.width() || y0 + h > img.height())
            throw new BadInputException("crop " + w + "x" + h + "+" + x0 + "+" + y0 + " outside the image " + img.width() + "x" + img.height());
        byte[] out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) System.arraycopy(img.rgb(), ((y0 + y) * img.width() + x0) * 3, out, y * w * 3, w * 3);
        return new RgbImage(w, h, out);
    }

    /** Pillow's {@code Image.resize(size, LANCZOS)} of an 8-bit RGB image. */
    public static RgbImage resizeLanczos(RgbImage img, int outW, int outH) {
        if (outW <= 0 || outH <= 0) throw new BadInputException("resize to " + outW + "x" + outH + " is not positive");
        int inW = img.width(), inH = img.height();
        if (outW == inW && outH == inH) return new RgbImage(inW, inH, img.rgb().clone());
        byte[] px = img.rgb();
        int curW = inW;
        if (outW != inW) {
            Coeffs c = coeffs(inW, outW);
            px = horizontal(px, inW, inH, outW, c);
            curW = outW;
        }
        if (outH != inH) {
            Coeffs c = coeffs(inH, outH);
            px = vertical(px, curW, outH, c);
        }
        return new RgbImage(outW, outH, px);
    }

    /** Per output index: first input index, tap count, fixed-point weights (ksize per output). */
    private record Coeffs(int[] min, int[] count, int[] k, int ksize) {}

    private static double sinc(double x) {
        if (x == 0.0) return 1.0;
        x = x * Math.PI;
        return Math.sin(x) / x;
    }

    private static double lanczos(double x) {
        return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
    }

    /** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize). */
    private static Coeffs coeffs(int inSize, int outSize) {
        double scale = (double) inSize / outSize;
        double filterscale = Math.max(scale, 1.0);
        double support = LANCZOS_SUPPORT * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] min = new int[outSize], count = new int[outSize], k = new int[outSize * ksize];
        double[] w = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterscale;
            int xmin = (int) (center - support + 0.5);   // C cast: truncation toward zero
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                w[x] = lanczos((x + xmin - center + 0.5) * ss);
                ww += w[x];
            }
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0.0 ? w[x] / ww : w[x];
                k[xx * ksize + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            min[xx] = xmin;
            count[xx] = xmax;
        }
        return new Coeffs(min, count, k, ksize);
    }

    private static int clip8(int v) {
        if (v >= (1 << PRECISION_BITS << 8)) return 255;
        if (v <= 0) return 0;
        return v >> PRECISION_BITS;
    }

    private static byte[] horizontal(byte[] in, int inW, int h, int outW, Coeffs c) {
        byte[] out = new byte[outW * h * 3];
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < outW; xx++) {
                int xmin = c.min[xx], n = c.count[xx], kb = xx * c.ksize;
                for (int ch = 0; ch < 3; ch++) {
                    int ss = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < n; x++) ss += (in[(y * inW + x + xmin) * 3 + ch] & 0xff) * c.k[kb + x];
                    out[(y * outW + xx) * 3 + ch] = (byte) clip8(ss);
                }
            }
        return out;
    }

    private static byte[] vertical(byte[] in, int w, int outH, Coeffs c) {
        byte[] out = new byte[w * outH * 3];
        for (int yy = 0; yy < outH; yy++) {
            int ymin = c.min[yy], n = c.count[yy], kb = yy * c.ksize;
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < 3; ch++) {
                    int ss = 1 << (PRECISION_BITS - 1);
                    for (int y = 0; y < n; y++) ss += (in[((y + ymin) * w + x) * 3 + ch] & 0xff) * c.k[kb + y];
                    out[(yy * w + x) * 3 + ch] = (byte) clip8(ss);
                }
        }
        return out;
    }
}
