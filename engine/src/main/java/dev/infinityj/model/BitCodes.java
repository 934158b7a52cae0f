package dev.infinityj.model;

/**
 * Bits ↔ codes of the binary spherical quantizer (spec §5.4): bit 1 ↦ +1/√d, bit 0 ↦ −1/√d
 * (already unit-norm per token, so the official L2 normalisation is a no-op up to rounding).
 * Layouts: bits [h·w·d] token-major (bit j of token t at t·d + j); codes channel-first [d, h, w].
 */
public final class BitCodes {
    private BitCodes() {}

    /** The code magnitude 1/√d, rounded to float as the official (2b−1)/√d then L2-normalise gives. */
    public static float magnitude(int d) {
        // (2b-1) / sqrt(d) in float, then normalised by its own norm sqrt(d * (1/sqrt(d))^2)
        float v = (float) (1.0 / Math.sqrt(d));
        float v32 = 1f / (float) Math.sqrt(d);
        float norm = (float) Math.sqrt(d * (double) v32 * v32);
        return Math.abs(v - v32 / norm) < 1e-9f ? v32 / norm : v;
    }

    /** Token-major bits [h·w·d] → channel-first codes [d·h·w]. */
    public static float[] bitsToCodes(byte[] bits, int h, int w, int d) {
        float m = magnitude(d);
        float[] codes = new float[d * h * w];
        for (int t = 0; t < h * w; t++)
            for (int j = 0; j < d; j++) codes[j * h * w + t] = bits[t * d + j] != 0 ? m : -m;
        return codes;
    }

    /** Channel-first codes (or any pre-quantisation values) [d·h·w] → token-major bits by sign (> 0 ↦ 1). */
    public static byte[] codesToBits(float[] codes, int h, int w, int d) {
        byte[] bits = new byte[h * w * d];
        for (int t = 0; t < h * w; t++)
            for (int j = 0; j < d; j++) bits[t * d + j] = (byte) (codes[j * h * w + t] > 0 ? 1 : 0);
        return bits;
    }
}
