// Fused multi-head attention, FlashAttention-2 style (fp32 SIMT; the reference kernel stays in
// attention.cu). One block owns a tile of FA_BQ queries of one head and streams the keys/values
// through shared memory in tiles of FA_BK; the scores never reach global memory. Each query row keeps
// a running max m and sum l (online softmax), and its Dv accumulators are rescaled by exp(m_old - m_new)
// whenever the max grows, so one pass over the keys is enough. All arithmetic is fp32; inputs are F32
// or BF16 (widened on load).
//
// Shapes: q rows at q + i*qsL + h*qsH (i < Lq), k / v rows at j*ksL + h*ksH / j*vsL + h*vsH (j < Lk),
// last dim contiguous (packed qkv views and KV-cache slices pass as they are). Lq != Lk is the normal
// case (a scale's queries against the cache of all earlier scales and itself). D, Dv <= FA_MAXD.
// bias [H, Lq, Lk] (T5's relative position bias) or null. Output contiguous [Lq, H, Dv].
//
// Cosine attention fused (flags): bit 0 normalises each q row, bit 1 each k row, to x / max(||x||, eps)
// (the same formula as head_l2_normalize_f32); qScale[h] (or null) multiplies the q norm factor.
// Instead of rescaling the rows, the factors multiply the dot product: s = (q.k) * qinv * kinv * scale,
// which is the same number up to fp32 rounding.
//
// Thread layout: 256 threads, thread t serves query row r = t / 4 of the tile and quarter g = t % 4.
// The four threads of a row are adjacent lanes of one warp, so the row max and row sum are two
// __shfl_xor steps and the probabilities of the tile are passed between them with __shfl_sync. A
// thread owns the score columns g + 4c (c < FA_BK/4) and the output columns g + 4j (j < FA_MAXD/4);
// with those interleaved columns the shared-memory reads of a warp hit distinct banks (row strides are
// padded to FA_MAXD + 1) or are broadcasts.
#include "common.cuh"

#define FA_BQ 64
#define FA_BK 16
#define FA_MAXD 128
#define FA_LD (FA_MAXD + 1)
#define FA_THREADS 256

template <typename T> __device__ __forceinline__ float fa_ld(const T* p);
template <> __device__ __forceinline__ float fa_ld<float>(const float* p) { return *p; }
template <> __device__ __forceinline__ float fa_ld<__nv_bfloat16>(const __nv_bfloat16* p) { return __bfloat162float(*p); }


template <typename T>
__device__ void flash_attention(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                const float* __restrict__ bias, const float* __restrict__ qScale, float* __restrict__ o,
                                int Lq, int Lk, int H, int D, int Dv,
                                long long qsL, long long qsH, long long ksL, long long ksH, long long vsL, long long vsH,
                                float scale, int flags, float eps) {
    // 64 x 129 + 16 x 129 floats = 41.3 KB: under the 48 KB of static shared memory, so no opt-in
    // attribute is needed. K and then V of a tile share kvs.
    __shared__ float qs[FA_BQ][FA_LD];
    __shared__ float kvs[FA_BK][FA_LD];
    __shared__ float kinv[FA_BK];
    const int t = threadIdx.x, r = t >> 2, g = t & 3, lane = t & 31;
    const int h = blockIdx.y;
    const int i0 = blockIdx.x * FA_BQ;
    const bool normQ = flags & 1, normK = flags & 2;

    for (int e = t; e < FA_BQ * D; e += FA_THREADS) {
        int rr = e / D, d = e - rr * D, i = i0 + rr;
        qs[rr][d] = i < Lq ? fa_ld<T>(q + i * qsL + h * qsH + d) : 0.0f;
    }
    __syncthreads();
    float qf = scale;
    if (normQ) {
        float ss = 0.0f;
        for (int d = g; d < D; d += 4) ss += qs[r][d] * qs[r][d];
        ss = quad_sum(ss);
        qf = scale * (1.0f / fmaxf(sqrtf(ss), eps)) * (qScale ? qScale[h] : 1.0f);
    }

    float acc[FA_MAXD / 4];
#pragma unroll
    for (int j = 0; j < FA_MAXD / 4; j++) acc[j] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    const int i = i0 + r;

    for (int j0 = 0; j0 < Lk; j0 += FA_BK) {
        __syncthreads(); // the previous tile's V reads are done
        for (int e = t; e < FA_BK * D; e += FA_THREADS) {
            int c = e / D, d = e - c * D, j = j0 + c;
            kvs[c][d] = j < Lk ? fa_ld<T>(k + j * ksL + h * ksH + d) : 0.0f;
        }
        __syncthreads();
        if (normK) {
            // 64 quads, 16 keys: quad r < 16 computes key r's norm
            float ss = 0.0f;
            if (r < FA_BK) for (int d = g; d < D; d += 4) ss += kvs[r][d] * kvs[r][d];
            ss = quad_sum(ss);
            if (r < FA_BK && g == 0) kinv[r] = 1.0f / fmaxf(sqrtf(ss), eps);
            __syncthreads();
        }
        // scores of row r, columns g + 4c
        float s[FA_BK / 4];
#pragma unroll
        for (int c = 0; c < FA_BK / 4; c++) s[c] = 0.0f;
        for (int d = 0; d < D; d++) {
            float qv = qs[r][d];
#pragma unroll
            for (int c = 0; c < FA_BK / 4; c++) s[c] += qv * kvs[g + 4 * c][d];
        }
        float tmax = -INFINITY;
#pragma unroll
        for (int c = 0; c < FA_BK / 4; c++) {
            int j = j0 + g + 4 * c;
            float x = s[c] * qf;
            if (normK) x *= kinv[g + 4 * c];
            if (bias && i < Lq && j < Lk) x += bias[((long long)h * Lq + i) * Lk + j];
            s[c] = j < Lk ? x : -INFINITY;
            tmax = fmaxf(tmax, s[c]);
        }
        tmax = quad_max(tmax);
        float mNew = fmaxf(m, tmax);
        // a row that has seen only -inf so far (masked by the bias) keeps zero weight, not NaN
        float corr = mNew == -INFINITY ? 1.0f : expf(m - mNew);
        float psum = 0.0f;
#pragma unroll
        for (int c = 0; c < FA_BK / 4; c++) {
            s[c] = mNew == -INFINITY ? 0.0f : expf(s[c] - mNew);
            psum += s[c];
        }
        l = l * corr + quad_sum(psum);
        m = mNew;
#pragma unroll
        for (int j = 0; j < FA_MAXD / 4; j++) acc[j] *= corr;

        __syncthreads(); // K reads done: load V into the same buffer
        for (int e = t; e < FA_BK * Dv; e += FA_THREADS) {
            int c = e / Dv, d = e - c * Dv, j = j0 + c;
            kvs[c][d] = j < Lk ? fa_ld<T>(v + j * vsL + h * vsH + d) : 0.0f;
        }
        __syncthreads();
        const int quad0 = lane & ~3;
#pragma unroll
        for (int kk = 0; kk < FA_BK; kk++) {
            // p of column kk lives in lane quad0 + kk % 4, slot kk / 4
            float p = __shfl_sync(0xffffffffu, s[kk >> 2], quad0 + (kk & 3));
#pragma unroll
            for (int j = 0; j < FA_MAXD / 4; j++)
                if (g + 4 * j < Dv) acc[j] += p * kvs[kk][g + 4 * j];
        }
    }
    if (i >= Lq) return;
    float inv = 1.0f / l;
    float* orow = o + ((long long)i * H + h) * Dv;
#pragma unroll
    for (int j = 0; j < FA_MAXD / 4; j++)
        if (g + 4 * j < Dv) orow[g + 4 * j] = acc[j] * inv;
}

// grid (ceil(Lq / 64), H), block 256.
IJ_KERNEL void __launch_bounds__(FA_THREADS) flash_attention_f32(
        const float* q, const float* k, const float* v, const float* bias, const float* qScale, float* o,
        int Lq, int Lk, int H, int D, int Dv,
        long long qsL, long long qsH, long long ksL, long long ksH, long long vsL, long long vsH,
        float scale, int flags, float eps) {
    flash_attention<float>(q, k, v, bias, qScale, o, Lq, Lk, H, D, Dv, qsL, qsH, ksL, ksH, vsL, vsH, scale, flags, eps);
}

IJ_KERNEL void __launch_bounds__(FA_THREADS) flash_attention_bf16(
        const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const float* bias, const float* qScale, float* o,
        int Lq, int Lk, int H, int D, int Dv,
        long long qsL, long long qsH, long long ksL, long long ksH, long long vsL, long long vsH,
        float scale, int flags, float eps) {
    flash_attention<__nv_bfloat16>(q, k, v, bias, qScale, o, Lq, Lk, H, D, Dv, qsL, qsH, ksL, ksH, vsL, vsH, scale, flags, eps);
}
