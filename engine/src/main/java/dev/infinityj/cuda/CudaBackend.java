package dev.infinityj.cuda;

import dev.infinityj.BadInputException;
import dev.infinityj.ShapeException;
import dev.infinityj.backend.Backend;
import dev.infinityj.backend.Interpolation;
import dev.infinityj.backend.NaiveBackend;
import dev.infinityj.backend.Scope;
import dev.infinityj.bindings.cuda.CudaConstants;
import dev.infinityj.bindings.cuda.CudaDriver;
import dev.infinityj.bindings.cuda.CudaError;
import dev.infinityj.bindings.cuda.CudaLibraries;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The CUDA backend: the same {@link Backend} seam as the CPU backends, on one NVIDIA GPU through the
 * driver API (FFM bindings in infinityj-bindings) and our own kernels (PTX / fatbin resources of
 * infinityj-cuda-kernels). Model code does not change.
 *
 * <p><b>Device tensors.</b> A tensor this backend returns is an ordinary {@link Tensor} whose storage
 * segment is {@code MemorySegment.ofAddress(devicePtr).reinterpret(bytes, autoArena, free)}: its address
 * is a device pointer and it is <em>never dereferenced on the host</em> (views — slice, get, permute,
 * reshape of contiguous tensors — are metadata only and work). Host code reads results through
 * {@link #download}. Calling host accessors (toFloatArray, getFloat, contiguous() of a strided view, to())
 * on a device tensor would read unmapped memory; with {@link Memory#MANAGED} the storage is managed
 * memory instead, host reads are then legal (every launch synchronizes), at some speed cost.
 * Device memory is freed when the tensor and all its views are unreachable (see {@link CudaContext}).
 *
 * <p><b>Ops.</b> On the GPU: linear (cuBLAS bf16/f16 GEMM with fp32 accumulation, or fp32 GEMM for F32
 * weights; our tiled GEMM kernel when cuBLAS is absent or disabled), matmul (cuBLAS strided batched or
 * our bmm kernel), layerNorm, adaLayerNorm, rmsNorm, softmax, GELU (tanh, erf), SiLU, ReLU and the fused
 * bias variants {@link #biasAct}, add/mul with suffix broadcasting, scale, addInPlace, attention and
 * attentionWithBias (fused flash kernel for head dims ≤ 128, the simple kernel ≤ 256, or cuBLAS), RoPE (interleaved), headL2Normalize, copyInto (strided, rank ≤ 6),
 * interpolate BILINEAR / NEAREST / NEAREST_EXACT, conv2d (implicit GEMM, or the direct kernel), groupNorm, groupNormStats,
 * groupNormApply, plus the bitwise sampler {@link #sampleBits} and {@link #bitsToCodes} and the latent
 * accumulation {@link #accumulateBilinear}. Host fallbacks (download → {@link NaiveBackend} → upload):
 * interpolate AREA and BICUBIC, attention with head dims above 256, tensors of rank above 6 in copies.
 *
 * <p>Nothing of this class has run on GPU hardware yet (no GPU was available while it was written);
 * CudaBackendGpuTest checks every op against NaiveBackend when a GPU is present.
 */
public final class CudaBackend implements Backend {

    /** Where backend tensors live. */
    public enum Memory { DEVICE, MANAGED }

    /**
     * Which attention implementation {@link #attention} runs.
     * <ul>
     *   <li>{@code FUSED}: flash_attention.cu, FlashAttention-2 style tiles with an online softmax
     *       (head dims ≤ 128; larger ones fall back to SIMPLE). The default.</li>
     *   <li>{@code SIMPLE}: attention.cu, one warp per (query, head), the correctness-first reference
     *       (head dims ≤ 256).</li>
     *   <li>{@code CUBLAS}: scores materialised: cuBLAS strided-batched QKᵀ per head (alpha = scale),
     *       the bias added, softmax_f32 over the rows, cuBLAS P·V. Needs H·Lq·Lk·4 bytes of scratch;
     *       without cuBLAS it falls back to SIMPLE.</li>
     *   <li>{@code MMA}: flash_attention_mma.cu, FlashAttention-2 on tensor cores (mma.sync m16n8k16,
     *       bf16 q/k/v and probabilities, fp32 accumulation; sm_80+). F32 inputs are rounded to bf16 on
     *       the GPU first. Head dims that are not multiples of 16 or exceed 128 run FUSED. Unverified on
     *       hardware so far (checked by ptxas and a lane-by-lane emulation only), hence not the default.</li>
     * </ul>
     * The system property {@code infinityj.cuda.attention} (fused | simple | cublas | mma) sets the default.
     */
    public enum AttentionKernel {
        FUSED, SIMPLE, CUBLAS, MMA;

        /** The default: {@code -Dinfinityj.cuda.attention=...} or FUSED. */
        public static AttentionKernel fromProperty() {
            String p = System.getProperty("infinityj.cuda.attention");
            if (p == null || p.isBlank()) return FUSED;
            try { return valueOf(p.trim().toUpperCase(java.util.Locale.ROOT)); }
            catch (IllegalArgumentException e) {
                throw new BadInputException("infinityj.cuda.attention must be fused, simple, cublas or mma, got '" + p + "'");
            }
        }
    }

    /**
     * Which convolution {@link #conv2d} runs: {@code IMPLICIT_GEMM} (conv.cu: 64×64 output tiles, the
     * im2col columns gathered into shared memory, never materialised; the default) or {@code DIRECT}
     * (gemm.cu's conv2d_f32, one thread per output, the reference). The system property
     * {@code infinityj.cuda.conv} (implicit_gemm | direct) sets the default.
     */
    public enum ConvKernel {
        IMPLICIT_GEMM, DIRECT;

        public static ConvKernel fromProperty() {
            String p = System.getProperty("infinityj.cuda.conv");
            if (p == null || p.isBlank()) return IMPLICIT_GEMM;
            try { return valueOf(p.trim().toUpperCase(java.util.Locale.ROOT)); }
            catch (IllegalArgumentException e) {
                throw new BadInputException("infinityj.cuda.conv must be implicit_gemm or direct, got '" + p + "'");
            }
        }
    }

    /**
     * @param device    device ordinal
     * @param memory    device memory (default) or managed memory
     * @param cublas    use cuBLAS for linear / matmul when it can be loaded (else our GEMM kernels)
     * @param cudaLib   extra places to look for libcuda / libcublas (the CLI's --cuda-lib)
     * @param attention the attention implementation (see {@link AttentionKernel})
     * @param conv      the convolution implementation (see {@link ConvKernel})
     */
    public record Options(int device, Memory memory, boolean cublas, List<Path> cudaLib, AttentionKernel attention, ConvKernel conv) {
        public Options {
            cudaLib = List.copyOf(cudaLib);
            java.util.Objects.requireNonNull(attention, "attention");
            java.util.Objects.requireNonNull(conv, "conv");
        }
        public static Options defaults() {
            return new Options(0, Memory.DEVICE, true, List.of(), AttentionKernel.fromProperty(), ConvKernel.fromProperty());
        }
        public Options withCublas(boolean on) { return new Options(device, memory, on, cudaLib, attention, conv); }
        public Options withMemory(Memory m) { return new Options(device, m, cublas, cudaLib, attention, conv); }
        public Options withCudaLib(List<Path> dirs) { return new Options(device, memory, cublas, dirs, attention, conv); }
        public Options withAttention(AttentionKernel a) { return new Options(device, memory, cublas, cudaLib, a, conv); }
        public Options withConv(ConvKernel k) { return new Options(device, memory, cublas, cudaLib, attention, k); }
    }

    private static volatile Optional<String> cachedProbe;

    /** Why the CUDA backend cannot run here (one line), or empty when it can. Cached after the first call. */
    public static Optional<String> probe() {
        Optional<String> p = cachedProbe;
        if (p == null) cachedProbe = p = probe(List.of());
        return p;
    }

    /** {@link #probe()} with extra library locations (--cuda-lib); not cached. */
    public static Optional<String> probe(List<Path> cudaLib) {
        String k = CudaContext.kernelsMissingReason();
        if (k != null) return Optional.of(k);
        CudaDriver cu;
        try {
            cu = CudaContext.openDriver(cudaLib);
        } catch (CudaLibraries.NotFoundException e) {
            return Optional.of(e.getMessage());
        } catch (RuntimeException e) {
            return Optional.of("libcuda could not be bound: " + e.getMessage());
        }
        try (Arena a = Arena.ofConfined()) {
            int rc = cu.cuInit(0);
            if (rc != 0) return Optional.of("cuInit failed: " + CudaError.name(rc)
                    + (rc == CudaError.CUDA_ERROR_STUB_LIBRARY ? " (libcuda is the toolkit's stub, not a driver)" : ""));
            MemorySegment n = a.allocate(ValueLayout.JAVA_INT);
            rc = cu.cuDeviceGetCount(n);
            if (rc != 0) return Optional.of("cuDeviceGetCount failed: " + CudaError.name(rc));
            if (n.get(ValueLayout.JAVA_INT, 0) == 0) return Optional.of("no CUDA device");
            MemorySegment d = a.allocate(ValueLayout.JAVA_INT), v = a.allocate(ValueLayout.JAVA_INT);
            rc = cu.cuDeviceGet(d, 0);
            if (rc != 0) return Optional.of("cuDeviceGet failed: " + CudaError.name(rc));
            rc = cu.cuDeviceGetAttribute(v, CudaConstants.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d.get(ValueLayout.JAVA_INT, 0));
            if (rc != 0) return Optional.of("cuDeviceGetAttribute failed: " + CudaError.name(rc));
            if (v.get(ValueLayout.JAVA_INT, 0) < 8) return Optional.of("device 0 has compute capability " + v.get(ValueLayout.JAVA_INT, 0) + ".x; the kernels need sm_80 or newer");
        } catch (RuntimeException e) {
            return Optional.of("CUDA driver call failed: " + e.getMessage());
        }
        return Optional.empty();
    }

    private final CudaContext c;
    private final Cublas cublas; // null without cuBLAS
    private final String cublasReason;
    private final NaiveBackend host = new NaiveBackend();
    private final AttentionKernel attentionKernel;
    private final ConvKernel convKernel;

    public CudaBackend() { this(Options.defaults()); }

    /** Opens the device; throws {@link CudaUnavailableException} with the probe's one-line reason when it cannot. */
    public CudaBackend(Options o) { this(openDriverChecked(o), o); }

    private static CudaDriver openDriverChecked(Options o) {
        Optional<String> why = probe(o.cudaLib());
        if (why.isPresent()) throw new CudaUnavailableException(why.get());
        try { return CudaContext.openDriver(o.cudaLib()); }
        catch (CudaLibraries.NotFoundException e) { throw new CudaUnavailableException(e.getMessage()); }
    }

    /** On a given driver binding (tests run the whole backend on a fake driver made of upcall stubs). */
    CudaBackend(CudaDriver cu, Options o) {
        CudaContext ctx = new CudaContext(cu, o.device(), o.memory() == Memory.MANAGED);
        Cublas b = null;
        String reason = o.cublas() ? null : "disabled";
        if (o.cublas()) {
            try { b = Cublas.open(ctx, o.cudaLib()); }
            catch (CudaLibraries.NotFoundException | RuntimeException e) { reason = e.getMessage(); }
        }
        this.c = ctx;
        this.cublas = b;
        this.cublasReason = reason;
        this.attentionKernel = o.attention();
        this.convKernel = o.conv();
    }

    @Override public String name() { return "cuda"; }

    @Override public boolean hostMemory() { return false; }

    /**
     * BF16 with the tensor-core attention (it rounds k and v to bf16 on load anyway, so storing them so
     * loses nothing more and halves the cache: 11 → 5.5 GB for 2B at 1024² with CFG), else F32.
     */
    @Override public DType kvCacheDType() { return attentionKernel == AttentionKernel.MMA ? DType.BF16 : DType.F32; }

    /** "cuda (NVIDIA H200, sm_90, cuBLAS …)" style description for logs. */
    public String describe() {
        return "cuda (" + c.deviceName() + ", sm_" + c.computeCapability() + ", "
                + (cublas != null ? "cuBLAS " + cublas.from() : "own GEMM kernels: " + cublasReason)
                + ", attention " + attentionKernel.name().toLowerCase(java.util.Locale.ROOT)
                + ", conv " + convKernel.name().toLowerCase(java.util.Locale.ROOT) + ")";
    }

    public CudaContext context() { return c; }

    public boolean usesCublas() { return cublas != null; }

    @Override
    public void close() {
        if (cublas != null) cublas.close();
        c.close();
    }

    // ------------------------------------------------------------------ memory

    /** Whether {@code t}'s storage is device memory of this backend. */
    public boolean isDevice(Tensor t) { return c.isDevicePointer(t.storage().address()); }

    private static long addr(Tensor t) { return t.storage().address() + t.byteOffset(); }

    /** A new device tensor, recycled by the innermost open {@link Scope} of this thread unless kept. */
    private Tensor newTensor(DType dtype, long... shape) { return deviceTensor(true, dtype, shape); }

    /** A new device tensor no scope recycles (uploads: weights, constants, inputs). */
    private Tensor unscopedTensor(DType dtype, long... shape) { return deviceTensor(false, dtype, shape); }

    private Tensor deviceTensor(boolean scoped, DType dtype, long... shape) {
        c.makeCurrent();
        long bytes = Tensor.numel(shape) * dtype.byteSize();
        CudaContext.Allocation a = c.allocateBlock(Math.max(bytes, 4));
        CudaScope top = scoped ? scopes.get().peek() : null;
        if (top != null) top.blocks.put(a.block().ptr, a.block());
        return Tensor.of(dtype, a.segment(), shape);
    }

    private final ThreadLocal<ArrayDeque<CudaScope>> scopes = ThreadLocal.withInitial(ArrayDeque::new);

    /**
     * Tensors made until the scope closes go back to the device pool at close (stream-ordered, no
     * synchronisation), unless kept; without scopes they wait for the garbage collector.
     */
    @Override
    public Scope scope() {
        ArrayDeque<CudaScope> stack = scopes.get();
        CudaScope s = new CudaScope(stack, stack.peek());
        stack.push(s);
        return s;
    }

    private final class CudaScope implements Scope {
        private final ArrayDeque<CudaScope> stack;
        private final CudaScope parent; // the enclosing scope (open as long as this one is: LIFO), or null
        final Map<Long, CudaContext.Block> blocks = new HashMap<>();
        private boolean closed;

        CudaScope(ArrayDeque<CudaScope> stack, CudaScope parent) {
            this.stack = stack;
            this.parent = parent;
        }

        @Override
        public Tensor keep(Tensor t) {
            if (closed) throw new IllegalStateException("keep() on a closed scope");
            CudaContext.Block b = blocks.remove(t.storage().address());
            if (b != null && parent != null) parent.blocks.put(b.ptr, b); // outside any scope: the GC's again
            return t;
        }

        @Override
        public Tensor adopt(Tensor t) {
            if (closed) throw new IllegalStateException("adopt() on a closed scope");
            long ptr = t.storage().address();
            CudaContext.Block b = c.liveBlock(ptr);
            if (b == null || blocks.containsKey(ptr)) return t;
            for (CudaScope s : stack) s.blocks.remove(ptr); // out of whichever enclosing scope held it
            blocks.put(ptr, b);
            return t;
        }

        @Override
        public void close() {
            if (closed) return;
            if (stack.peek() != this) throw new IllegalStateException("scopes must close innermost first, on the thread that opened them");
            stack.pop();
            closed = true;
            for (CudaContext.Block b : blocks.values()) c.release(b);
            blocks.clear();
        }
    }

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        Tensor t = newTensor(dtype, shape);
        c.zero(addr(t), Math.max(4, t.numel() * dtype.byteSize()));
        return t;
    }

    @Override
    public Tensor upload(Tensor t) { return upload(t, false); }

    /** Host → device; {@code scoped}: an op's result (the innermost scope recycles it), else a weight or input. */
    private Tensor upload(Tensor t, boolean scoped) {
        if (isDevice(t)) return t;
        Tensor h = t.contiguous();
        Tensor d = scoped ? newTensor(h.dtype(), h.shape()) : unscopedTensor(h.dtype(), h.shape());
        long bytes = h.numel() * h.dtype().byteSize();
        if (bytes > 0) c.copyHtoD(addr(d), h.segment(), bytes);
        return d;
    }

    @Override
    public Tensor download(Tensor t) {
        if (!isDevice(t)) return t;
        c.makeCurrent();
        Tensor d = dense(t);
        Tensor h = Tensor.allocate(d.dtype(), d.shape());
        long bytes = d.numel() * d.dtype().byteSize();
        if (bytes > 0) c.copyDtoH(h.segment(), addr(d), bytes);
        return h;
    }

    /** A contiguous device tensor with t's dtype and values (t itself when it already is one). */
    private Tensor dense(Tensor t) {
        if (!isDevice(t)) return upload(t);
        if (t.isContiguous()) return t;
        if (t.dtype().byteSize() != 4) {
            // 2-byte strided views (rare: weight slices): through the host
            return upload(download16(t), true);
        }
        Tensor out = newTensor(t.dtype(), t.shape());
        stridedCopy(t, out);
        return out;
    }

    private Tensor download16(Tensor t) {
        // copy the whole storage span the view covers, then let Tensor make it contiguous on the host
        long lo = t.offset(), hi = t.offset();
        long[] sh = t.shape(), st = t.strides();
        for (int i = 0; i < sh.length; i++) if (sh[i] > 0) { if (st[i] >= 0) hi += (sh[i] - 1) * st[i]; else lo += (sh[i] - 1) * st[i]; }
        int es = t.dtype().byteSize();
        long n = hi - lo + 1;
        Tensor span = Tensor.allocate(t.dtype(), n);
        c.copyDtoH(span.segment(), t.storage().address() + lo * es, n * es);
        return new Tensor(t.dtype(), span.storage(), t.offset() - lo, sh, st).contiguous();
    }

    private void stridedCopy(Tensor src, Tensor dst) {
        int rank = src.rank();
        if (rank > Kernels.STRIDED_MAX_RANK) throw new ShapeException("CUDA strided copy supports rank ≤ 6, got " + src.describe());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Kernels.STRIDED6_BYTES, 8);
            long[] shape = src.shape(), ss = src.strides(), ds = dst.strides();
            for (int i = 0; i < rank; i++) {
                s.setAtIndex(ValueLayout.JAVA_LONG, i, shape[i]);
                s.setAtIndex(ValueLayout.JAVA_LONG, 6 + i, ss[i]);
                s.setAtIndex(ValueLayout.JAVA_LONG, 12 + i, ds[i]);
            }
            s.setAtIndex(ValueLayout.JAVA_LONG, 18, src.offset());
            s.setAtIndex(ValueLayout.JAVA_LONG, 19, dst.offset());
            s.set(ValueLayout.JAVA_INT, 160, rank);
            long n = src.numel();
            if (n > 0) c.launch1d("strided_copy_32", n, src.storage(), dst.storage(), s, n);
        }
    }

    /** Contiguous F32 on the device (converting BF16 / F16 on the GPU). */
    private Tensor f32(Tensor t) {
        Tensor d = dense(t);
        switch (d.dtype()) {
            case F32 -> { return d; }
            case BF16, F16 -> {
                Tensor o = newTensor(DType.F32, d.shape());
                long n = d.numel();
                if (n > 0) c.launch1d(d.dtype() == DType.BF16 ? "bf16_to_f32" : "f16_to_f32", n, addr(d), addr(o), n);
                return o;
            }
            default -> throw new ShapeException("CUDA backend: expected a floating tensor, got " + t.describe());
        }
    }

    private Tensor f32OrNull(Tensor t) { return t == null ? null : f32(t); }

    private static long rows(Tensor t) { return t.rank() == 0 ? 1 : t.numel() / t.dim(-1); }

    private static Object ptr(Tensor t) { return t == null ? null : (Object) addr(t); }

    /** Through the host: download the inputs, run the scalar reference, upload the result. */
    private Tensor viaHost(java.util.function.Supplier<Tensor> op) {
        return upload(op.get(), true);
    }

    // ------------------------------------------------------------------ GEMMs

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias) {
        if (w.rank() != 2) throw new ShapeException("linear weight must be [out, in], got " + w.describe());
        long k = x.dim(-1), n = w.dim(0);
        if (w.dim(1) != k) throw new ShapeException("linear: input has " + k + " features, weight " + w.describe() + " expects " + w.dim(1));
        Tensor xf = f32(x);
        Tensor wd = dense(w);
        long m = rows(xf);
        long[] outShape = x.shape();
        outShape[outShape.length - 1] = n;
        Tensor y = newTensor(DType.F32, outShape);
        Tensor b = f32OrNull(bias);
        if (m == 0 || n == 0) return y;
        checkInt(m, n, k);
        if (cublas != null && wd.dtype() != DType.F16) {
            Tensor xin = xf;
            int dt = CudaConstants.CUDA_R_32F;
            if (wd.dtype() == DType.BF16) {
                xin = bf16(xf);
                dt = CudaConstants.CUDA_R_16BF;
            } else if (wd.dtype() != DType.F32) {
                wd = f32(wd);
            }
            cublas.gemm(CudaConstants.CUBLAS_OP_T, CudaConstants.CUBLAS_OP_N, (int) n, (int) m, (int) k,
                    addr(wd), dt, (int) k, addr(xin), dt, (int) k, addr(y), (int) n);
            if (b != null) c.launch1d("bias_act_f32", m * n, addr(y), addr(b), addr(y), m * n, (int) n, 0);
            return y;
        }
        String kernel = switch (wd.dtype()) {
            case BF16 -> "gemm_xwT_bf16";
            case F16 -> "gemm_xwT_f16";
            case F32 -> "gemm_xwT_f32";
            default -> { wd = f32(wd); yield "gemm_xwT_f32"; }
        };
        c.launch(kernel, (int) ((n + 31) / 32), (int) ((m + 31) / 32), 1, 32, 8, 1, 0,
                addr(xf), addr(wd), ptr(b), addr(y), (int) m, (int) n, (int) k);
        return y;
    }

    private static void checkInt(long... v) {
        for (long x : v) if (x > Integer.MAX_VALUE) throw new ShapeException("CUDA GEMM dimension " + x + " exceeds 2^31-1");
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        Tensor af = f32(a), bf = f32(b);
        boolean r2 = af.rank() == 2;
        long bt = r2 ? 1 : af.dim(0);
        long m = af.dim(-2), k = af.dim(-1), n = bf.dim(-1);
        if (bf.dim(-2) != k || (!r2 && bf.dim(0) != bt)) throw new ShapeException("matmul: " + a.describe() + " · " + b.describe());
        Tensor out = r2 ? newTensor(DType.F32, m, n) : newTensor(DType.F32, bt, m, n);
        if (m == 0 || n == 0 || bt == 0) return out;
        checkInt(m, n, k, bt);
        if (cublas != null) {
            cublas.gemmStridedBatched((int) n, (int) m, (int) k, addr(bf), (int) n, k * n, addr(af), (int) k, m * k,
                    addr(out), (int) n, m * n, (int) bt);
            return out;
        }
        c.launch("bmm_f32", (int) ((n + 31) / 32), (int) ((m + 31) / 32), (int) bt, 32, 8, 1, 0,
                addr(af), addr(bf), addr(out), (int) m, (int) n, (int) k);
        return out;
    }

    // ------------------------------------------------------------------ norms

    private Tensor rowKernelLn(Tensor x, Tensor w, Tensor b, Tensor scale, Tensor shift, float eps) {
        Tensor xf = f32(x);
        long cols = xf.dim(-1), r = rows(xf);
        Tensor y = newTensor(DType.F32, xf.shape());
        if (r == 0) return y;
        c.launch("layer_norm_f32", (int) r, 1, 1, 256, 1, 1, 0, addr(xf), addr(y),
                ptr(f32OrNull(w)), ptr(f32OrNull(b)), ptr(scale), ptr(shift), r, (int) cols, eps);
        return y;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        return rowKernelLn(x, weight, bias, null, null, eps);
    }

    @Override
    public Tensor adaLayerNorm(Tensor x, Tensor scale, Tensor shift, float eps) {
        long cols = x.dim(-1);
        if (scale.numel() != cols || shift.numel() != cols) throw new ShapeException("adaLayerNorm: scale/shift must have " + cols + " elements");
        return rowKernelLn(x, null, null, f32(scale), f32(shift), eps);
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        Tensor xf = f32(x);
        long cols = xf.dim(-1), r = rows(xf);
        Tensor y = newTensor(DType.F32, xf.shape());
        if (r > 0) c.launch("rms_norm_f32", (int) r, 1, 1, 256, 1, 1, 0, addr(xf), addr(y), ptr(f32OrNull(weight)), r, (int) cols, eps);
        return y;
    }

    @Override
    public Tensor softmax(Tensor x) {
        Tensor xf = f32(x);
        long cols = xf.dim(-1), r = rows(xf);
        Tensor y = newTensor(DType.F32, xf.shape());
        if (r > 0) c.launch("softmax_f32", (int) r, 1, 1, 256, 1, 1, 0, addr(xf), addr(y), r, (int) cols);
        return y;
    }

    // ------------------------------------------------------------------ elementwise

    /** act(x + bias): act 0 none, 1 GELU tanh, 2 GELU erf, 3 SiLU, 4 ReLU; bias [last dim] or null (fused bias). */
    public Tensor biasAct(Tensor x, Tensor bias, int act) {
        Tensor xf = f32(x);
        Tensor b = f32OrNull(bias);
        long cols = xf.rank() == 0 ? 1 : xf.dim(-1);
        if (b != null && b.numel() != cols) throw new ShapeException("bias " + bias.describe() + " does not match " + x.describe());
        Tensor y = newTensor(DType.F32, xf.shape());
        long n = xf.numel();
        if (n > 0) c.launch1d("bias_act_f32", n, addr(xf), ptr(b), addr(y), n, (int) cols, act);
        return y;
    }

    @Override public Tensor geluTanh(Tensor x) { return biasAct(x, null, 1); }
    @Override public Tensor geluErf(Tensor x) { return biasAct(x, null, 2); }
    @Override public Tensor silu(Tensor x) { return biasAct(x, null, 3); }
    @Override public Tensor relu(Tensor x) { return biasAct(x, null, 4); }

    private Tensor binary(Tensor a, Tensor b, int op) {
        Tensor af = f32(a), bf = f32(b);
        long[] as = af.shape(), bs = bf.shape();
        if (bs.length > as.length || !Arrays.equals(bs, Arrays.copyOfRange(as, as.length - bs.length, as.length)))
            throw new ShapeException("cannot broadcast " + b.describe() + " onto " + a.describe());
        Tensor y = newTensor(DType.F32, as);
        long n = af.numel(), m = bf.numel();
        if (n > 0) c.launch1d("binary_bcast_f32", n, addr(af), addr(bf), addr(y), n, m, op);
        return y;
    }

    @Override public Tensor add(Tensor a, Tensor b) { return binary(a, b, 0); }
    @Override public Tensor mul(Tensor a, Tensor b) { return binary(a, b, 1); }

    @Override
    public Tensor scale(Tensor a, float s) {
        Tensor af = f32(a);
        Tensor y = newTensor(DType.F32, af.shape());
        long n = af.numel();
        if (n > 0) c.launch1d("scale_f32", n, addr(af), addr(y), n, s);
        return y;
    }

    @Override
    public void addInPlace(Tensor acc, Tensor b) {
        if (!acc.isContiguous() || acc.dtype() != DType.F32 || !isDevice(acc))
            throw new ShapeException("addInPlace needs a contiguous F32 accumulator in CUDA memory, got " + acc.describe());
        Tensor bf = f32(b);
        if (acc.numel() != bf.numel()) throw new ShapeException("addInPlace: " + acc.describe() + " += " + b.describe());
        long n = acc.numel();
        if (n > 0) c.launch1d("add_inplace_f32", n, addr(acc), addr(bf), n);
    }

    // ------------------------------------------------------------------ attention, RoPE

    /** Rows of D floats with a unit last stride (strided [L, H, D] views pass as they are). */
    private Tensor rows3(Tensor t) {
        if (isDevice(t) && t.dtype() == DType.F32 && t.rank() == 3 && t.strides()[2] == 1) return t;
        return f32(t);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, float scale) {
        return attention(q, k, v, null, scale, attentionKernel);
    }

    @Override
    public Tensor attentionWithBias(Tensor q, Tensor k, Tensor v, Tensor bias, float scale) {
        if (bias == null) throw new ShapeException("attentionWithBias: bias must not be null");
        return attention(q, k, v, bias, scale, attentionKernel);
    }

    /** The attention kernel {@link #attention} uses (Options.attention). */
    public AttentionKernel attentionKernel() { return attentionKernel; }

    /**
     * softmax(scale · q kᵀ + bias) v with a chosen implementation (tests and the timing harness compare
     * them): q [Lq, H, D], k [Lk, H, D], v [Lk, H, Dv], bias [H, Lq, Lk] or null → [Lq, H, Dv] F32.
     * FUSED with head dims above 128 runs SIMPLE; MMA with head dims not multiples of 16 or above 128
     * runs FUSED's choice; CUBLAS without cuBLAS runs SIMPLE; head dims above 256 run on the host.
     */
    public Tensor attention(Tensor q, Tensor k, Tensor v, Tensor bias, float scale, AttentionKernel which) {
        return attn(q, k, v, bias, null, 0, 0f, scale, which);
    }

    /**
     * Cosine attention with the normalisation fused into the attention kernel (spec §3.5):
     * softmax(scale · q̂ k̂ᵀ) v with q̂ = q / max(‖q‖, eps) · qScale[h] and, when {@code normalizeK},
     * k̂ = k / max(‖k‖, eps) (else k as given: the KV cache already holds k̂). Equal, up to fp32
     * rounding, to headL2Normalize followed by {@link #attention}; that is what runs when
     * {@code which} is neither FUSED nor MMA or a head dim exceeds 128.
     */
    public Tensor cosineAttention(Tensor q, Tensor k, Tensor v, Tensor qScale, boolean normalizeK, float eps, float scale,
                                  AttentionKernel which) {
        if (qScale != null && qScale.numel() != q.dim(1))
            throw new ShapeException("cosineAttention: qScale has " + qScale.numel() + " entries for " + q.dim(1) + " heads");
        return attn(q, k, v, null, qScale, 1 | (normalizeK ? 2 : 0), eps, scale, which);
    }

    private Tensor attn(Tensor q, Tensor k, Tensor v, Tensor bias, Tensor qScale, int cosFlags, float eps, float scale,
                        AttentionKernel which) {
        if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3)
            throw new ShapeException("attention: q, k, v must be [L, H, D], got " + q.describe() + ", " + k.describe() + ", " + v.describe());
        long lq = q.dim(0), h = q.dim(1), d = q.dim(2), lk = k.dim(0), dv = v.dim(2);
        if (k.dim(1) != h || k.dim(2) != d || v.dim(0) != lk || v.dim(1) != h)
            throw new ShapeException("attention: q " + q.describe() + " k " + k.describe() + " v " + v.describe());
        if (bias != null && (bias.rank() != 3 || bias.dim(0) != h || bias.dim(1) != lq || bias.dim(2) != lk))
            throw new ShapeException("attention: bias " + bias.describe() + " must be [" + h + ", " + lq + ", " + lk + "]");
        checkInt(lq, lk, h);
        boolean mma = which == AttentionKernel.MMA && mmaHeadDim(d) && mmaHeadDim(dv);
        boolean fused = (which == AttentionKernel.FUSED || which == AttentionKernel.MMA)
                && d <= Kernels.FLASH_MAX_HEAD_DIM && dv <= Kernels.FLASH_MAX_HEAD_DIM;
        if (mma) return flashMma(q, k, v, bias, qScale, cosFlags, eps, scale);
        if (cosFlags != 0 && !fused) {
            // unfused cosine attention: normalise first, then the plain kernels
            Tensor qn = headL2Normalize(q, qScale, eps);
            Tensor kn = (cosFlags & 2) != 0 ? headL2Normalize(k, null, eps) : k;
            return attn(qn, kn, v, bias, null, 0, 0f, scale, which);
        }
        if (d > 256 || dv > 256)
            return viaHost(() -> bias == null ? host.attention(download(q), download(k), download(v), scale)
                    : host.attentionWithBias(download(q), download(k), download(v), download(bias), scale));
        if (fused) return flash(q, k, v, bias, qScale, cosFlags, eps, scale);
        if (which == AttentionKernel.CUBLAS && cublas != null) return attentionCublas(q, k, v, bias, scale);
        Tensor qd = rows3(q), kd = rows3(k), vd = rows3(v);
        Tensor bd = bias == null ? null : f32(bias);
        Tensor o = newTensor(DType.F32, lq, h, dv);
        long warps = lq * h;
        if (warps == 0) return o;
        long blocks = (warps * 32 + 127) / 128;
        long[] qs = qd.strides(), ks = kd.strides(), vs = vd.strides();
        c.launch("attention_f32", (int) blocks, 1, 1, 128, 1, 1, 0,
                addr(qd), addr(kd), addr(vd), ptr(bd), addr(o),
                (int) lq, (int) lk, (int) h, (int) d, (int) dv, qs[0], qs[1], ks[0], ks[1], vs[0], vs[1], scale);
        return o;
    }

    /** Device BF16 [L, H, D] with a unit last stride: the bf16 flash kernel reads it as it is. */
    private boolean bf16Rows(Tensor t) {
        return t.dtype() == DType.BF16 && isDevice(t) && t.strides()[2] == 1;
    }

    /** flash_attention_{f32,bf16}: grid (⌈Lq/64⌉, H), 256 threads, 41.3 KB static shared memory. */
    private Tensor flash(Tensor q, Tensor k, Tensor v, Tensor bias, Tensor qScale, int flags, float eps, float scale) {
        boolean bf = bf16Rows(q) && bf16Rows(k) && bf16Rows(v);
        return launchFlash(bf ? "flash_attention_bf16" : "flash_attention_f32", Kernels.FLASH_BLOCK_Q, Kernels.FLASH_THREADS,
                bf ? q : rows3(q), bf ? k : rows3(k), bf ? v : rows3(v), bias, qScale, flags, eps, scale);
    }

    /**
     * The flash kernels' common launch (same argument list): grid (⌈Lq/blockQ⌉, H), {@code threads}
     * per block; q/k/v already in the kernel's dtype with a unit last stride; F32 output [Lq, H, Dv].
     */
    private Tensor launchFlash(String kernel, int blockQ, int threads, Tensor qd, Tensor kd, Tensor vd, Tensor bias, Tensor qScale,
                               int flags, float eps, float scale) {
        Tensor bd = bias == null ? null : f32(bias), sd = qScale == null ? null : f32(qScale);
        long lq = qd.dim(0), h = qd.dim(1), d = qd.dim(2), lk = kd.dim(0), dv = vd.dim(2);
        Tensor o = newTensor(DType.F32, lq, h, dv);
        if (lq == 0 || h == 0) return o;
        if (lk == 0) { c.zero(addr(o), Math.max(4, o.numel() * 4)); return o; }
        if (h > 65535) throw new ShapeException("flash attention: " + h + " heads exceed the grid's y limit 65535");
        long[] qs = qd.strides(), ks = kd.strides(), vs = vd.strides();
        c.launch(kernel, (int) ((lq + blockQ - 1) / blockQ), (int) h, 1, threads, 1, 1, 0,
                addr(qd), addr(kd), addr(vd), ptr(bd), ptr(sd), addr(o),
                (int) lq, (int) lk, (int) h, (int) d, (int) dv, qs[0], qs[1], ks[0], ks[1], vs[0], vs[1], scale, flags, eps);
        return o;
    }

    /** Head dims flash_attention_mma.cu takes: positive multiples of the mma k step (16), at most 128. */
    private static boolean mmaHeadDim(long d) {
        return d > 0 && d <= Kernels.MMA_MAX_HEAD_DIM && d % Kernels.MMA_HEAD_DIM_STEP == 0;
    }

    /** BF16 [L, H, D] rows with a unit last stride on the device: as it is, or converted on the GPU. */
    private Tensor bf16Rows3(Tensor t) { return bf16Rows(t) ? t : bf16(t); }

    /** A new dense BF16 device copy of t (through dense F32: strided views copied, F16 widened), rounded on the GPU. */
    private Tensor bf16(Tensor t) {
        Tensor f = f32(t);
        Tensor b = newTensor(DType.BF16, f.shape());
        roundToBf16(f, addr(b));
        return b;
    }

    /** f32_to_bf16 (round to nearest even) of a dense device F32 tensor into {@code dst}, numel elements. */
    private void roundToBf16(Tensor denseF32, long dst) {
        long n = denseF32.numel();
        if (n > 0) c.launch1d("f32_to_bf16", n, addr(denseF32), dst, n);
    }

    /**
     * flash_attention_mma_bf16 (tensor cores): grid (⌈Lq/64⌉, H), 128 threads, 36 KB static shared
     * memory; bf16 q/k/v, f32 bias / qScale / output. Same flags and semantics as {@link #flash}.
     */
    private Tensor flashMma(Tensor q, Tensor k, Tensor v, Tensor bias, Tensor qScale, int flags, float eps, float scale) {
        return launchFlash("flash_attention_mma_bf16", Kernels.MMA_BLOCK_Q, Kernels.MMA_THREADS,
                bf16Rows3(q), bf16Rows3(k), bf16Rows3(v), bias, qScale, flags, eps, scale);
    }

    /**
     * The materialised reference: S_h = scale · Q_h K_hᵀ (cuBLAS strided-batched over heads, scores
     * [H, Lq, Lk]), + bias, softmax_f32 per row, O_h = P_h V_h written straight into [Lq, H, Dv].
     * Column-major view: Sᵀ_h (Lk×Lq, ld Lk) = K_h(D×Lk, ld ksL)ᵀ · Q_h(D×Lq, ld qsL);
     * Oᵀ_h (Dv×Lq, ld H·Dv) = V_h(Dv×Lk, ld vsL) · Pᵀ_h(Lk×Lq, ld Lk).
     */
    private Tensor attentionCublas(Tensor q, Tensor k, Tensor v, Tensor bias, float scale) {
        Tensor qd = rows3(q), kd = rows3(k), vd = rows3(v);
        long lq = q.dim(0), h = q.dim(1), d = q.dim(2), lk = k.dim(0), dv = v.dim(2);
        Tensor o = newTensor(DType.F32, lq, h, dv);
        if (lq == 0 || h == 0 || dv == 0) return o;
        if (lk == 0) { c.zero(addr(o), Math.max(4, o.numel() * 4)); return o; }
        long[] qs = qd.strides(), ks = kd.strides(), vs = vd.strides();
        checkInt(qs[0], ks[0], vs[0], h * dv, lk * lq);
        Tensor sc = newTensor(DType.F32, h, lq, lk);
        cublas.gemmStridedBatched(CudaConstants.CUBLAS_OP_T, CudaConstants.CUBLAS_OP_N, (int) lk, (int) lq, (int) d, scale,
                addr(kd), (int) ks[0], ks[1], addr(qd), (int) qs[0], qs[1], addr(sc), (int) lk, lq * lk, (int) h);
        if (bias != null) {
            Tensor bd = f32(bias);
            c.launch1d("add_inplace_f32", sc.numel(), addr(sc), addr(bd), sc.numel());
        }
        // in place: softmax_f32 reads x[j] and writes y[j] in the same thread, so x == y is safe and
        // saves the second H·Lq·Lk buffer
        c.launch("softmax_f32", (int) (h * lq), 1, 1, 256, 1, 1, 0, addr(sc), addr(sc), h * lq, (int) lk);
        Tensor p = sc;
        cublas.gemmStridedBatched(CudaConstants.CUBLAS_OP_N, CudaConstants.CUBLAS_OP_N, (int) dv, (int) lq, (int) lk, 1f,
                addr(vd), (int) vs[0], vs[1], addr(p), (int) lk, lq * lk, addr(o), (int) (h * dv), dv, (int) h);
        return o;
    }

    @Override
    public void ropeInterleavedInPlace(Tensor x, Tensor cos, Tensor sin) {
        if (!x.isContiguous() || x.dtype() != DType.F32 || !isDevice(x))
            throw new ShapeException("rope needs a contiguous F32 [L,H,D] tensor in CUDA memory, got " + x.describe());
        long l = x.dim(0), h = x.dim(1), d = x.dim(2);
        if (cos.dim(0) != l || cos.dim(1) != d / 2 || sin.dim(0) != l || sin.dim(1) != d / 2)
            throw new ShapeException("rope: tables " + cos.describe() + " do not match x " + x.describe());
        Tensor cf = f32(cos), sf = f32(sin);
        long n = l * h * (d / 2);
        if (n > 0) c.launch1d("rope_interleaved_f32", n, addr(x), addr(cf), addr(sf), l, (int) h, (int) d);
    }

    @Override
    public Tensor headL2Normalize(Tensor x, Tensor headScale, float eps) {
        if (x.rank() != 3) throw new ShapeException("headL2Normalize: x must be [L, H, D], got " + x.describe());
        Tensor xd = rows3(x);
        long l = xd.dim(0), h = xd.dim(1), d = xd.dim(2);
        if (headScale != null && headScale.numel() != h) throw new ShapeException("headL2Normalize: headScale has " + headScale.numel() + " entries for " + h + " heads");
        Tensor hs = f32OrNull(headScale);
        Tensor y = newTensor(DType.F32, l, h, d);
        long rowsN = l * h;
        if (rowsN > 0) {
            long[] st = xd.strides();
            c.launch("head_l2_normalize_f32", (int) ((rowsN * 32 + 255) / 256), 1, 1, 256, 1, 1, 0,
                    addr(xd), addr(y), ptr(hs), l, (int) h, (int) d, st[0], st[1], eps);
        }
        return y;
    }

    @Override
    public void copyInto(Tensor dst, Tensor src) {
        if (!Arrays.equals(dst.shape(), src.shape())) throw new ShapeException("copyInto: " + src.describe() + " into " + dst.describe());
        if (dst.dtype() == DType.BF16 && isDevice(dst) && dst.isContiguous()) {
            // a BF16 KV cache (kvCacheDType): rows converted on the way in, round to nearest even
            roundToBf16(f32(src), addr(dst));
            return;
        }
        if (dst.dtype() != DType.F32 || !isDevice(dst))
            throw new ShapeException("copyInto: destination must be F32 (or contiguous BF16) in CUDA memory, got " + dst.describe());
        if (dst.numel() == 0) return;
        Tensor s = isDevice(src) && src.dtype() == DType.F32 ? src : f32(src);
        if (s.isContiguous() && dst.isContiguous()) { c.copyDtoD(addr(dst), addr(s), dst.numel() * 4); return; }
        if (dst.rank() > Kernels.STRIDED_MAX_RANK) throw new ShapeException("CUDA copyInto supports rank ≤ 6, got " + dst.describe());
        stridedCopy(s, dst);
    }

    // ------------------------------------------------------------------ maps

    @Override
    public Tensor interpolate(Tensor x, int outH, int outW, Interpolation mode) {
        if (mode == Interpolation.AREA || mode == Interpolation.BICUBIC)
            return viaHost(() -> host.interpolate(download(x), outH, outW, mode));
        Tensor xf = f32(x);
        int ch = (int) xf.dim(0), ih = (int) xf.dim(1), iw = (int) xf.dim(2);
        Tensor y = newTensor(DType.F32, ch, outH, outW);
        long n = (long) ch * outH * outW;
        if (n == 0) return y;
        if (mode == Interpolation.BILINEAR) c.launch1d("bilinear_f32", n, addr(xf), addr(y), ch, ih, iw, outH, outW, 0);
        else c.launch1d("nearest_f32", n, addr(xf), addr(y), ch, ih, iw, outH, outW, mode == Interpolation.NEAREST_EXACT ? 1 : 0);
        return y;
    }

    /**
     * Latent accumulation (spec §4.2 step 8): acc [C, H, W] += bilinear(x [C, h, w] → H×W), in one
     * kernel ('trilinear' with a unit time axis is this bilinear).
     */
    public void accumulateBilinear(Tensor acc, Tensor x) {
        if (!acc.isContiguous() || acc.dtype() != DType.F32 || !isDevice(acc) || acc.rank() != 3)
            throw new ShapeException("accumulateBilinear needs a contiguous F32 [C,H,W] accumulator in CUDA memory, got " + acc.describe());
        Tensor xf = f32(x);
        if (xf.dim(0) != acc.dim(0)) throw new ShapeException("accumulateBilinear: " + x.describe() + " onto " + acc.describe());
        int ch = (int) acc.dim(0), oh = (int) acc.dim(1), ow = (int) acc.dim(2);
        long n = (long) ch * oh * ow;
        if (n > 0) c.launch1d("bilinear_f32", n, addr(xf), addr(acc), ch, (int) xf.dim(1), (int) xf.dim(2), oh, ow, 1);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding) {
        return conv2d(x, w, bias, stride, padding, convKernel);
    }

    /** {@link #conv2d} with a chosen implementation (tests and benchmarks compare them). */
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, ConvKernel which) {
        if (x.rank() != 3 || w.rank() != 4) throw new ShapeException("conv2d: x must be [C, H, W] and w [O, C, kh, kw], got " + x.describe() + ", " + w.describe());
        if (stride < 1 || padding < 0) throw new ShapeException("conv2d: stride " + stride + ", padding " + padding);
        Tensor xf = f32(x), bf = f32OrNull(bias);
        long ch = xf.dim(0), hi = xf.dim(1), wi = xf.dim(2);
        long o = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        if (w.dim(1) != ch) throw new ShapeException("conv2d: input has " + ch + " channels, weight " + w.describe());
        if (bf != null && bf.numel() != o) throw new ShapeException("conv2d: bias " + bias.describe() + " for " + o + " output channels");
        long ho = (hi + 2L * padding - kh) / stride + 1, wo = (wi + 2L * padding - kw) / stride + 1;
        if (ho <= 0 || wo <= 0) throw new ShapeException("conv2d: kernel " + kh + "x" + kw + " larger than the padded input " + x.describe());
        checkInt(ch * kh * kw, ho * wo, o);
        Tensor y = newTensor(DType.F32, o, ho, wo);
        long n = o * ho * wo;
        if (n == 0) return y;
        if (which == ConvKernel.IMPLICIT_GEMM) {
            Tensor wd = dense(w);
            boolean bf16 = wd.dtype() == DType.BF16;
            if (!bf16) wd = f32(wd);
            long tilesP = (ho * wo + Kernels.CONV_TILE - 1) / Kernels.CONV_TILE, tilesO = (o + Kernels.CONV_TILE - 1) / Kernels.CONV_TILE;
            if (tilesO > 65535) throw new ShapeException("conv2d: " + o + " output channels exceed the grid's y limit");
            c.launch(bf16 ? "conv2d_igemm_bf16" : "conv2d_igemm_f32", (int) tilesP, (int) tilesO, 1, Kernels.CONV_THREADS, 1, 1, 0,
                    addr(xf), addr(wd), ptr(bf), addr(y),
                    (int) ch, (int) hi, (int) wi, (int) o, (int) kh, (int) kw, stride, padding, (int) ho, (int) wo);
            return y;
        }
        Tensor wf = f32(w);
        c.launch1d("conv2d_f32", n, addr(xf), addr(wf), ptr(bf), addr(y),
                (int) ch, (int) hi, (int) wi, (int) o, (int) kh, (int) kw, stride, padding, (int) ho, (int) wo);
        return y;
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps) {
        return groupNormApply(x, groups, groupNormStats(x, groups, eps), weight, bias, false);
    }

    @Override
    public Tensor groupNormStats(Tensor x, int groups, float eps) {
        Tensor xf = f32(x);
        long ch = xf.dim(0);
        if (ch % groups != 0) throw new ShapeException("groupNorm: " + ch + " channels not divisible by " + groups + " groups");
        Tensor stats = newTensor(DType.F32, groups, 2);
        long perGroup = xf.numel() / groups;
        c.launch("group_norm_stats_f32", groups, 1, 1, 256, 1, 1, 0, addr(xf), addr(stats), groups, perGroup, eps);
        return stats;
    }

    @Override
    public Tensor groupNormApply(Tensor x, int groups, Tensor stats, Tensor weight, Tensor bias, boolean silu) {
        Tensor xf = f32(x), sf = f32(stats);
        long ch = xf.dim(0);
        if (ch % groups != 0) throw new ShapeException("groupNorm: " + ch + " channels not divisible by " + groups + " groups");
        Tensor y = newTensor(DType.F32, xf.shape());
        long hw = xf.numel() / ch;
        if (xf.numel() > 0) c.launch1d("group_norm_apply_f32", xf.numel(), addr(xf), addr(y), addr(sf),
                ptr(f32OrNull(weight)), ptr(f32OrNull(bias)), (int) ch, hw, groups, silu ? 1 : 0);
        return y;
    }

    // ------------------------------------------------------------------ sampling

    /**
     * The bitwise head sampler on the GPU, the same function as {@code BitSampler.sample} applied to
     * {@code InfinityGenerator.mix(cond, uncond, cfg, tau)}: logits stay on the device, only the bits
     * (one byte per row) are produced, as a device U8 tensor [rows].
     *
     * @param cond     head output of the conditional half, interleaved pairs (rows·2 floats)
     * @param uncond   the unconditional half, or null (no CFG at this scale; also pass null when cfg = 1)
     * @param mixedOut a device F32 tensor [rows·2] receiving the sampler input, or null
     * @param stream   the Philox stream: the scale index
     * @param firstRow global row index of row 0 (batch offset)
     */
    public Tensor sampleBits(Tensor cond, Tensor uncond, double cfg, double tau, int topK, double topP,
                             long seed, int stream, long firstRow, Tensor mixedOut) {
        Tensor cf = f32(cond), uf = uncond == null || cfg == 1 ? null : f32(uncond);
        long rows = cf.numel() / 2;
        if (uf != null && uf.numel() != cf.numel()) throw new ShapeException("sampleBits: cond " + cond.describe() + " vs uncond " + uncond.describe());
        if (mixedOut != null && (!isDevice(mixedOut) || mixedOut.dtype() != DType.F32 || mixedOut.numel() != 2 * rows || !mixedOut.isContiguous()))
            throw new ShapeException("sampleBits: mixedOut must be a contiguous device F32 [" + 2 * rows + "], got " + mixedOut.describe());
        Tensor bits = newTensor(DType.U8, rows);
        // the host-side constants exactly as InfinityGenerator.mix and BitSampler.filteredP1 round them
        float inv = (float) (1.0 / tau), a = (float) cfg, b = (float) (1 - cfg);
        float threshold = (float) (1.0 - topP);
        if (rows > 0) c.launch1d("bit_sample", rows, addr(cf), ptr(uf), inv, a, b, rows, topK, topP > 0 ? 1 : 0, threshold,
                seed, stream, firstRow, addr(bits), ptr(mixedOut));
        return bits;
    }

    /** Bits (device U8 [h·w·tokenDim], token-major) → codes ±magnitude [channels, f·h, f·w] (LatentLayout.bitsToCodes). */
    public Tensor bitsToCodes(Tensor bits, int h, int w, int tokenDim, boolean patchify, float magnitude) {
        Tensor bd = dense(bits);
        if (bd.dtype() != DType.U8 && bd.dtype() != DType.BOOL && bd.dtype() != DType.I8)
            throw new ShapeException("bitsToCodes: bits must be one byte each, got " + bits.describe());
        if (bd.numel() != (long) h * w * tokenDim) throw new ShapeException("bitsToCodes: " + bits.describe() + " is not h·w·d = " + (long) h * w * tokenDim);
        int f = patchify ? 2 : 1, ch = patchify ? tokenDim / 4 : tokenDim;
        Tensor codes = newTensor(DType.F32, ch, (long) f * h, (long) f * w);
        long n = bd.numel();
        if (n > 0) c.launch1d("bits_to_codes", n, addr(bd), addr(codes), h, w, tokenDim, patchify ? 1 : 0, magnitude);
        return codes;
    }

    /** Philox-4x32-10 words on the GPU: [n, 4] I32 for counters (lo, hi of i0+i, stream, 0), key = seed (tests). */
    public Tensor philoxWords(long seed, int stream, long i0, long n) {
        Tensor out = newTensor(DType.I32, n, 4);
        if (n > 0) c.launch1d("philox_words", n, addr(out), seed, stream, i0, n);
        return out;
    }

    /** Waits for every queued kernel (benchmarks; download synchronizes by itself). */
    public void synchronize() { c.synchronize(); }
}
