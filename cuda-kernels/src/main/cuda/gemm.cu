// Our own GEMMs, used when cuBLAS is absent (the GPU machine may carry it only inside PyTorch), and
// for batched matmul / convolution. Shared-memory tiles of 32×32, fp32 accumulation.
#include "common.cuh"

#define TS 32

template <typename W> __device__ __forceinline__ float ld(const W* p, long long i);
template <> __device__ __forceinline__ float ld<float>(const float* p, long long i) { return p[i]; }
template <> __device__ __forceinline__ float ld<__nv_bfloat16>(const __nv_bfloat16* p, long long i) { return __bfloat162float(p[i]); }
template <> __device__ __forceinline__ float ld<__half>(const __half* p, long long i) { return __half2float(p[i]); }

// y[M,N] = x[M,K] · w[N,K]ᵀ + bias[N]; block (32, 8), each thread 4 outputs.
template <typename W>
__device__ void gemm_xwT(const float* __restrict__ x, const W* __restrict__ w, const float* __restrict__ bias,
                         float* __restrict__ y, int M, int N, int K) {
    __shared__ float xs[TS][TS + 1], ws[TS][TS + 1];
    int tx = threadIdx.x, ty = threadIdx.y;
    int row0 = blockIdx.y * TS, col0 = blockIdx.x * TS;
    float acc[4] = {0, 0, 0, 0};
    for (int k0 = 0; k0 < K; k0 += TS) {
        for (int r = ty; r < TS; r += 8) {
            int gr = row0 + r, gk = k0 + tx;
            xs[r][tx] = (gr < M && gk < K) ? x[(long long)gr * K + gk] : 0.0f;
            int gn = col0 + r;
            ws[r][tx] = (gn < N && gk < K) ? ld<W>(w, (long long)gn * K + gk) : 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < TS; kk++) {
            float wv = ws[tx][kk];
            for (int q = 0; q < 4; q++) acc[q] += xs[ty + 8 * q][kk] * wv;
        }
        __syncthreads();
    }
    int gc = col0 + tx;
    if (gc >= N) return;
    for (int q = 0; q < 4; q++) {
        int gr = row0 + ty + 8 * q;
        if (gr < M) y[(long long)gr * N + gc] = acc[q] + (bias ? bias[gc] : 0.0f);
    }
}

IJ_KERNEL void gemm_xwT_f32(const float* x, const float* w, const float* bias, float* y, int M, int N, int K) { gemm_xwT<float>(x, w, bias, y, M, N, K); }
IJ_KERNEL void gemm_xwT_bf16(const float* x, const __nv_bfloat16* w, const float* bias, float* y, int M, int N, int K) { gemm_xwT<__nv_bfloat16>(x, w, bias, y, M, N, K); }
IJ_KERNEL void gemm_xwT_f16(const float* x, const __half* w, const float* bias, float* y, int M, int N, int K) { gemm_xwT<__half>(x, w, bias, y, M, N, K); }

// Batched c[B,M,N] = a[B,M,K] · b[B,K,N] (all contiguous F32); grid z = batch.
IJ_KERNEL void bmm_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c, int M, int N, int K) {
    __shared__ float as[TS][TS + 1], bs[TS][TS + 1];
    long long z = blockIdx.z;
    a += z * M * K; b += z * K * N; c += z * M * N;
    int tx = threadIdx.x, ty = threadIdx.y;
    int row0 = blockIdx.y * TS, col0 = blockIdx.x * TS;
    float acc[4] = {0, 0, 0, 0};
    for (int k0 = 0; k0 < K; k0 += TS) {
        for (int r = ty; r < TS; r += 8) {
            int gr = row0 + r, gk = k0 + tx;
            as[r][tx] = (gr < M && gk < K) ? a[(long long)gr * K + gk] : 0.0f;
            int bk = k0 + r, bn = col0 + tx;
            bs[r][tx] = (bk < K && bn < N) ? b[(long long)bk * N + bn] : 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < TS; kk++) {
            float bv = bs[kk][tx];
            for (int q = 0; q < 4; q++) acc[q] += as[ty + 8 * q][kk] * bv;
        }
        __syncthreads();
    }
    int gc = col0 + tx;
    if (gc >= N) return;
    for (int q = 0; q < 4; q++) {
        int gr = row0 + ty + 8 * q;
        if (gr < M) c[(long long)gr * N + gc] = acc[q];
    }
}

// Direct 2-D convolution, one thread per output element: x [C,H,W], w [O,C,kh,kw] F32, bias [O] or null.
IJ_KERNEL void conv2d_f32(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
                          float* __restrict__ y, int C, int H, int W, int O, int kh, int kw,
                          int stride, int pad, int Ho, int Wo) {
    long long n = (long long)O * Ho * Wo;
    GRID_STRIDE(i, n) {
        int ox = (int)(i % Wo), oy = (int)((i / Wo) % Ho);
        long long oc = i / ((long long)Ho * Wo);
        float acc = bias ? bias[oc] : 0.0f;
        for (int ic = 0; ic < C; ic++)
            for (int dy = 0; dy < kh; dy++) {
                int iy = oy * stride - pad + dy;
                if (iy < 0 || iy >= H) continue;
                const float* xr = x + ((long long)ic * H + iy) * W;
                const float* wr = w + ((oc * C + ic) * kh + dy) * kw;
                for (int dx = 0; dx < kw; dx++) {
                    int ix = ox * stride - pad + dx;
                    if (ix < 0 || ix >= W) continue;
                    acc += xr[ix] * wr[dx];
                }
            }
        y[i] = acc;
    }
}
