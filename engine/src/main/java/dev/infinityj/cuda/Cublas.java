package dev.infinityj.cuda;

import dev.infinityj.bindings.cuda.CudaConstants;
import dev.infinityj.bindings.cuda.CudaError;
import dev.infinityj.bindings.cuda.CudaLibraries;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

/**
 * A cuBLAS handle on the backend's stream (AutoCloseable): column-major GEMMs with fp32 accumulation
 * (CUBLAS_COMPUTE_32F) for bf16 or fp32 operands. Every status is checked and named.
 */
@SuppressWarnings("restricted") // FFM: device pointers and driver-owned strings are reinterpreted on purpose
final class Cublas implements AutoCloseable {
    private final CudaContext c;
    private final dev.infinityj.bindings.cuda.Cublas b;
    private final MemorySegment handle;
    private final String from;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one, zero;
    private boolean closed;

    private Cublas(CudaContext c, CudaLibraries.CublasPair p) {
        this.c = c;
        this.b = p.cublas();
        this.from = p.from();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ph = a.allocate(ValueLayout.ADDRESS);
            check(b.cublasCreate(ph), "cublasCreate");
            handle = ph.get(ValueLayout.ADDRESS, 0);
        }
        check(b.cublasSetStream(handle, c.stream().handle()), "cublasSetStream");
        one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
        zero = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
        c.opened("cublas");
    }

    static Cublas open(CudaContext c, List<Path> cudaLib) throws CudaLibraries.NotFoundException {
        return new Cublas(c, CudaLibraries.openCublas(CudaLibraries.Search.system(cudaLib)));
    }

    String from() { return from; }

    void check(int status, String call) {
        if (status == 0) return;
        String name = CudaError.cublasName(status);
        if (b.has("cublasGetStatusName")) {
            MemorySegment s = b.cublasGetStatusName(status);
            if (!s.equals(MemorySegment.NULL)) name = s.reinterpret(128).getString(0);
        }
        throw new CudaException(call, status, name, null);
    }

    /** C[m,n] (col-major, ldc) = op(A)·op(B); A and B of cudaDataType {@code type}, C fp32. */
    void gemm(int transA, int transB, int m, int n, int k, long a, int typeA, int lda, long bb, int typeB, int ldb, long cc, int ldc) {
        check(b.cublasGemmEx(handle, transA, transB, m, n, k, one, MemorySegment.ofAddress(a), typeA, lda,
                MemorySegment.ofAddress(bb), typeB, ldb, zero, MemorySegment.ofAddress(cc), CudaConstants.CUDA_R_32F, ldc,
                CudaConstants.CUBLAS_COMPUTE_32F, CudaConstants.CUBLAS_GEMM_DEFAULT), "cublasGemmEx");
    }

    /** fp32 strided-batched C_i = A_i·B_i (column-major, no transposes). */
    void gemmStridedBatched(int m, int n, int k, long a, int lda, long strideA, long bb, int ldb, long strideB,
                            long cc, int ldc, long strideC, int batch) {
        int f = CudaConstants.CUDA_R_32F;
        check(b.cublasGemmStridedBatchedEx(handle, CudaConstants.CUBLAS_OP_N, CudaConstants.CUBLAS_OP_N, m, n, k, one,
                MemorySegment.ofAddress(a), f, lda, strideA, MemorySegment.ofAddress(bb), f, ldb, strideB, zero,
                MemorySegment.ofAddress(cc), f, ldc, strideC, batch, CudaConstants.CUBLAS_COMPUTE_32F,
                CudaConstants.CUBLAS_GEMM_DEFAULT), "cublasGemmStridedBatchedEx");
    }

    /**
     * fp32 strided-batched C_i = alpha·op(A_i)·op(B_i) (column-major, CUBLAS_COMPUTE_32F): the
     * attention reference path (QKᵀ per head with alpha = the softmax scale, then P·V).
     */
    void gemmStridedBatched(int transA, int transB, int m, int n, int k, float alpha, long a, int lda, long strideA,
                            long bb, int ldb, long strideB, long cc, int ldc, long strideC, int batch) {
        int f = CudaConstants.CUDA_R_32F;
        try (Arena al = Arena.ofConfined()) {
            // host pointer mode (the default): cuBLAS reads alpha when the call is enqueued
            MemorySegment alphaSeg = al.allocateFrom(ValueLayout.JAVA_FLOAT, alpha);
            check(b.cublasGemmStridedBatchedEx(handle, transA, transB, m, n, k, alphaSeg,
                    MemorySegment.ofAddress(a), f, lda, strideA, MemorySegment.ofAddress(bb), f, ldb, strideB, zero,
                    MemorySegment.ofAddress(cc), f, ldc, strideC, batch, CudaConstants.CUBLAS_COMPUTE_32F,
                    CudaConstants.CUBLAS_GEMM_DEFAULT), "cublasGemmStridedBatchedEx");
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        check(b.cublasDestroy(handle), "cublasDestroy");
        arena.close();
        c.closedResource("cublas");
    }
}
