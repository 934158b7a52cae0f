// Activations (with fused bias), broadcasting arithmetic, conversions, strided copies.
#include "common.cuh"

// act: 0 none, 1 GELU tanh, 2 GELU erf, 3 SiLU, 4 ReLU. bias [cols] or null is added first (fused bias).
__device__ __forceinline__ float activate(float z, int act) {
    switch (act) {
        case 1: return (float)(0.5 * z * (1.0 + tanh(0.7978845608028654 * (z + 0.044715 * (double)z * z * z))));
        case 2: return (float)(0.5 * z * (1.0 + erf(z / 1.4142135623730951)));
        case 3: return (float)(z / (1.0 + exp(-(double)z)));
        case 4: return fmaxf(z, 0.0f);
        default: return z;
    }
}

// x and y may be the same buffer (the backend adds a GEMM's bias in place): no __restrict__ on them.
IJ_KERNEL void bias_act_f32(const float* x, const float* __restrict__ bias, float* y,
                            long long n, int cols, int act) {
    GRID_STRIDE(i, n) {
        float z = x[i];
        if (bias) z = __fadd_rn(z, bias[i % cols]);
        y[i] = activate(z, act);
    }
}

// y = a (op) b[i % m]; op 0 add, 1 mul.
IJ_KERNEL void binary_bcast_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                                long long n, long long m, int op) {
    GRID_STRIDE(i, n) {
        float u = a[i], v = b[i % m];
        y[i] = op ? __fmul_rn(u, v) : __fadd_rn(u, v);
    }
}

IJ_KERNEL void scale_f32(const float* __restrict__ a, float* __restrict__ y, long long n, float s) {
    GRID_STRIDE(i, n) y[i] = __fmul_rn(a[i], s);
}

IJ_KERNEL void add_inplace_f32(float* __restrict__ acc, const float* __restrict__ b, long long n) {
    GRID_STRIDE(i, n) acc[i] = __fadd_rn(acc[i], b[i]);
}

IJ_KERNEL void f32_to_bf16(const float* __restrict__ x, __nv_bfloat16* __restrict__ y, long long n) {
    GRID_STRIDE(i, n) y[i] = __float2bfloat16_rn(x[i]);
}

IJ_KERNEL void bf16_to_f32(const __nv_bfloat16* __restrict__ x, float* __restrict__ y, long long n) {
    GRID_STRIDE(i, n) y[i] = __bfloat162float(x[i]);
}

IJ_KERNEL void f16_to_f32(const __half* __restrict__ x, float* __restrict__ y, long long n) {
    GRID_STRIDE(i, n) y[i] = __half2float(x[i]);
}

// Strided element copy of up to 6 dims (shape, strides in elements), element size 4 bytes.
struct Strided6 {
    long long shape[6];
    long long srcStride[6];
    long long dstStride[6];
    long long srcOffset, dstOffset;
    int rank;
};

IJ_KERNEL void strided_copy_32(const float* __restrict__ src, float* __restrict__ dst, Strided6 s, long long n) {
    GRID_STRIDE(i, n) {
        long long rem = i, so = s.srcOffset, dof = s.dstOffset;
        for (int d = s.rank - 1; d >= 0; d--) {
            long long idx = rem % s.shape[d];
            rem /= s.shape[d];
            so += idx * s.srcStride[d];
            dof += idx * s.dstStride[d];
        }
        dst[dof] = src[so];
    }
}
