package dev.infinityj.vae;

import dev.infinityj.ShapeException;

/**
 * 2×2 spatial patchify of the 8B model (spec §4.6): a transformer token of 4·d bits at (y, x)
 * holds the VAE latent's 2×2 block, with token channel {@code c·4 + dy·2 + dx} ↔ latent channel c
 * at (2y+dy, 2x+dx) (torch pixel_shuffle / pixel_unshuffle with factor 2).
 */
public final class PixelShuffle {
    private PixelShuffle() {}

    /** pixel_shuffle: channel-first [4c, h, w] → [c, 2h, 2w]. */
    public static float[] shuffle(float[] x, int c4, int h, int w) {
        if (c4 % 4 != 0 || x.length != c4 * h * w) throw new ShapeException("pixel_shuffle: " + x.length + " values, " + c4 + " channels (multiple of 4 needed) x " + h + "x" + w);
        int c = c4 / 4, h2 = 2 * h, w2 = 2 * w;
        float[] out = new float[x.length];
        for (int ch = 0; ch < c; ch++)
            for (int d = 0; d < 4; d++)
                for (int y = 0; y < h; y++)
                    for (int q = 0; q < w; q++)
                        out[(ch * h2 + 2 * y + d / 2) * w2 + 2 * q + d % 2] = x[((ch * 4 + d) * h + y) * w + q];
        return out;
    }

    /** pixel_unshuffle: channel-first [c, 2h, 2w] → [4c, h, w]. */
    public static float[] unshuffle(float[] x, int c, int h2, int w2) {
        if (h2 % 2 != 0 || w2 % 2 != 0 || x.length != c * h2 * w2) throw new ShapeException("pixel_unshuffle: " + c + "x" + h2 + "x" + w2 + " (even sizes needed), " + x.length + " values");
        int h = h2 / 2, w = w2 / 2;
        float[] out = new float[x.length];
        for (int ch = 0; ch < c; ch++)
            for (int d = 0; d < 4; d++)
                for (int y = 0; y < h; y++)
                    for (int q = 0; q < w; q++)
                        out[((ch * 4 + d) * h + y) * w + q] = x[(ch * h2 + 2 * y + d / 2) * w2 + 2 * q + d % 2];
        return out;
    }

    /** Token-major bits of the latent grid [2h·2w·d] → transformer tokens [h·w·4d]. */
    public static byte[] bitsToTokens(byte[] bits, int h2, int w2, int d) {
        if (h2 % 2 != 0 || w2 % 2 != 0 || bits.length != h2 * w2 * d) throw new ShapeException("patchify bits: " + bits.length + " bits for a " + h2 + "x" + w2 + "x" + d + " grid (even sizes needed)");
        int h = h2 / 2, w = w2 / 2;
        byte[] out = new byte[bits.length];
        for (int y = 0; y < h; y++)
            for (int q = 0; q < w; q++)
                for (int c = 0; c < d; c++)
                    for (int k = 0; k < 4; k++)
                        out[(y * w + q) * 4 * d + c * 4 + k] = bits[((2 * y + k / 2) * w2 + 2 * q + k % 2) * d + c];
        return out;
    }

    /** Transformer tokens [h·w·4d] → token-major bits of the latent grid [2h·2w·d]. */
    public static byte[] tokensToBits(byte[] tokens, int h, int w, int d) {
        if (tokens.length != h * w * 4 * d) throw new ShapeException("patchify tokens: " + tokens.length + " bits for " + h + "x" + w + " tokens of " + 4 * d);
        int w2 = 2 * w;
        byte[] out = new byte[tokens.length];
        for (int y = 0; y < h; y++)
            for (int q = 0; q < w; q++)
                for (int c = 0; c < d; c++)
                    for (int k = 0; k < 4; k++)
                        out[((2 * y + k / 2) * w2 + 2 * q + k % 2) * d + c] = tokens[(y * w + q) * 4 * d + c * 4 + k];
        return out;
    }
}
