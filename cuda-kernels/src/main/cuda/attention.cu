// Multi-head attention without materialising scores: one warp per (query i, head h), online
// softmax over the keys in fp32 (running max and sum), Dv ≤ 256 (8 accumulators per lane).
// q/k/v rows at base + l*strideL + h*strideH with the last dim contiguous (packed qkv views work).
// bias [H, Lq, Lk] (T5's relative position bias) or null. Output contiguous [Lq, H, Dv].
#include "common.cuh"

IJ_KERNEL void attention_f32(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                             const float* __restrict__ bias, float* __restrict__ o,
                             int Lq, int Lk, int H, int D, int Dv,
                             long long qsL, long long qsH, long long ksL, long long ksH, long long vsL, long long vsH,
                             float scale) {
    long long wid = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (wid >= (long long)Lq * H) return;
    int i = (int)(wid / H), h = (int)(wid % H);
    const float* qr = q + i * qsL + h * qsH;
    float qv[8];
    for (int t = 0; t < 8; t++) { int p = lane + 32 * t; qv[t] = p < D ? qr[p] : 0.0f; }
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float m = -INFINITY, sum = 0.0f;
    for (int j = 0; j < Lk; j++) {
        const float* kr = k + j * ksL + h * ksH;
        float d = 0.0f;
        for (int t = 0; t < 8; t++) { int p = lane + 32 * t; if (p < D) d += qv[t] * kr[p]; }
        float s = warp_sum(d) * scale;
        if (bias) s += bias[((long long)h * Lq + i) * Lk + j];
        float mn = fmaxf(m, s);
        float corr = expf(m - mn), e = expf(s - mn);
        sum = sum * corr + e;
        const float* vr = v + j * vsL + h * vsH;
        for (int t = 0; t < 8; t++) { int p = lane + 32 * t; if (p < Dv) acc[t] = acc[t] * corr + e * vr[p]; }
        m = mn;
    }
    float* orow = o + wid * Dv;
    for (int t = 0; t < 8; t++) { int p = lane + 32 * t; if (p < Dv) orow[p] = acc[t] / sum; }
}
