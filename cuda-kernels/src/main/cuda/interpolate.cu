// Up/down sampling of channel-first maps [C, H, W] → [C, oh, ow], PyTorch F.interpolate semantics
// (align_corners=False, no antialias), with the float index arithmetic of backend/InterpolationReference
// (explicit _rn intrinsics: no FMA contraction, so results match the Java reference bit for bit).
// 'trilinear' with a time axis of 1 (as Infinity uses it) is exactly this bilinear.
// accumulate != 0 adds into y (latent accumulation f_hat += Up(codes)) instead of overwriting.
#include "common.cuh"

IJ_KERNEL void bilinear_f32(const float* __restrict__ x, float* __restrict__ y, int C, int ih, int iw, int oh, int ow, int accumulate) {
    long long n = (long long)C * oh * ow;
    float sh = __fdiv_rn((float)ih, (float)oh), sw = __fdiv_rn((float)iw, (float)ow);
    GRID_STRIDE(i, n) {
        int xx = (int)(i % ow), yy = (int)((i / ow) % oh);
        long long c = i / ((long long)oh * ow);
        float sy = fmaxf(__fsub_rn(__fmul_rn(sh, __fadd_rn((float)yy, 0.5f)), 0.5f), 0.0f);
        int y0 = (int)sy, y1 = min(y0 + 1, ih - 1);
        float ly = __fsub_rn(sy, (float)y0), hy = __fsub_rn(1.0f, ly);
        float sx = fmaxf(__fsub_rn(__fmul_rn(sw, __fadd_rn((float)xx, 0.5f)), 0.5f), 0.0f);
        int x0 = (int)sx, x1 = min(x0 + 1, iw - 1);
        float lx = __fsub_rn(sx, (float)x0), hx = __fsub_rn(1.0f, lx);
        const float* p = x + c * ih * iw;
        float top = __fadd_rn(__fmul_rn(hx, p[(long long)y0 * iw + x0]), __fmul_rn(lx, p[(long long)y0 * iw + x1]));
        float bot = __fadd_rn(__fmul_rn(hx, p[(long long)y1 * iw + x0]), __fmul_rn(lx, p[(long long)y1 * iw + x1]));
        float v = __fadd_rn(__fmul_rn(hy, top), __fmul_rn(ly, bot));
        y[i] = accumulate ? __fadd_rn(y[i], v) : v;
    }
}

// exact: 0 = 'nearest' floor(dst·scale), 1 = 'nearest-exact' floor((dst+0.5)·scale).
IJ_KERNEL void nearest_f32(const float* __restrict__ x, float* __restrict__ y, int C, int ih, int iw, int oh, int ow, int exact) {
    long long n = (long long)C * oh * ow;
    float sh = __fdiv_rn((float)ih, (float)oh), sw = __fdiv_rn((float)iw, (float)ow);
    GRID_STRIDE(i, n) {
        int xx = (int)(i % ow), yy = (int)((i / ow) % oh);
        long long c = i / ((long long)oh * ow);
        float fy = exact ? __fmul_rn(__fadd_rn((float)yy, 0.5f), sh) : __fmul_rn((float)yy, sh);
        float fx = exact ? __fmul_rn(__fadd_rn((float)xx, 0.5f), sw) : __fmul_rn((float)xx, sw);
        int sy = min((int)floorf(fy), ih - 1), sx = min((int)floorf(fx), iw - 1);
        y[i] = x[(c * ih + sy) * iw + sx];
    }
}
