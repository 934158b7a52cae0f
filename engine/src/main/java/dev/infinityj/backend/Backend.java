package dev.infinityj.backend;

import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

/**
 * The seam model code calls: every op the T5 encoder, the Infinity transformer and the BSQ-VAE
 * need. Model classes never touch kernels directly, so the CPU backend ({@link CpuBackend}) and
 * the CUDA backend are interchangeable and each can be tested against the other.
 *
 * <p>Conventions. Activations are F32 and contiguous unless a method says otherwise; results are
 * new tensors owned by the backend. "Rows" means all leading dimensions flattened; ops that
 * normalise or activate work on the last dimension. Weights may be F32, BF16 or F16 and keep the
 * PyTorch layout ({@code Linear.weight} is [out, in]; {@code Conv2d.weight} is [O, C, kh, kw]).
 * Images and latents are channel-first [C, H, W] (batch handled by the caller).
 */
public interface Backend extends AutoCloseable {

    String name();

    /** Zero-filled tensor in this backend's memory. */
    Tensor allocate(DType dtype, long... shape);

    /**
     * A tensor whose every element the caller writes before reading it (stacked rows, attention
     * outputs, a KV cache read only where filled): this backend may skip the zero fill. Default:
     * {@link #allocate}.
     */
    default Tensor allocateForWrite(DType dtype, long... shape) { return allocate(dtype, shape); }

    /**
     * Opens a {@link Scope}: tensors this backend makes until it closes are recycled at close unless
     * kept. Default: {@link Scope#NONE} (memory left to the garbage collector).
     */
    default Scope scope() { return Scope.NONE; }

    /**
     * Whether this backend's tensors live in host memory (the CPU backends; the CUDA backend with
     * managed memory counts as not). Callers that trade speed for host memory (the VAE's row bands)
     * skip the trade on a device.
     */
    default boolean hostMemory() { return true; }

    /**
     * The element type of the transformer's KV cache on this backend: F32 (default), or BF16 where
     * the attention kernel reads bf16 anyway; {@link #copyInto} then converts into it and
     * {@link #attention} accepts it for k and v.
     */
    default DType kvCacheDType() { return DType.F32; }

    /** A copy (or the same tensor where no copy is needed) resident in this backend's memory. */
    Tensor upload(Tensor host);

    /** A host copy (the same tensor on the CPU backend). */
    Tensor download(Tensor t);

    /**
     * y[M,N] = x[M,K] · w[N,K]ᵀ + bias[N]; bias may be null. x may have any leading dims. w is a
     * {@code Linear.weight} [N, K], or what this backend's {@link #linearWeight} returned for one.
     */
    Tensor linear(Tensor x, Tensor w, Tensor bias);

    /**
     * A {@code Linear.weight} made ready for {@link #linear} on this backend, once, at model build:
     * uploaded, and possibly re-laid out. The result is only meant for this backend's
     * {@code linear}; keep it instead of w.
     *
     * <p>{@code w} is [N, K], or already packed ({@link PackedLinear}: [N/16, K, 16], as converted
     * transformer files store their Linear weights). This method is the one place where the layout
     * is reconciled: the CPU backend packs a plain weight and passes a packed one through unchanged
     * (zero copy from the mapped file); this default — every other backend (CUDA, the naive
     * reference) — unpacks a packed weight to [N, K] here and uploads that, so their
     * {@code linear} only ever sees the PyTorch layout.
     */
    default Tensor linearWeight(Tensor w) { return upload(PackedLinear.plain(w)); }

    /** Batched plain matmul: a[B,M,K] · b[B,K,N] → [B,M,N] (rank 2 allowed: B=1). */
    Tensor matmul(Tensor a, Tensor b);

    /** LayerNorm over the last dim, biased variance; weight and bias may be null (no affine). */
    Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps);

    /**
     * Adaptive LayerNorm: LN(x) without affine, then x·(1+scale)+shift, with scale and shift of
     * shape [C] broadcast over all rows.
     */
    Tensor adaLayerNorm(Tensor x, Tensor scale, Tensor shift, float eps);

    /** RMSNorm over the last dim: x / sqrt(mean(x²)+eps) · weight (weight may be null). */
    Tensor rmsNorm(Tensor x, Tensor weight, float eps);

    /** Softmax over the last dim. */
    Tensor softmax(Tensor x);

    /** GELU, tanh approximation: 0.5·z·(1+tanh(√(2/π)(z+0.044715z³))). */
    Tensor geluTanh(Tensor x);

    /** Exact GELU: 0.5·z·(1+erf(z/√2)). */
    Tensor geluErf(Tensor x);

    /** SiLU: z·σ(z). */
    Tensor silu(Tensor x);

    /** a + b; b has a's shape or is broadcast over a's leading dims (its shape a suffix of a's). */
    Tensor add(Tensor a, Tensor b);

    /** a ⊙ b with the same broadcasting as {@link #add}. */
    Tensor mul(Tensor a, Tensor b);

    /** a · s. */
    Tensor scale(Tensor a, float s);

    /** acc += b (same shape), in place. */
    void addInPlace(Tensor acc, Tensor b);

    /**
     * Multi-head attention without mask: o = softmax(scale · q kᵀ) v per head.
     * q [Lq, H, D], k [Lk, H, D], v [Lk, H, Dv] → [Lq, H, Dv]. Lq ≠ Lk is the normal case
     * (the current scale's queries against every cached key). Strided views are accepted.
     */
    Tensor attention(Tensor q, Tensor k, Tensor v, float scale);

    /**
     * Multi-head attention with an additive bias per head (T5's relative position bias):
     * o = softmax(scale · q kᵀ + bias[h]) v, softmax in fp32. q [Lq, H, D], k [Lk, H, D],
     * v [Lk, H, Dv], bias [H, Lq, Lk] (F32) → [Lq, H, Dv]. T5 calls it with scale = 1.
     */
    Tensor attentionWithBias(Tensor q, Tensor k, Tensor v, Tensor bias, float scale);

    /** ReLU: max(z, 0). */
    Tensor relu(Tensor x);

    /**
     * RoPE with interleaved pairs, in place: for token t, head h, pair p,
     * (x[2p], x[2p+1]) ← (x0·cos − x1·sin, x0·sin + x1·cos) with cos/sin [L, D/2].
     * x is [L, H, D] contiguous.
     */
    void ropeInterleavedInPlace(Tensor x, Tensor cos, Tensor sin);

    /**
     * Per-head L2 normalisation (cosine attention): x [L, H, D] → x / max(‖x‖₂, eps) · headScale[h],
     * the norm over D; headScale [H] (F32) may be null (= 1). Strided views are accepted; the result
     * is a new contiguous F32 tensor.
     */
    Tensor headL2Normalize(Tensor x, Tensor headScale, float eps);

    /** dst ← src, element by element (same shape); dst may be a strided view, e.g. rows of a preallocated cache. */
    void copyInto(Tensor dst, Tensor src);

    /** Interpolation of channel-first maps [C, H, W] → [C, outH, outW], PyTorch semantics (align_corners=False). */
    Tensor interpolate(Tensor x, int outH, int outW, Interpolation mode);

    /** 2-D convolution of x [C, H, W] with w [O, C, kh, kw] (+ bias [O] or null), square stride and zero padding. */
    Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding);

    /** GroupNorm of x [C, H, W] with {@code groups} groups, affine weight/bias [C] (nullable). */
    Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps);

    /**
     * GroupNorm statistics of x [C, H, W]: [groups, 2] F32 rows (mean, 1/√(biased variance + eps))
     * per group of C/groups consecutive channels. With {@link #groupNormApply} this lets callers
     * normalise a large map in row bands (the statistics must come from the whole map).
     */
    default Tensor groupNormStats(Tensor x, int groups, float eps) {
        // host fallback so every backend has the op; backends override it with a native kernel
        return upload(GroupNormReference.stats(download(x), groups, eps));
    }

    /**
     * GroupNorm of x [C, h, W] (a whole map or a band of its rows) with {@code stats} from
     * {@link #groupNormStats} of the whole map: (x − mean)·rstd·weight[c] + bias[c], then SiLU
     * (z·σ(z)) when {@code silu}. weight/bias [C] may be null.
     */
    default Tensor groupNormApply(Tensor x, int groups, Tensor stats, Tensor weight, Tensor bias, boolean silu) {
        return upload(GroupNormReference.apply(download(x), groups, download(stats), weight, bias, silu));
    }

    @Override
    default void close() {}
}
