package dev.infinityj.sampling;

/**
 * Draws bits from the bitwise head's 2-way logits, exactly as the official sampler filters them
 * (spec §4.2 step 5): logits arrive already divided by τ and CFG-mixed; top-k keeps
 * min(top_k, 2) classes (top_k ≤ 0 = off); top-p removes the minority class when its probability
 * is ≤ 1 − top_p (top_p ≤ 0 = off); the largest class is always kept.
 *
 * <p>The draw itself: bit = 1 iff u < p₁, where u = {@link Philox#uniform}(seed, scale, row) and
 * row = (b·h·w + t)·d + j indexes bit j of token t of batch item b. Same distribution as
 * torch.multinomial; the stream differs from torch's by design (its CUDA Philox stream cannot be
 * reproduced bit for bit anyway, see spec §4.2).
 */
public final class BitSampler {
    private BitSampler() {}

    /** Probability of class 1 after top-k / top-p filtering, for logits (l0, l1). */
    public static float filteredP1(float l0, float l1, int topK, double topP) {
        float p1 = softmax1(l0, l1);
        if (topK == 1) {
            // torch.topk on a tie returns the lower index first
            return l1 > l0 ? 1f : 0f;
        }
        if (topP > 0) {
            float threshold = (float) (1.0 - topP);
            float pMin = Math.min(p1, 1f - p1);
            if (pMin <= threshold) return p1 > 0.5f ? 1f : (p1 < 0.5f ? 0f : p1);
        }
        return p1;
    }

    /** softmax([l0, l1])[1] computed as torch does in float: exp(l1 - m) / (exp(l0 - m) + exp(l1 - m)). */
    public static float softmax1(float l0, float l1) {
        float m = Math.max(l0, l1);
        float e0 = (float) Math.exp(l0 - m), e1 = (float) Math.exp(l1 - m);
        return e1 / (e0 + e1);
    }

    /**
     * Samples {@code rows} bits from interleaved logit pairs {@code logits[2r], logits[2r+1]}.
     * {@code firstRow} is the global row index of row 0 (for batch offsets); {@code scale} selects
     * the Philox stream, so every scale draws fresh numbers.
     */
    public static void sample(float[] logits, int rows, int topK, double topP, long seed, int scale,
                              long firstRow, byte[] bitsOut) {
        for (int r = 0; r < rows; r++) {
            float p1 = filteredP1(logits[2 * r], logits[2 * r + 1], topK, topP);
            float u = Philox.uniform(seed, scale, firstRow + r);
            bitsOut[r] = (byte) (u < p1 ? 1 : 0);
        }
    }
}
