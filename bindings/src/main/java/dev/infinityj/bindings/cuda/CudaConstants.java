package dev.infinityj.bindings.cuda;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * Enum constants and struct layouts the bindings use, with the values of cuda.h, library_types.h,
 * cublas_api.h and cublasLt.h (CUDA 13.0). CudaHeaderTest checks the cuda.h / library_types.h ones
 * against the headers where they are installed.
 */
public final class CudaConstants {
    private CudaConstants() {}

    // CUdevice_attribute
    public static final int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
    public static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    public static final int CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY = 83;
    public static final int CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS = 89;

    // CUmemAttach_flags, CUstream_flags, CUevent_flags, CUstreamCaptureMode, CUmemhostalloc flags
    public static final int CU_MEM_ATTACH_GLOBAL = 0x1;
    public static final int CU_STREAM_DEFAULT = 0x0;
    public static final int CU_STREAM_NON_BLOCKING = 0x1;
    public static final int CU_EVENT_DEFAULT = 0x0;
    public static final int CU_EVENT_DISABLE_TIMING = 0x2;
    public static final int CU_STREAM_CAPTURE_MODE_GLOBAL = 0;
    public static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
    public static final int CU_STREAM_CAPTURE_MODE_RELAXED = 2;

    // CUjit_option
    public static final int CU_JIT_INFO_LOG_BUFFER = 3;
    public static final int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
    public static final int CU_JIT_ERROR_LOG_BUFFER = 5;
    public static final int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

    // CUfunction_attribute
    public static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    // cudaDataType (library_types.h)
    public static final int CUDA_R_32F = 0;
    public static final int CUDA_R_16F = 2;
    public static final int CUDA_R_16BF = 14;

    // cuBLAS (cublas_api.h)
    public static final int CUBLAS_OP_N = 0;
    public static final int CUBLAS_OP_T = 1;
    public static final int CUBLAS_COMPUTE_32F = 68;
    public static final int CUBLAS_COMPUTE_32F_PEDANTIC = 69;
    public static final int CUBLAS_GEMM_DEFAULT = -1;
    public static final int CUBLAS_DEFAULT_MATH = 0;
    public static final int CUBLAS_PEDANTIC_MATH = 2;

    // cuBLASLt (cublasLt.h), cublasLtMatmulDescAttributes_t
    public static final int CUBLASLT_MATMUL_DESC_TRANSA = 3;
    public static final int CUBLASLT_MATMUL_DESC_TRANSB = 4;

    /** {@code typedef struct CUuuid_st { char bytes[16]; } CUuuid;} — 16 bytes, alignment 1. */
    public static final StructLayout CUuuid = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(16, ValueLayout.JAVA_BYTE).withName("bytes")).withName("CUuuid_st");

    /**
     * {@code typedef struct CUdevprop_st { int maxThreadsPerBlock; int maxThreadsDim[3]; int maxGridSize[3];
     * int sharedMemPerBlock; int totalConstantMemory; int SIMDWidth; int memPitch; int regsPerBlock;
     * int clockRate; int textureAlign; } CUdevprop;} — 56 bytes (deprecated API; the layout documents the
     * struct shape checks the header test runs).
     */
    public static final StructLayout CUdevprop = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("maxThreadsPerBlock"),
            MemoryLayout.sequenceLayout(3, ValueLayout.JAVA_INT).withName("maxThreadsDim"),
            MemoryLayout.sequenceLayout(3, ValueLayout.JAVA_INT).withName("maxGridSize"),
            ValueLayout.JAVA_INT.withName("sharedMemPerBlock"),
            ValueLayout.JAVA_INT.withName("totalConstantMemory"),
            ValueLayout.JAVA_INT.withName("SIMDWidth"),
            ValueLayout.JAVA_INT.withName("memPitch"),
            ValueLayout.JAVA_INT.withName("regsPerBlock"),
            ValueLayout.JAVA_INT.withName("clockRate"),
            ValueLayout.JAVA_INT.withName("textureAlign")).withName("CUdevprop_st");

    /** {@code CUdeviceptr} is {@code unsigned long long} (64-bit) on every 64-bit platform. */
    public static final ValueLayout.OfLong CUdeviceptr = ValueLayout.JAVA_LONG;
}
