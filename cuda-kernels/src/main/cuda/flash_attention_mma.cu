// Fused multi-head attention on tensor cores: FlashAttention-2 with mma.sync m16n8k16 (bf16 operands,
// fp32 accumulation), sm_80 and newer. Same arguments and semantics as flash_attention_bf16 in
// flash_attention.cu (strided bf16 q/k/v rows, optional bias [H, Lq, Lk], optional qScale[h], flags
// bit 0 / bit 1 = fused L2 normalisation of q / k rows, output f32 [Lq, H, Dv]); non-causal, Lq != Lk.
//
// UNVERIFIED ON HARDWARE: written and checked without a GPU. What was checked: ptxas builds it for
// sm_80/86/89/90 without spills within 48 KB of static shared memory (KernelResourcesTest), and a
// lane-by-lane Java transcription (engine tests: MmaAttentionEmulation, on an emulated mma.sync that
// follows the PTX ISA fragment layouts) agrees with a float64 reference within the bf16 bound.
//
// Head dims: D and Dv multiples of 16, at most MA_MAXD; the backend runs flash_attention.cu otherwise.
//
// Layout: a block of 4 warps owns MA_BQ = 64 queries of one head (warp w: rows 16w .. 16w+15) and
// streams the keys in tiles of MA_BK = 64. Per tile and warp:
//   S (16 x 64)  = Q (16 x D, A fragments held in registers for the whole kernel) . K^T (B fragments
//                  from shared memory, K rows as stored: the "col" B operand is K itself);
//   online softmax on the S accumulators (each lane holds two rows: g and g+8), row max / sum over the
//                  quad of lanes sharing the row (__shfl_xor 1, 2);
//   O (16 x Dv) += P (the S accumulators rounded to bf16 and re-packed as A fragments: the C layout
//                  of two adjacent n8 tiles is exactly the A layout of one k16 step) . V (B fragments
//                  from a transposed copy of the V tile, so each fragment register is one 32-bit load).
// The row sum l accumulates the bf16-rounded probabilities that P.V uses, so the output is a convex
// combination of V rows with weights off by at most ~2^-8 relative (the bf16 rounding of P).
//
// Fragment layouts (PTX ISA, section 9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with floating point
// type", .bf16; g = groupID = lane >> 2, t = threadID_in_group = lane % 4; in each 32-bit register the
// lower-indexed element is in the low half):
//   A 16x16 (row): a0,a1: (g, 2t+{0,1})  a2,a3: (g+8, 2t+{0,1})  a4,a5: (g, 2t+8+{0,1})  a6,a7: (g+8, 2t+8+{0,1})
//   B 16x8  (col): b0,b1: (2t+{0,1}, g)  b2,b3: (2t+8+{0,1}, g)
//   C/D 16x8 f32 : c0,c1: (g, 2t+{0,1})  c2,c3: (g+8, 2t+{0,1})
//
// Shared memory (static, 36 KB): the K tile [64][MA_MAXD + 8] bf16 (also stages the Q tile once), the
// transposed V tile [MA_MAXD][64 + 8] bf16, kinv[64]. The +8 pads make the fragment loads of a warp
// (word g * stride/2 + t) hit 32 distinct banks.
//
// Global loads go in chunks of 8 bf16 (16 bytes, one uint4) when the base pointer and the row / head
// strides allow it, else element by element (same values either way).
//
// Known costs left for later: V is transposed through scalar shared-memory stores (ldmatrix.trans
// would avoid it), no cp.async double buffering, no batch dimension (the CFG pair is two launches).
#include "common.cuh"

#define MA_BQ 64
#define MA_BK 64
#define MA_MAXD 128
#define MA_LDK (MA_MAXD + 8)
#define MA_LDV (MA_BK + 8)
#define MA_THREADS 128

typedef unsigned short bf16_bits;

// One m16n8k16 MMA: c += a . b (bf16 inputs, fp32 accumulators), the whole warp together.
__device__ __forceinline__ void mma_bf16_16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as bf16x2 (round to nearest even), lo in the low half.
__device__ __forceinline__ uint32_t ma_pack(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
}

__device__ __forceinline__ float ma_lo(uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float ma_hi(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }

__device__ __forceinline__ float ma_round(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }


// Eight consecutive bf16 at p as one uint4 (element 2m in the low half of word m).
__device__ __forceinline__ uint4 ma_ld8(const bf16_bits* p, bool vec) {
    if (vec) return *reinterpret_cast<const uint4*>(p);
    uint4 r;
    r.x = p[0] | (uint32_t)p[1] << 16;
    r.y = p[2] | (uint32_t)p[3] << 16;
    r.z = p[4] | (uint32_t)p[5] << 16;
    r.w = p[6] | (uint32_t)p[7] << 16;
    return r;
}

// 16-byte loads are legal when every row start is 16-byte aligned: base, row and head strides all
// multiples of 8 elements (the column offset is a multiple of 8 too).
__device__ __forceinline__ bool ma_vec(const void* p, long long sL, long long sH) {
    return (((uintptr_t)p) & 15) == 0 && (sL & 7) == 0 && (sH & 7) == 0;
}

// grid (ceil(Lq / 64), H), block 128.
IJ_KERNEL void __launch_bounds__(MA_THREADS) flash_attention_mma_bf16(
        const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k, const __nv_bfloat16* __restrict__ v,
        const float* __restrict__ bias, const float* __restrict__ qScale, float* __restrict__ o,
        int Lq, int Lk, int H, int D, int Dv,
        long long qsL, long long qsH, long long ksL, long long ksH, long long vsL, long long vsH,
        float scale, int flags, float eps) {
    __shared__ __align__(16) bf16_bits ks[MA_BK][MA_LDK];
    __shared__ __align__(16) bf16_bits vt[MA_MAXD][MA_LDV];
    __shared__ float kinv[MA_BK];
    const int tid = threadIdx.x, w = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int h = blockIdx.y, i0 = blockIdx.x * MA_BQ;
    const bool normQ = flags & 1, normK = flags & 2;
    const int nD = D >> 4, nDv8 = Dv >> 3; // k16 steps of Q.K^T, n8 tiles of O
    const int cD = D >> 3, cDv = Dv >> 3;  // 8-element chunks per row
    const bf16_bits* qb = reinterpret_cast<const bf16_bits*>(q);
    const bf16_bits* kb = reinterpret_cast<const bf16_bits*>(k);
    const bf16_bits* vb = reinterpret_cast<const bf16_bits*>(v);
    const bool qvec = ma_vec(q, qsL, qsH), kvec = ma_vec(k, ksL, ksH), vvec = ma_vec(v, vsL, vsH);

    // Q tile → ks (zero rows past Lq), then each warp takes its 16 rows as A fragments.
    for (int e = tid; e < MA_BQ * cD; e += MA_THREADS) {
        int r = e / cD, c8 = e - r * cD, i = i0 + r;
        uint4 x = i < Lq ? ma_ld8(qb + i * qsL + h * qsH + 8 * c8, qvec) : make_uint4(0, 0, 0, 0);
        *reinterpret_cast<uint4*>(&ks[r][8 * c8]) = x;
    }
    __syncthreads();
    uint32_t qa[MA_MAXD / 16][4];
    float ss0 = 0.0f, ss1 = 0.0f; // this lane's share of ||q||^2 of rows g and g+8
    const int r0 = 16 * w + g;
#pragma unroll
    for (int s = 0; s < MA_MAXD / 16; s++) {
        if (s < nD) {
            qa[s][0] = *reinterpret_cast<const uint32_t*>(&ks[r0][16 * s + 2 * t]);
            qa[s][1] = *reinterpret_cast<const uint32_t*>(&ks[r0 + 8][16 * s + 2 * t]);
            qa[s][2] = *reinterpret_cast<const uint32_t*>(&ks[r0][16 * s + 2 * t + 8]);
            qa[s][3] = *reinterpret_cast<const uint32_t*>(&ks[r0 + 8][16 * s + 2 * t + 8]);
            float x;
            x = ma_lo(qa[s][0]); ss0 += x * x; x = ma_hi(qa[s][0]); ss0 += x * x;
            x = ma_lo(qa[s][2]); ss0 += x * x; x = ma_hi(qa[s][2]); ss0 += x * x;
            x = ma_lo(qa[s][1]); ss1 += x * x; x = ma_hi(qa[s][1]); ss1 += x * x;
            x = ma_lo(qa[s][3]); ss1 += x * x; x = ma_hi(qa[s][3]); ss1 += x * x;
        } else {
            qa[s][0] = qa[s][1] = qa[s][2] = qa[s][3] = 0u;
        }
    }
    // s = (q.k) * qf * kinv: qf = scale, or scale / max(||q||, eps) * qScale[h] with fused normalisation
    float qf0 = scale, qf1 = scale;
    if (normQ) {
        ss0 = quad_sum(ss0);
        ss1 = quad_sum(ss1);
        float hs = qScale ? qScale[h] : 1.0f;
        qf0 = scale * (1.0f / fmaxf(sqrtf(ss0), eps)) * hs;
        qf1 = scale * (1.0f / fmaxf(sqrtf(ss1), eps)) * hs;
    }
    const int iA = i0 + r0, iB = iA + 8; // the lane's two query rows

    float oc[MA_MAXD / 8][4];
#pragma unroll
    for (int n = 0; n < MA_MAXD / 8; n++) oc[n][0] = oc[n][1] = oc[n][2] = oc[n][3] = 0.0f;
    float mA = -INFINITY, mB = -INFINITY, lA = 0.0f, lB = 0.0f; // l: this lane's partial row sums

    for (int j0 = 0; j0 < Lk; j0 += MA_BK) {
        __syncthreads(); // the previous tile's (or the Q staging's) shared reads are done
        for (int e = tid; e < MA_BK * cD; e += MA_THREADS) {
            int c = e / cD, c8 = e - c * cD, j = j0 + c;
            uint4 x = j < Lk ? ma_ld8(kb + j * ksL + h * ksH + 8 * c8, kvec) : make_uint4(0, 0, 0, 0);
            *reinterpret_cast<uint4*>(&ks[c][8 * c8]) = x;
        }
        // V transposed: vt[d][c] = V[j0 + c][d]; zero past Lk (0 * garbage could be NaN)
        for (int e = tid; e < MA_BK * cDv; e += MA_THREADS) {
            int c = e / cDv, c8 = e - c * cDv, j = j0 + c, d = 8 * c8;
            uint4 x = j < Lk ? ma_ld8(vb + j * vsL + h * vsH + d, vvec) : make_uint4(0, 0, 0, 0);
            vt[d + 0][c] = (bf16_bits)x.x; vt[d + 1][c] = (bf16_bits)(x.x >> 16);
            vt[d + 2][c] = (bf16_bits)x.y; vt[d + 3][c] = (bf16_bits)(x.y >> 16);
            vt[d + 4][c] = (bf16_bits)x.z; vt[d + 5][c] = (bf16_bits)(x.z >> 16);
            vt[d + 6][c] = (bf16_bits)x.w; vt[d + 7][c] = (bf16_bits)(x.w >> 16);
        }
        __syncthreads();
        if (normK) {
            // two lanes per key: lane parity p sums the column pairs 2p, 2p + 4, ...
            int c = tid >> 1, p = tid & 1;
            float ss = 0.0f;
            for (int d = 2 * p; d < D; d += 4) {
                uint32_t x = *reinterpret_cast<const uint32_t*>(&ks[c][d]);
                float a = ma_lo(x), b = ma_hi(x);
                ss += a * a;
                ss += b * b;
            }
            ss += __shfl_xor_sync(0xffffffffu, ss, 1);
            if (p == 0) kinv[c] = 1.0f / fmaxf(sqrtf(ss), eps);
            __syncthreads();
        }

        // S = Q . K^T: 8 n8 tiles of keys
        float sc[MA_BK / 8][4];
#pragma unroll
        for (int n = 0; n < MA_BK / 8; n++) sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
#pragma unroll
        for (int s = 0; s < MA_MAXD / 16; s++) {
            if (s < nD) {
#pragma unroll
                for (int n = 0; n < MA_BK / 8; n++) {
                    uint32_t b0 = *reinterpret_cast<const uint32_t*>(&ks[8 * n + g][16 * s + 2 * t]);
                    uint32_t b1 = *reinterpret_cast<const uint32_t*>(&ks[8 * n + g][16 * s + 2 * t + 8]);
                    mma_bf16_16816(sc[n], qa[s], b0, b1);
                }
            }
        }

        // scores, masked tail, tile row max
        float tA = -INFINITY, tB = -INFINITY;
#pragma unroll
        for (int n = 0; n < MA_BK / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int cl = 8 * n + 2 * t + (e & 1), j = j0 + cl, i = e < 2 ? iA : iB;
                float x = sc[n][e] * (e < 2 ? qf0 : qf1);
                if (normK) x *= kinv[cl];
                if (bias && i < Lq && j < Lk) x += bias[((long long)h * Lq + i) * Lk + j];
                x = j < Lk ? x : -INFINITY;
                sc[n][e] = x;
                if (e < 2) tA = fmaxf(tA, x); else tB = fmaxf(tB, x);
            }
        tA = quad_max(tA);
        tB = quad_max(tB);
        float nA = fmaxf(mA, tA), nB = fmaxf(mB, tB);
        // a row that has seen only -inf so far (masked by the bias) keeps zero weight, not NaN
        float cA = nA == -INFINITY ? 1.0f : expf(mA - nA), cB = nB == -INFINITY ? 1.0f : expf(mB - nB);
        float sA = 0.0f, sB = 0.0f;
#pragma unroll
        for (int n = 0; n < MA_BK / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float mm = e < 2 ? nA : nB;
                float p = mm == -INFINITY ? 0.0f : ma_round(expf(sc[n][e] - mm));
                sc[n][e] = p;
                if (e < 2) sA += p; else sB += p;
            }
        lA = lA * cA + sA;
        lB = lB * cB + sB;
        mA = nA;
        mB = nB;
#pragma unroll
        for (int n = 0; n < MA_MAXD / 8; n++) {
            oc[n][0] *= cA; oc[n][1] *= cA;
            oc[n][2] *= cB; oc[n][3] *= cB;
        }

        // O += P . V: 4 k16 steps of keys; P's A fragment is the S accumulators of n tiles 2s, 2s+1
#pragma unroll
        for (int s = 0; s < MA_BK / 16; s++) {
            uint32_t pa[4] = {ma_pack(sc[2 * s][0], sc[2 * s][1]), ma_pack(sc[2 * s][2], sc[2 * s][3]),
                              ma_pack(sc[2 * s + 1][0], sc[2 * s + 1][1]), ma_pack(sc[2 * s + 1][2], sc[2 * s + 1][3])};
#pragma unroll
            for (int n = 0; n < MA_MAXD / 8; n++) {
                if (n < nDv8) {
                    uint32_t b0 = *reinterpret_cast<const uint32_t*>(&vt[8 * n + g][16 * s + 2 * t]);
                    uint32_t b1 = *reinterpret_cast<const uint32_t*>(&vt[8 * n + g][16 * s + 2 * t + 8]);
                    mma_bf16_16816(oc[n], pa, b0, b1);
                }
            }
        }
    }

    float invA = 1.0f / quad_sum(lA), invB = 1.0f / quad_sum(lB);
#pragma unroll
    for (int n = 0; n < MA_MAXD / 8; n++) {
        if (n < nDv8) {
            int col = 8 * n + 2 * t;
            if (iA < Lq) *reinterpret_cast<float2*>(o + ((long long)iA * H + h) * Dv + col) = make_float2(oc[n][0] * invA, oc[n][1] * invA);
            if (iB < Lq) *reinterpret_cast<float2*>(o + ((long long)iB * H + h) * Dv + col) = make_float2(oc[n][2] * invB, oc[n][3] * invB);
        }
    }
}
