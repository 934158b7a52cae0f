package dev.infinityj.image;

import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.*;

/**
 * The Lanczos resize against a float64 continuous reference (same Pillow kernel geometry, no
 * fixed point and no 8-bit intermediate), plus exact identities and the official crop geometry.
 */
class ImageTransformsTest {

    static double lanczos(double x) {
        if (x <= -3 || x >= 3) return 0;
        if (x == 0) return 1;
        double a = Math.PI * x, b = a / 3;
        return Math.sin(a) / a * (Math.sin(b) / b);
    }

    /** Normalised weights of output index o along an axis (in → out), as a dense row over the input. */
    static double[] weights(int in, int out, int o) {
        double scale = (double) in / out, fs = Math.max(scale, 1), sup = 3 * fs, c = (o + 0.5) * scale;
        double[] w = new double[in];
        double sum = 0;
        for (int i = 0; i < in; i++) {
            if (i + 0.5 <= c - sup - 1 || i >= c + sup + 1) continue;
            w[i] = lanczos((i + 0.5 - c) / fs);
            sum += w[i];
        }
        for (int i = 0; i < in; i++) w[i] /= sum;
        return w;
    }

    static double[] reference(RgbImage img, int ow, int oh) {
        int w = img.width(), h = img.height();
        double[] out = new double[ow * oh * 3];
        for (int y = 0; y < oh; y++) {
            double[] wy = oh == h ? unit(h, y) : weights(h, oh, y);
            for (int x = 0; x < ow; x++) {
                double[] wx = ow == w ? unit(w, x) : weights(w, ow, x);
                for (int c = 0; c < 3; c++) {
                    double s = 0;
                    for (int yy = 0; yy < h; yy++) {
                        if (wy[yy] == 0) continue;
                        double row = 0;
                        for (int xx = 0; xx < w; xx++) if (wx[xx] != 0) row += wx[xx] * img.get(xx, yy, c);
                        s += wy[yy] * Math.min(255, Math.max(0, row));
                    }
                    out[(y * ow + x) * 3 + c] = Math.min(255, Math.max(0, s));
                }
            }
        }
        return out;
    }

    static double[] unit(int n, int i) { double[] u = new double[n]; u[i] = 1; return u; }

    @Test
    void lanczosMatchesContinuousReference() {
        RgbImage img = PngTest.randomImage(47, 31, 9);
        int[][] sizes = {{20, 13}, {90, 70}, {47, 15}, {16, 31}, {61, 40}};
        for (int[] s : sizes) {
            RgbImage r = ImageTransforms.resizeLanczos(img, s[0], s[1]);
            double[] ref = reference(img, s[0], s[1]);
            int off = 0;
            for (int i = 0; i < ref.length; i++) {
                double d = Math.abs((r.rgb()[i] & 0xff) - ref[i]);
                assertTrue(d <= 2.5, s[0] + "x" + s[1] + " value " + i + ": " + (r.rgb()[i] & 0xff) + " vs " + ref[i]);
                if (d > 1) off++;
            }
            assertTrue(off <= ref.length / 50, s[0] + "x" + s[1] + ": " + off + " values more than 1 away");
        }
    }

    @Test
    void constantImagesStayConstantAndSameSizeIsIdentity() {
        byte[] px = new byte[30 * 20 * 3];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i % 3 == 0 ? 200 : i % 3 == 1 ? 7 : 255);
        RgbImage flat = new RgbImage(30, 20, px);
        RgbImage r = ImageTransforms.resizeLanczos(flat, 13, 45);
        for (int y = 0; y < 45; y++)
            for (int x = 0; x < 13; x++) {
                assertEquals(200, r.get(x, y, 0));
                assertEquals(7, r.get(x, y, 1));
                assertEquals(255, r.get(x, y, 2));
            }
        RgbImage img = PngTest.randomImage(30, 20, 4);
        assertArrayEquals(img.rgb(), ImageTransforms.resizeLanczos(img, 30, 20).rgb());
    }

    @Test
    void coverThenCentreCropGeometry() {
        // a 300x200 picture into 256x256: height limits → 384x256, crop x from (384-256)//2 = 64
        RgbImage img = PngTest.randomImage(300, 200, 5);
        RgbImage out = ImageTransforms.coverAndCenterCrop(img, 256, 256);
        assertEquals(256, out.width());
        assertEquals(256, out.height());
        RgbImage resized = ImageTransforms.resizeLanczos(img, 384, 256);
        assertArrayEquals(ImageTransforms.crop(resized, 64, 0, 256, 256).rgb(), out.rgb());
        // tall 100x400 into 320x240 (w/h 0.25 <= 4/3): width limits → 320x1280, crop y from 520
        RgbImage tall = PngTest.randomImage(100, 400, 6);
        RgbImage t = ImageTransforms.coverAndCenterCrop(tall, 320, 240);
        assertArrayEquals(ImageTransforms.crop(ImageTransforms.resizeLanczos(tall, 320, 1280), 0, 520, 320, 240).rgb(), t.rgb());
        // already the target size: unchanged
        RgbImage same = PngTest.randomImage(64, 48, 7);
        assertArrayEquals(same.rgb(), ImageTransforms.coverAndCenterCrop(same, 64, 48).rgb());
    }
}
