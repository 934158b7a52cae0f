package dev.infinityj.text;

import dev.infinityj.BadInputException;
import dev.infinityj.ShapeException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.backend.Backend;
import dev.infinityj.backend.Scope;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * The T5 v1.1 / Flan-T5 encoder stack (spec §2.8), run through a {@link Backend}:
 * {@code h = E[ids]}; per block {@code h += o(softmax(q kᵀ + bias) v)} on {@code RMS(h)·ln0} (no
 * 1/√d_kv), {@code h += wo(act(wi_0 n) ⊙ wi_1 n)} on {@code n = RMS(h)·ln1}; output
 * {@code RMS(h)·final_layer_norm}. The relative position bias comes from block 0's table and is
 * shared by every block. Only the L real tokens are encoded: the official pipeline pads to 512
 * and masks the padding keys, which leaves the valid rows unchanged (tested).
 */
public final class T5Encoder implements AutoCloseable {
    /** Called after each block with its output (before the final norm), for tests and tools. */
    public interface BlockObserver { void afterBlock(int block, Tensor hidden); }

    private record Block(Tensor ln0, Tensor q, Tensor k, Tensor v, Tensor o,
                         Tensor ln1, Tensor wi0, Tensor wi1, Tensor wo) {}

    private final T5Config cfg;
    private final Backend backend;
    private final WeightSource source;     // closed with the encoder when owned
    private final boolean ownsSource;
    private final Tensor embedding;        // host [vocab, d_model], any float dtype
    private final float[] relativeBias;    // [buckets, heads]
    private final Block[] blocks;
    private final Tensor finalNorm;
    private final T5Config.Activation act;
    private final AtomicLong forwards = new AtomicLong();

    private T5Encoder(T5Config cfg, WeightSource w, Backend backend, boolean ownsSource) {
        this.cfg = cfg;
        this.backend = backend;
        this.source = w;
        this.ownsSource = ownsSource;
        this.act = cfg.activation();
        int d = cfg.dModel(), inner = cfg.innerDim(), ff = cfg.dFf(), h = cfg.numHeads();
        String embKey = w.contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
        embedding = weight(w, embKey, -1, d);
        if (!embedding.isContiguous()) throw new WeightFormatException(w.describe() + ": '" + embKey + "' is not contiguous");
        relativeBias = weight(w, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                cfg.relativeAttentionNumBuckets(), h).toFloatArray();
        blocks = new Block[cfg.numLayers()];
        for (int i = 0; i < blocks.length; i++) {
            String p = "encoder.block." + i + ".layer.";
            String ffn = p + "1.DenseReluDense.";
            boolean gated = cfg.gatedAct();
            blocks[i] = new Block(
                    up(weight(w, p + "0.layer_norm.weight", d)),
                    lin(weight(w, p + "0.SelfAttention.q.weight", inner, d)),
                    lin(weight(w, p + "0.SelfAttention.k.weight", inner, d)),
                    lin(weight(w, p + "0.SelfAttention.v.weight", inner, d)),
                    lin(weight(w, p + "0.SelfAttention.o.weight", d, inner)),
                    up(weight(w, p + "1.layer_norm.weight", d)),
                    lin(weight(w, ffn + (gated ? "wi_0.weight" : "wi.weight"), ff, d)),
                    gated ? lin(weight(w, ffn + "wi_1.weight", ff, d)) : null,
                    lin(weight(w, ffn + "wo.weight", d, ff)));
        }
        finalNorm = up(weight(w, "encoder.final_layer_norm.weight", d));
    }

    /**
     * Loads a Hugging Face T5 folder: {@code config.json} plus {@code model.safetensors} or the
     * sharded set with {@code model.safetensors.index.json}. Decoder weights are ignored.
     */
    public static T5Encoder load(Path dir, Backend backend) {
        T5Config cfg = T5Config.load(dir.resolve("config.json"));
        WeightSource w = T5Files.open(dir);
        try {
            return new T5Encoder(cfg, w, backend, true);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** An encoder over weights the caller keeps open (and closes). */
    public static T5Encoder fromWeights(T5Config cfg, WeightSource weights, Backend backend) {
        return new T5Encoder(cfg, weights, backend, false);
    }

    private Tensor up(Tensor host) { return backend.upload(host); }

    private Tensor lin(Tensor weight) { return backend.linearWeight(weight); }

    private static Tensor weight(WeightSource w, String key, long... shape) {
        if (!w.contains(key)) throw new WeightFormatException(w.describe() + ": missing T5 encoder weight '" + key + "'");
        Tensor t = w.get(key);
        if (!t.dtype().isFloating() || t.dtype() == DType.F64)
            throw new WeightFormatException(w.describe() + ": '" + key + "' is " + t.dtype() + ", expected F32, BF16 or F16");
        long[] logical = w.logicalShape(key);   // a Linear weight stored packed (convert) is checked as its [N, K]
        boolean ok = logical.length == shape.length;
        for (int i = 0; ok && i < shape.length; i++) ok = shape[i] < 0 || logical[i] == shape[i];
        if (!ok) throw new WeightFormatException(w.describe() + ": '" + key + "' has shape " + Arrays.toString(logical)
                + (w.isPackedLinear(key) ? " (stored packed as " + Arrays.toString(t.shape()) + ")" : "")
                + ", the config expects " + Arrays.toString(shape).replace("-1", "*"));
        if (w.isPackedLinear(key) && !isLinearWeight(key))
            throw new WeightFormatException(w.describe() + ": '" + key + "' is stored packed, but the encoder reads it as a plain table");
        return t;
    }

    private static final java.util.regex.Pattern LINEAR = java.util.regex.Pattern.compile(
            "encoder\\.block\\.\\d+\\.layer\\.(0\\.SelfAttention\\.[qkvo]|1\\.DenseReluDense\\.(wi|wi_0|wi_1|wo))\\.weight");

    /**
     * Whether the encoder feeds {@code key} to a linear layer (the q, k, v, o projections and the FFN
     * matrices): the keys {@code convert} may store packed. One home for that rule.
     */
    public static boolean isLinearWeight(String key) { return LINEAR.matcher(key).matches(); }

    public T5Config config() { return cfg; }

    /** How many times {@link #encode} ran (the prompt cache's tests count it). */
    public long forwardCount() { return forwards.get(); }

    /** Last hidden state [L, d_model] (F32, in the backend's memory) of the token ids. */
    public Tensor encode(int[] ids) { return encode(ids, null); }

    public Tensor encode(int[] ids, BlockObserver observer) {
        forwards.incrementAndGet();
        int len = ids.length;
        if (len == 0) throw new BadInputException("T5 encoder: empty token sequence (the tokenizer always appends EOS)");
        Tensor h = backend.upload(embed(ids));
        Tensor bias = backend.upload(positionBias(len));
        float eps = cfg.layerNormEpsilon();
        int heads = cfg.numHeads(), dkv = cfg.dKv(), inner = cfg.innerDim();
        for (int i = 0; i < blocks.length; i++) {
            // h is updated in place; everything else a block makes is recycled when its scope closes
            try (Scope scope = backend.scope()) {
                Block b = blocks[i];
                Tensor n = backend.rmsNorm(h, b.ln0, eps);
                Tensor q = backend.linear(n, b.q, null).reshape(len, heads, dkv);
                Tensor k = backend.linear(n, b.k, null).reshape(len, heads, dkv);
                Tensor v = backend.linear(n, b.v, null).reshape(len, heads, dkv);
                Tensor a = backend.attentionWithBias(q, k, v, bias, 1.0f);          // T5: no 1/√d_kv
                backend.addInPlace(h, backend.linear(a.reshape(len, inner), b.o, null));
                n = backend.rmsNorm(h, b.ln1, eps);
                Tensor f = activate(backend.linear(n, b.wi0, null));
                if (b.wi1 != null) f = backend.mul(f, backend.linear(n, b.wi1, null));
                backend.addInPlace(h, backend.linear(f, b.wo, null));
                if (observer != null) observer.afterBlock(i, h);
            }
        }
        return backend.rmsNorm(h, finalNorm, eps);
    }

    private Tensor activate(Tensor x) {
        return switch (act) {
            case GELU_NEW -> backend.geluTanh(x);
            case GELU -> backend.geluErf(x);
            case RELU -> backend.relu(x);
            case SILU -> backend.silu(x);
        };
    }

    /** The token embeddings E[ids] as a host F32 [L, d_model] tensor (no scaling in T5). */
    public Tensor embed(int[] ids) {
        int d = cfg.dModel();
        long rows = embedding.dim(0);
        Tensor out = Tensor.allocate(DType.F32, ids.length, d);
        MemorySegment o = out.segment(), e = embedding.segment();
        DType dt = embedding.dtype();
        for (int t = 0; t < ids.length; t++) {
            int id = ids[t];
            if (id < 0 || id >= rows)
                throw new BadInputException("T5 encoder: token id " + id + " is outside the embedding table of " + rows + " rows");
            long base = (long) id * d;
            for (int c = 0; c < d; c++) {
                float v = switch (dt) {
                    case F32 -> e.getAtIndex(F32_LE, base + c);
                    case BF16 -> DType.bf16ToF32(e.getAtIndex(Tensor.I16_LE, base + c));
                    case F16 -> DType.f16ToF32(e.getAtIndex(Tensor.I16_LE, base + c));
                    default -> throw new ShapeException("embedding dtype " + dt);
                };
                o.setAtIndex(F32_LE, (long) t * d + c, v);
            }
        }
        return out;
    }

    /** bias[h, i, j] = table[bucket(j − i), h] as a host F32 [H, L, L] tensor (no padding mask). */
    public Tensor positionBias(int len) {
        int heads = cfg.numHeads();
        int[] bucketOf = new int[2 * len - 1];                 // by j − i + len − 1
        for (int r = -(len - 1); r <= len - 1; r++)
            bucketOf[r + len - 1] = relativePositionBucket(r, cfg.relativeAttentionNumBuckets(), cfg.relativeAttentionMaxDistance());
        Tensor out = Tensor.allocate(DType.F32, heads, len, len);
        MemorySegment o = out.segment();
        for (int hh = 0; hh < heads; hh++)
            for (int i = 0; i < len; i++)
                for (int j = 0; j < len; j++)
                    o.setAtIndex(F32_LE, ((long) hh * len + i) * len + j, relativeBias[bucketOf[j - i + len - 1] * heads + hh]);
        return out;
    }

    /**
     * HF {@code _relative_position_bucket} with bidirectional=True, for relative position
     * {@code key − query}: half the buckets per direction (+half for keys after the query), exact
     * below half of that, logarithmic above up to {@code maxDistance}; the log term in float32 and
     * truncated toward zero, as torch computes it.
     */
    public static int relativePositionBucket(int relativePosition, int numBuckets, int maxDistance) {
        int half = numBuckets / 2;
        int bucket = relativePosition > 0 ? half : 0;
        int a = Math.abs(relativePosition);
        int maxExact = half / 2;
        if (a < maxExact) return bucket + a;
        float ratio = (float) a / (float) maxExact;
        float lg = (float) Math.log(ratio);
        float scaled = lg / (float) Math.log((double) maxDistance / maxExact) * (float) (half - maxExact);
        int large = maxExact + (int) scaled;
        return bucket + Math.min(large, half - 1);
    }

    @Override
    public void close() { if (ownsSource) source.close(); }
}
