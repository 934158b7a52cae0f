package dev.infinityj.backend;

import dev.infinityj.ShapeException;
import dev.infinityj.cpu.ConvInput;
import dev.infinityj.cpu.CpuThreads;
import dev.infinityj.cpu.Gemm;
import dev.infinityj.cpu.Mat;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

/**
 * The CPU backend: Vector API kernels from {@code dev.infinityj.cpu}, multi-threaded on a
 * {@link CpuThreads} pool. Ops without a fast kernel yet fall back to {@link NaiveBackend}'s
 * scalar loops, which stay the reference every kernel is tested against.
 */
public class CpuBackend extends NaiveBackend {

    private final CpuThreads pool;

    /** On the shared pool (one thread per physical core). */
    public CpuBackend() { this(CpuThreads.shared()); }

    /** On a pool of {@code threads} threads (owned by this backend; {@link #close()} stops it). */
    public CpuBackend(int threads) { this(new CpuThreads(threads)); }

    public CpuBackend(CpuThreads pool) { this.pool = pool; }

    @Override public String name() { return "cpu"; }

    public CpuThreads pool() { return pool; }

    // ---------------------------------------------------------------- GEMM-based ops (dev.infinityj.cpu.Gemm)

    /** y = x·wᵀ + bias on {@link Gemm}; w [out, in] F32/BF16/F16 (any strides), read in place. */
    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias) {
        x = f32(x, "linear input");
        if (w.rank() != 2) throw new ShapeException("linear weight must be [out, in], got " + w.describe());
        long k = x.dim(-1), n = w.dim(0), m = rows(x);
        if (w.dim(1) != k) throw new ShapeException("linear: input has " + k + " features, weight " + w.describe() + " expects " + w.dim(1));
        float[] b = biasOf(bias, n, "linear");
        Tensor out = allocate(DType.F32, withLast(x.shape(), n));
        Gemm.multiply(pool, toInt(m), toInt(n), toInt(k), Mat.rowMajor(x.storage(), x.byteOffset(), DType.F32, k),
                Mat.transposeOf(w), out.storage(), out.byteOffset(), n, b, null, false);
        return out;
    }

    /** Batched a[B,M,K]·b[B,K,N] (rank 2: one batch), one {@link Gemm} per batch. */
    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        a = f32(a, "matmul a"); b = f32(b, "matmul b");
        boolean r2 = a.rank() == 2;
        if (a.rank() != b.rank() || (a.rank() != 2 && a.rank() != 3) || (!r2 && a.dim(0) != b.dim(0)))
            throw new ShapeException("matmul: expected [B,M,K]·[B,K,N] or [M,K]·[K,N], got " + a.describe() + " · " + b.describe());
        long bt = r2 ? 1 : a.dim(0), m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        if (b.dim(-2) != k) throw new ShapeException("matmul: " + a.describe() + " · " + b.describe());
        Tensor out = r2 ? allocate(DType.F32, m, n) : allocate(DType.F32, bt, m, n);
        for (long z = 0; z < bt; z++)
            Gemm.multiply(pool, toInt(m), toInt(n), toInt(k),
                    Mat.rowMajor(a.storage(), a.byteOffset() + 4 * z * m * k, DType.F32, k),
                    Mat.rowMajor(b.storage(), b.byteOffset() + 4 * z * k * n, DType.F32, n),
                    out.storage(), out.byteOffset() + 4 * z * m * n, n, null, null, false);
        return out;
    }

    /**
     * conv2d as an implicit GEMM: out[O, outH·outW] = w[O, C·kh·kw] · im2col(x), the column matrix
     * gathered panel by panel ({@link ConvInput}), never materialised. 1×1 stride-1 convs read x
     * directly as the [C, H·W] matrix. x may be a view whose rows are contiguous (row bands).
     */
    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding) {
        if (x.dtype() != DType.F32) throw new ShapeException("conv2d: expected F32 activations, got " + x.describe());
        if (x.rank() != 3 || w.rank() != 4)
            throw new ShapeException("conv2d: expected x [C, H, W] and w [O, C, kh, kw], got " + x.describe() + ", " + w.describe());
        if (x.strides()[2] != 1) x = x.contiguous();
        int c = toInt(x.dim(0)), h = toInt(x.dim(1)), wi = toInt(x.dim(2));
        int o = toInt(w.dim(0)), kh = toInt(w.dim(2)), kw = toInt(w.dim(3));
        if (w.dim(1) != c) throw new ShapeException("conv2d: input has " + c + " channels, weight " + w.describe());
        ConvInput col = new ConvInput(x.storage(), x.byteOffset(), x.strides()[0], x.strides()[1], h, wi, kh, kw, stride, padding);
        int ho = ConvInput.outSize(h, kh, stride, padding), wo = ConvInput.outSize(wi, kw, stride, padding);
        float[] b = biasOf(bias, o, "conv2d");
        Tensor wc = w.contiguous();
        Tensor out = allocate(DType.F32, o, ho, wo);
        long k = (long) c * kh * kw;
        Mat a = Mat.rowMajor(wc.storage(), wc.byteOffset(), wc.dtype(), k);
        long[] xs = x.strides();
        boolean plain1x1 = kh == 1 && kw == 1 && stride == 1 && padding == 0 && xs[1] == wi;
        Gemm.multiply(pool, o, toInt((long) ho * wo), toInt(k), a,
                plain1x1 ? Mat.rowMajor(x.storage(), x.byteOffset(), DType.F32, xs[0]) : col,
                out.storage(), out.byteOffset(), (long) ho * wo, null, b, false);
        return out;
    }

    private static float[] biasOf(Tensor bias, long n, String op) {
        if (bias == null) return null;
        if (bias.numel() != n) throw new ShapeException(op + ": bias " + bias.describe() + " does not match " + n + " outputs");
        return bias.toFloatArray();
    }

    private static int toInt(long v) {
        if (v > Integer.MAX_VALUE) throw new ShapeException("GEMM dimension too large: " + v);
        return (int) v;
    }

    // ---------------------------------------------------------------- end of GEMM-based ops

    @Override
    public void close() { pool.close(); }
}
