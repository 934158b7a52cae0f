// Normalisations, one block per row (statistics in double, as the scalar reference does).
#include "common.cuh"

// LayerNorm over the last dim (biased variance). w/b: affine [cols] or null. scale/shift: adaptive
// LayerNorm [cols] or null: y = LN(x)·(1+scale)+shift (spec §3.3). Both may be combined.
IJ_KERNEL void layer_norm_f32(const float* __restrict__ x, float* __restrict__ y,
                              const float* __restrict__ w, const float* __restrict__ b,
                              const float* __restrict__ scale, const float* __restrict__ shift,
                              long long rows, int cols, float eps) {
    long long r = blockIdx.x;
    if (r >= rows) return;
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double s = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
    double mean = block_sum_d(s) / cols;
    double v = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) { double d = xr[j] - mean; v += d * d; }
    double var = block_sum_d(v) / cols;
    double inv = 1.0 / sqrt(var + eps);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float o = (float)((xr[j] - mean) * inv);
        if (w) o *= w[j];
        if (b) o += b[j];
        if (scale) o = __fadd_rn(__fmul_rn(o, __fadd_rn(1.0f, scale[j])), shift[j]);
        yr[j] = o;
    }
}

// RMSNorm: y = x / sqrt(mean(x²)+eps) · w (w may be null).
IJ_KERNEL void rms_norm_f32(const float* __restrict__ x, float* __restrict__ y, const float* __restrict__ w,
                            long long rows, int cols, float eps) {
    long long r = blockIdx.x;
    if (r >= rows) return;
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double s = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) { double v = xr[j]; s += v * v; }
    double inv = 1.0 / sqrt(block_sum_d(s) / cols + eps);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float o = (float)(xr[j] * inv);
        if (w) o *= w[j];
        yr[j] = o;
    }
}

// Softmax over the last dim.
IJ_KERNEL void softmax_f32(const float* __restrict__ x, float* __restrict__ y, long long rows, int cols) {
    long long r = blockIdx.x;
    if (r >= rows) return;
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
    m = block_max(m);
    double s = 0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += exp((double)(xr[j] - m));
    double sum = block_sum_d(s);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = (float)(exp((double)(xr[j] - m)) / sum);
}

// Per-head L2 normalisation (cosine attention): one warp per (l, h) row of D contiguous floats.
// x rows at x + l*strideL + h*strideH; y contiguous [L, H, D]; headScale [H] or null.
IJ_KERNEL void head_l2_normalize_f32(const float* __restrict__ x, float* __restrict__ y, const float* __restrict__ headScale,
                                     long long L, int H, int D, long long strideL, long long strideH, float eps) {
    long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (row >= L * H) return;
    long long l = row / H; int h = (int)(row % H);
    const float* xr = x + l * strideL + h * strideH;
    double ss = 0;
    for (int p = lane; p < D; p += 32) { double v = xr[p]; ss += v * v; }
    ss = warp_sum_d(ss);
    float inv = 1.0f / fmaxf((float)sqrt(ss), eps);
    float m = headScale ? headScale[h] : 1.0f;
    for (int p = lane; p < D; p += 32) y[row * D + p] = __fmul_rn(__fmul_rn(xr[p], inv), m);
}

// GroupNorm statistics of x [C, HW]: stats[g] = (mean, 1/sqrt(var+eps)) over C/groups consecutive channels.
IJ_KERNEL void group_norm_stats_f32(const float* __restrict__ x, float* __restrict__ stats, int groups,
                                    long long perGroup, float eps) {
    int g = blockIdx.x;
    if (g >= groups) return;
    const float* xg = x + (long long)g * perGroup;
    double s = 0;
    for (long long i = threadIdx.x; i < perGroup; i += blockDim.x) s += xg[i];
    double mean = block_sum_d(s) / perGroup;
    double v = 0;
    for (long long i = threadIdx.x; i < perGroup; i += blockDim.x) { double d = xg[i] - mean; v += d * d; }
    double var = block_sum_d(v) / perGroup;
    if (threadIdx.x == 0) { stats[2 * g] = (float)mean; stats[2 * g + 1] = (float)(1.0 / sqrt(var + eps)); }
}

// GroupNorm apply on x [C, HW] with stats [groups, 2]: (x−mean)·rstd·w[c]+b[c], then SiLU if silu.
IJ_KERNEL void group_norm_apply_f32(const float* __restrict__ x, float* __restrict__ y, const float* __restrict__ stats,
                                    const float* __restrict__ w, const float* __restrict__ b,
                                    int C, long long HW, int groups, int silu) {
    long long n = (long long)C * HW;
    int cg = C / groups;
    GRID_STRIDE(i, n) {
        int c = (int)(i / HW), g = c / cg;
        float v = (x[i] - stats[2 * g]) * stats[2 * g + 1];
        if (w) v *= w[c];
        if (b) v += b[c];
        if (silu) v = v / (1.0f + expf(-v));
        y[i] = v;
    }
}
