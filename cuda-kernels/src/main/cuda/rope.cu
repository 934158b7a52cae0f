// RoPE-2D with interleaved pairs, in place on x [L, H, D] contiguous, cos/sin tables [L, D/2]
// (the 2-D row/column frequencies are already laid out per token by the host, model/Rope2d).
#include "common.cuh"

IJ_KERNEL void rope_interleaved_f32(float* __restrict__ x, const float* __restrict__ cosT, const float* __restrict__ sinT,
                                    long long L, int H, int D) {
    int half = D / 2;
    long long n = L * H * half;
    GRID_STRIDE(i, n) {
        long long p = i % half, th = i / half, t = th / H;
        long long at = th * D + 2 * p;
        float x0 = x[at], x1 = x[at + 1];
        float c = cosT[t * half + p], s = sinT[t * half + p];
        // no FMA contraction: the same roundings as the Java reference
        x[at] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
        x[at + 1] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
    }
}
