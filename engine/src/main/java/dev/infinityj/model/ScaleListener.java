package dev.infinityj.model;

import dev.infinityj.tensor.Tensor;

/**
 * Called after every scale of a generation, on the generating thread.
 */
@FunctionalInterface
public interface ScaleListener {

    /**
     * @param scale        scale index k (0-based) of {@code scales}
     * @param grid         its token grid
     * @param nanos        wall time of this scale (blocks, head, sampling, accumulation)
     * @param bits         the bits of this scale, token-major [h·w·d] (sampled or forced)
     * @param logitsCond   raw conditional head output [h·w·2d] (before 1/τ and CFG)
     * @param logitsUncond raw unconditional head output, or null when the batch has no uncond half (no CFG, or
     *                     cfg = 1 on this and every later scale, where the uncond row is dropped)
     * @param logitsMixed  the sampler input: cfg·(cond/τ) + (1−cfg)·(uncond/τ), or cond/τ without CFG
     * @param latent       the accumulated latent f_hat [d, H, W] after this scale; valid only during the call
     */
    record ScaleEvent(int scale, int scales, ScaleSchedules.Grid grid, long nanos, byte[] bits,
                      float[] logitsCond, float[] logitsUncond, float[] logitsMixed, Tensor latent) {}

    void onScale(ScaleEvent event);
}
