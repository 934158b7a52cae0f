package dev.infinityj.text;

import dev.infinityj.BadInputException;
import dev.infinityj.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The T5 encoder hyper-parameters from a Hugging Face {@code config.json} (spec §2.2, §2.8).
 * The FFN follows HF T5Config: {@code feed_forward_proj} "ACT" or "gated-ACT" sets the activation
 * and gating, "gated-gelu" meaning gelu_new (tanh); explicit {@code dense_act_fn} /
 * {@code is_gated_act} keys in the file win, as they do in HF (some Flan-T5 revisions say
 * "gelu" + is_gated_act = a gated FFN with exact erf-GELU).
 */
public record T5Config(int dModel, int dKv, int numHeads, int dFf, int numLayers,
                       int relativeAttentionNumBuckets, int relativeAttentionMaxDistance,
                       String denseActFn, boolean gatedAct, float layerNormEpsilon, int vocabSize) {

    /** Activations the encoder can run (HF ACT2FN names). */
    public enum Activation { GELU_NEW, GELU, RELU, SILU }

    public T5Config {
        String where = "T5 config";
        positive(dModel, "d_model", where);
        positive(dKv, "d_kv", where);
        positive(numHeads, "num_heads", where);
        positive(dFf, "d_ff", where);
        positive(numLayers, "num_layers", where);
        positive(relativeAttentionNumBuckets, "relative_attention_num_buckets", where);
        positive(relativeAttentionMaxDistance, "relative_attention_max_distance", where);
        positive(vocabSize, "vocab_size", where);
        if (relativeAttentionNumBuckets < 4 || relativeAttentionNumBuckets % 2 != 0)
            throw new BadInputException(where + ": relative_attention_num_buckets must be an even number >= 4, got " + relativeAttentionNumBuckets);
        if (!(layerNormEpsilon > 0) || layerNormEpsilon > 1e-2)
            throw new BadInputException(where + ": layer_norm_epsilon must be in (0, 1e-2], got " + layerNormEpsilon);
        activationOf(denseActFn, where);
    }

    private static void positive(int v, String name, String where) {
        if (v <= 0) throw new BadInputException(where + ": " + name + " must be a positive integer, got " + v);
    }

    static Activation activationOf(String name, String where) {
        return switch (name) {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> Activation.GELU_NEW;
            case "gelu" -> Activation.GELU;
            case "relu" -> Activation.RELU;
            case "silu", "swish" -> Activation.SILU;
            default -> throw new BadInputException(where + ": activation '" + name + "' is not supported (expected gelu_new, gelu, relu or silu)");
        };
    }

    public Activation activation() { return activationOf(denseActFn, "T5 config"); }

    /** num_heads × d_kv: the width of q, k, v (not always d_model). */
    public int innerDim() { return numHeads * dKv; }

    /** The same shapes with another number of layers (benchmarks, smoke runs). */
    public T5Config withLayers(int layers) {
        return new T5Config(dModel, dKv, numHeads, dFf, layers, relativeAttentionNumBuckets, relativeAttentionMaxDistance,
                denseActFn, gatedAct, layerNormEpsilon, vocabSize);
    }

    /** Key → shape of every weight the encoder reads, in HF naming (for random-weight presets). */
    public java.util.Map<String, long[]> encoderWeightShapes() {
        java.util.Map<String, long[]> m = new java.util.LinkedHashMap<>();
        long d = dModel, inner = innerDim(), ff = dFf;
        m.put("shared.weight", new long[]{vocabSize, d});
        m.put("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", new long[]{relativeAttentionNumBuckets, numHeads});
        for (int i = 0; i < numLayers; i++) {
            String p = "encoder.block." + i + ".layer.";
            m.put(p + "0.layer_norm.weight", new long[]{d});
            for (String x : new String[]{"q", "k", "v"}) m.put(p + "0.SelfAttention." + x + ".weight", new long[]{inner, d});
            m.put(p + "0.SelfAttention.o.weight", new long[]{d, inner});
            m.put(p + "1.layer_norm.weight", new long[]{d});
            if (gatedAct) {
                m.put(p + "1.DenseReluDense.wi_0.weight", new long[]{ff, d});
                m.put(p + "1.DenseReluDense.wi_1.weight", new long[]{ff, d});
            } else m.put(p + "1.DenseReluDense.wi.weight", new long[]{ff, d});
            m.put(p + "1.DenseReluDense.wo.weight", new long[]{d, ff});
        }
        m.put("encoder.final_layer_norm.weight", new long[]{d});
        return m;
    }

    /** google/flan-t5-xl (spec §2.2). */
    public static T5Config flanT5Xl() {
        return new T5Config(2048, 64, 32, 5120, 24, 32, 128, "gelu_new", true, 1e-6f, 32128);
    }

    public static T5Config load(Path configJson) {
        String text;
        try {
            text = Files.readString(configJson);
        } catch (IOException e) {
            throw new BadInputException(configJson + ": cannot read the T5 config.json: " + e.getMessage(), e);
        }
        return fromJson(Json.parseObject(text, configJson.toString()), configJson.toString());
    }

    public static T5Config fromJson(Map<String, Object> j, String where) {
        Object mt = j.get("model_type");
        if (mt != null && !"t5".equals(mt) && !"umt5".equals(mt) && !"mt5".equals(mt))
            throw new BadInputException(where + ": model_type '" + mt + "' is not a T5 model (expected \"t5\")");
        int dModel = intOf(j, "d_model", null, where);
        int numHeads = intOf(j, "num_heads", null, where);
        String ffp = j.get("feed_forward_proj") instanceof String s ? s : "relu";
        String[] parts = ffp.split("-");
        boolean gated = parts.length == 2 && parts[0].equals("gated");
        if (parts.length > 2 || (parts.length == 2 && !gated) || parts[parts.length - 1].isEmpty())
            throw new BadInputException(where + ": feed_forward_proj '" + ffp + "' is not of the form ACT or gated-ACT (e.g. \"gated-gelu\")");
        String act = ffp.equals("gated-gelu") ? "gelu_new" : parts[parts.length - 1];
        if (j.get("dense_act_fn") instanceof String s) act = s;
        if (j.get("is_gated_act") instanceof Boolean b) gated = b;
        Object eps = j.getOrDefault("layer_norm_epsilon", 1e-6);
        if (!(eps instanceof Number)) throw new BadInputException(where + ": layer_norm_epsilon must be a number, got " + eps);
        return new T5Config(dModel,
                intOf(j, "d_kv", dModel / Math.max(1, numHeads), where),
                numHeads,
                intOf(j, "d_ff", null, where),
                intOf(j, "num_layers", null, where),
                intOf(j, "relative_attention_num_buckets", 32, where),
                intOf(j, "relative_attention_max_distance", 128, where),
                act, gated, ((Number) eps).floatValue(),
                intOf(j, "vocab_size", null, where));
    }

    private static int intOf(Map<String, Object> j, String key, Integer dflt, String where) {
        Object v = j.get(key);
        if (v == null) {
            if (dflt == null) throw new BadInputException(where + ": missing required key '" + key + "'");
            return dflt;
        }
        if (!(v instanceof Long l) || l > Integer.MAX_VALUE || l < Integer.MIN_VALUE)
            throw new BadInputException(where + ": '" + key + "' must be an integer, got " + v);
        return l.intValue();
    }
}
