// The bitwise head sampler on the GPU, so logits never leave the device (spec §4.2 steps 4, 5, 7).
// It computes exactly what engine/.../sampling/BitSampler.java and Philox.java compute:
//
//   mixed  = cond·inv_tau                                   (no CFG at this scale)
//          = a·(cond·inv_tau) + b·(uncond·inv_tau)          a = (float)cfg, b = (float)(1−cfg), inv_tau = (float)(1/τ)
//   p1     = softmax(l0, l1)[1] = e1/(e0+e1), e = (float)exp((double)(l − max))
//   top-k  = 1: p1 = l1 > l0 ? 1 : 0;  top-p on: if min(p1, 1−p1) ≤ threshold (= (float)(1−top_p)) then p1 = p1>½ ? 1 : p1<½ ? 0 : p1
//   bit    = u < p1, u = (philox(counter = (lo(row), hi(row), stream = scale, 0), key = (lo(seed), hi(seed)))[0] >> 8) · 2⁻²⁴
//   row    = firstRow + r, r = t·d + j (bit j of token t)
//
// Every float operation uses explicit round-to-nearest intrinsics so nvcc cannot contract them into
// FMAs; exp is evaluated in double and rounded to float as Java's (float) Math.exp does. Both exps are
// faithfully rounded double results, so a different float can only come out when exp(x) lies within
// 2⁻²⁹ relative of a float rounding boundary (not observed; the GPU test compares all bits).
#include "common.cuh"

__device__ __forceinline__ void philox_block(uint32_t c[4], uint32_t k0, uint32_t k1) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; r++) {
        if (r > 0) { k0 += W0; k1 += W1; }
        uint32_t hi0 = __umulhi(M0, c[0]), lo0 = M0 * c[0];
        uint32_t hi1 = __umulhi(M1, c[2]), lo1 = M1 * c[2];
        uint32_t n0 = hi1 ^ c[1] ^ k0, n1 = lo1, n2 = hi0 ^ c[3] ^ k1, n3 = lo0;
        c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
    }
}

__device__ __forceinline__ float philox_uniform(unsigned long long seed, uint32_t stream, unsigned long long index) {
    uint32_t c[4] = {(uint32_t)index, (uint32_t)(index >> 32), stream, 0u};
    philox_block(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    return (float)(c[0] >> 8) * 0x1p-24f;
}

// Philox words for tests: out[4·i..4·i+3] = block((lo(i0+i), hi(i0+i), stream, 0), key(seed)).
IJ_KERNEL void philox_words(unsigned int* out, unsigned long long seed, unsigned int stream, unsigned long long i0, long long n) {
    GRID_STRIDE(i, n) {
        unsigned long long idx = i0 + (unsigned long long)i;
        uint32_t c[4] = {(uint32_t)idx, (uint32_t)(idx >> 32), stream, 0u};
        philox_block(c, (uint32_t)seed, (uint32_t)(seed >> 32));
        for (int k = 0; k < 4; k++) out[4 * i + k] = c[k];
    }
}

__device__ __forceinline__ float softmax1(float l0, float l1) {
    float m = fmaxf(l0, l1);
    float e0 = (float)exp((double)__fsub_rn(l0, m)), e1 = (float)exp((double)__fsub_rn(l1, m));
    return __fdiv_rn(e1, __fadd_rn(e0, e1));
}

// cond, uncond: interleaved logit pairs [rows, 2] (uncond null = no CFG). bits[r] ∈ {0,1};
// mixedOut (nullable) receives the sampler input for listeners/tests.
IJ_KERNEL void bit_sample(const float* __restrict__ cond, const float* __restrict__ uncond,
                          float invTau, float cfgA, float cfgB, long long rows,
                          int topK, int topPOn, float topPThreshold,
                          unsigned long long seed, unsigned int stream, long long firstRow,
                          unsigned char* __restrict__ bits, float* __restrict__ mixedOut) {
    GRID_STRIDE(r, rows) {
        float l0 = __fmul_rn(cond[2 * r], invTau), l1 = __fmul_rn(cond[2 * r + 1], invTau);
        if (uncond) {
            l0 = __fadd_rn(__fmul_rn(cfgA, l0), __fmul_rn(cfgB, __fmul_rn(uncond[2 * r], invTau)));
            l1 = __fadd_rn(__fmul_rn(cfgA, l1), __fmul_rn(cfgB, __fmul_rn(uncond[2 * r + 1], invTau)));
        }
        if (mixedOut) { mixedOut[2 * r] = l0; mixedOut[2 * r + 1] = l1; }
        float p1 = softmax1(l0, l1);
        if (topK == 1) {
            p1 = l1 > l0 ? 1.0f : 0.0f;
        } else if (topPOn) {
            float pMin = fminf(p1, __fsub_rn(1.0f, p1));
            if (pMin <= topPThreshold) p1 = p1 > 0.5f ? 1.0f : (p1 < 0.5f ? 0.0f : p1);
        }
        float u = philox_uniform(seed, stream, (unsigned long long)(firstRow + r));
        bits[r] = u < p1 ? 1 : 0;
    }
}

// Bits → codes (spec §4.2 step 7, model/LatentLayout.bitsToCodes): token-major bits [h·w·tokenDim] →
// channel-first codes ±magnitude [channels, f·h, f·w]; f = 2 with spatial patchify (token channel
// c·4 + dy·2 + dx ↔ latent channel c at (2y+dy, 2x+dx)), else 1 (channel = token channel).
IJ_KERNEL void bits_to_codes(const unsigned char* __restrict__ bits, float* __restrict__ codes,
                             int h, int w, int tokenDim, int patchify, float magnitude) {
    long long n = (long long)h * w * tokenDim;
    int f = patchify ? 2 : 1, H = f * h, W = f * w;
    GRID_STRIDE(i, n) {
        int k = (int)(i % tokenDim);
        long long t = i / tokenDim;
        int y = (int)(t / w), x = (int)(t % w);
        int ch = patchify ? k / 4 : k, dy = patchify ? (k / 2) % 2 : 0, dx = patchify ? k % 2 : 0;
        codes[((long long)ch * H + f * y + dy) * W + f * x + dx] = bits[i] ? magnitude : -magnitude;
    }
}
