package dev.infinityj.model;

/**
 * How transformer tokens map to the VAE latent (spec §4.2 steps 7–9, §4.6). Without spatial
 * patchify a token's d bits are the d latent channels of one latent pixel. With it (8B), a token's
 * 4·d' bits cover a 2×2 patch of a d'-channel latent at twice the grid: token channel
 * c·4 + dy·2 + dx ↔ latent channel c at pixel (2y+dy, 2x+dx) (pixel-shuffle / unshuffle ×2).
 */
public record LatentLayout(int tokenDim, boolean patchify) {

    public static LatentLayout of(InfinityConfig c) { return new LatentLayout(c.codebookDim(), c.spatialPatchify()); }

    /** Latent channels (d, or d/4 with patchify). */
    public int channels() { return patchify ? tokenDim / 4 : tokenDim; }

    /** Latent pixels per token side (1, or 2 with patchify). */
    public int factor() { return patchify ? 2 : 1; }

    /** Token-major bits [h·w·tokenDim] → channel-first codes ±1/√channels [channels, f·h, f·w]. */
    public float[] bitsToCodes(byte[] bits, int h, int w) {
        if (!patchify) return BitCodes.bitsToCodes(bits, h, w, tokenDim);
        int c = channels(), H = 2 * h, W = 2 * w;
        float m = BitCodes.magnitude(c);
        float[] out = new float[c * H * W];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < tokenDim; k++) {
                    int ch = k / 4, dy = (k / 2) % 2, dx = k % 2;
                    out[(ch * H + 2 * y + dy) * W + 2 * x + dx] = bits[(y * w + x) * tokenDim + k] != 0 ? m : -m;
                }
        return out;
    }

    /** Channel-first latent [channels, f·h, f·w] → token-major rows [h·w, tokenDim] (flattened). */
    public float[] latentToTokens(float[] latent, int h, int w) {
        int c = channels(), f = factor(), H = f * h, W = f * w;
        float[] out = new float[h * w * tokenDim];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < tokenDim; k++) {
                    int ch = patchify ? k / 4 : k, dy = patchify ? (k / 2) % 2 : 0, dx = patchify ? k % 2 : 0;
                    out[(y * w + x) * tokenDim + k] = latent[(ch * H + f * y + dy) * W + f * x + dx];
                }
        return out;
    }
}
