// 2-D convolution as an implicit GEMM (the VAE decoder's 3x3 and 1x1 convolutions): with
// K = C*kh*kw and P = Ho*Wo,  y[O, P] = w[O, K] . col[K, P] + bias[O],  where
// col[(c*kh + dy)*kw + dx, oy*Wo + ox] = x[c, oy*stride - pad + dy, ox*stride - pad + dx] (0 outside).
// col is never materialised: each K-tile of it is gathered from x straight into shared memory, so the
// conv costs no im2col buffer (9x the activation for a 3x3 conv at 1024^2 would be gigabytes).
// The direct kernel (gemm.cu: conv2d_f32) stays as the plain reference.
//
// Tiles: 64 output channels x 64 output pixels per block, K in steps of 16, 256 threads, each thread
// 4 x 4 outputs at rows ty + 16i and columns tx + 16j (interleaved, so a warp's shared-memory reads are
// broadcasts or consecutive words). fp32 accumulation; weights F32 or BF16 (widened on load, so bf16
// checkpoints need no converted copy). x [C, H, W] F32 contiguous, y [O, Ho, Wo] F32 contiguous.
#include "common.cuh"

#define CG_BM 64
#define CG_BN 64
#define CG_BK 16
#define CG_THREADS 256

template <typename W> __device__ __forceinline__ float cg_w(const W* p, long long i);
template <> __device__ __forceinline__ float cg_w<float>(const float* p, long long i) { return p[i]; }
template <> __device__ __forceinline__ float cg_w<__nv_bfloat16>(const __nv_bfloat16* p, long long i) { return __bfloat162float(p[i]); }

template <typename W>
__device__ void conv2d_igemm(const float* __restrict__ x, const W* __restrict__ w, const float* __restrict__ bias,
                             float* __restrict__ y, int C, int H, int Wd, int O, int kh, int kw,
                             int stride, int pad, int Ho, int Wo) {
    // +1: a warp stores As down a column (16 consecutive k of two channels); unpadded, those 16 words
    // would share one bank
    __shared__ float As[CG_BK][CG_BM + 1]; // weights, k-major
    __shared__ float Bs[CG_BK][CG_BN];     // gathered input columns
    const int t = threadIdx.x, tx = t & 15, ty = t >> 4;
    const int o0 = blockIdx.y * CG_BM;
    const long long p0 = (long long)blockIdx.x * CG_BN;
    const long long P = (long long)Ho * Wo;
    const int khw = kh * kw, K = C * khw;
    float acc[4][4];
#pragma unroll
    for (int a = 0; a < 4; a++)
#pragma unroll
        for (int b = 0; b < 4; b++) acc[a][b] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += CG_BK) {
#pragma unroll
        for (int u = 0; u < (CG_BM * CG_BK) / CG_THREADS; u++) {
            int e = t + u * CG_THREADS, kk = e % CG_BK, m = e / CG_BK;
            int o = o0 + m, k = k0 + kk;
            As[kk][m] = (o < O && k < K) ? cg_w<W>(w, (long long)o * K + k) : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < (CG_BN * CG_BK) / CG_THREADS; u++) {
            int e = t + u * CG_THREADS, n = e % CG_BN, kk = e / CG_BN;
            int k = k0 + kk;
            long long p = p0 + n;
            float val = 0.0f;
            if (k < K && p < P) {
                int c = k / khw, r = k - c * khw, dy = r / kw, dx = r - dy * kw;
                int oy = (int)(p / Wo), ox = (int)(p - (long long)oy * Wo);
                int iy = oy * stride - pad + dy, ix = ox * stride - pad + dx;
                if (iy >= 0 && iy < H && ix >= 0 && ix < Wd) val = x[((long long)c * H + iy) * Wd + ix];
            }
            Bs[kk][n] = val;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < CG_BK; kk++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; j++) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int o = o0 + ty + 16 * i;
        if (o >= O) continue;
        float bo = bias ? bias[o] : 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            long long p = p0 + tx + 16 * j;
            if (p < P) y[(long long)o * P + p] = acc[i][j] + bo;
        }
    }
}

// grid (ceil(Ho*Wo / 64), ceil(O / 64)), block 256.
IJ_KERNEL void __launch_bounds__(CG_THREADS) conv2d_igemm_f32(
        const float* x, const float* w, const float* bias, float* y,
        int C, int H, int W, int O, int kh, int kw, int stride, int pad, int Ho, int Wo) {
    conv2d_igemm<float>(x, w, bias, y, C, H, W, O, kh, kw, stride, pad, Ho, Wo);
}

IJ_KERNEL void __launch_bounds__(CG_THREADS) conv2d_igemm_bf16(
        const float* x, const __nv_bfloat16* w, const float* bias, float* y,
        int C, int H, int W, int O, int kh, int kw, int stride, int pad, int Ho, int Wo) {
    conv2d_igemm<__nv_bfloat16>(x, w, bias, y, C, H, W, O, kh, kw, stride, pad, Ho, Wo);
}
