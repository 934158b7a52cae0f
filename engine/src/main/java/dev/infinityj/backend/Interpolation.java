package dev.infinityj.backend;

/** Resampling modes, each exactly as PyTorch's F.interpolate computes it with align_corners=False. */
public enum Interpolation {
    /** bilinear (and trilinear with depth 1, which reduces to it). */
    BILINEAR,
    /** bicubic (A = -0.75), used by some image transforms. */
    BICUBIC,
    /** 'area' = adaptive average pooling. */
    AREA,
    /** 'nearest' (floor(dst · in/out)). */
    NEAREST,
    /** 'nearest-exact' (floor((dst + 0.5) · in/out)). */
    NEAREST_EXACT
}
