package dev.infinityj.model;

import dev.infinityj.WeightFormatException;
import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * THE home of the transformer's state-dict names (spec §3.2, Appendix A) and of strict loading:
 * every expected key must be present with its exact shape, and nothing else may be there. Every
 * missing, unexpected or mis-shaped key is reported, by name, in one exception.
 *
 * <p>Large matrices keep the file's dtype (F32, BF16 or F16; mmapped sources stay zero-copy) and
 * layout: a Linear weight the file declares packed ({@link WeightSource#isPackedLinear}) must have
 * the packed shape of its expected [N, K] and is handed to the backend as stored;
 * vectors and small tables are widened to F32 once here, because the model adds them to F32
 * activations.
 */
public final class InfinityWeights {
    private final InfinityConfig config;
    private final Map<String, Tensor> tensors;   // vectors and tables, widened to F32
    private final Set<String> matrices;          // read from the source on demand
    private final WeightSource source;

    private InfinityWeights(InfinityConfig config, Map<String, Tensor> tensors, Set<String> matrices, WeightSource source) {
        this.config = config;
        this.tensors = tensors;
        this.matrices = matrices;
        this.source = source;
    }

    /** Checkpoint prefix of block i: block_chunks.{c}.module.{m}. with i = c·(depth/chunks) + m. */
    public static String blockPrefix(InfinityConfig c, int block) {
        int per = c.blocksPerChunk();
        return "block_chunks." + (block / per) + ".module." + (block % per) + ".";
    }

    /** Every expected key with its shape, in the official module order. */
    public static Map<String, long[]> expectedShapes(InfinityConfig c) {
        long C = c.width(), T = c.textChannels(), d = c.codebookDim(), H = c.heads();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("cfg_uncond", new long[]{c.textMaxLen(), T});
        m.put("pos_start", new long[]{1, 1, C});
        m.put("text_norm.weight", new long[]{T});
        m.put("text_proj_for_sos.ca.mat_q", new long[]{1, c.poolHeads(), c.poolHeadDim()});
        m.put("text_proj_for_sos.ca.v_bias", new long[]{C});
        m.put("text_proj_for_sos.ca.zero_k_bias", new long[]{C});
        m.put("text_proj_for_sos.ca.mat_kv.weight", new long[]{2 * C, T});
        m.put("text_proj_for_sos.ca.proj.weight", new long[]{C, C});
        m.put("text_proj_for_sos.ca.proj.bias", new long[]{C});
        m.put("text_proj_for_ca.0.weight", new long[]{C, T});
        m.put("text_proj_for_ca.0.bias", new long[]{C});
        m.put("text_proj_for_ca.2.weight", new long[]{C, C});
        m.put("text_proj_for_ca.2.bias", new long[]{C});
        m.put("lvl_embed.weight", new long[]{c.lvlEmbedRows(), C});
        m.put("word_embed.weight", new long[]{C, d});
        m.put("word_embed.bias", new long[]{C});
        m.put("shared_ada_lin.1.weight", new long[]{6 * C, C});
        m.put("shared_ada_lin.1.bias", new long[]{6 * C});
        m.put("head_nm.ada_lin.1.weight", new long[]{2 * C, C});
        m.put("head_nm.ada_lin.1.bias", new long[]{2 * C});
        m.put("head.weight", new long[]{2 * d, C});
        m.put("head.bias", new long[]{2 * d});
        for (int i = 0; i < c.depth(); i++) {
            String p = blockPrefix(c, i);
            m.put(p + "ada_gss", new long[]{1, 1, 6, C});
            m.put(p + "sa.scale_mul_1H11", new long[]{1, H, 1, 1});
            m.put(p + "sa.q_bias", new long[]{C});
            m.put(p + "sa.v_bias", new long[]{C});
            m.put(p + "sa.zero_k_bias", new long[]{C});
            m.put(p + "sa.mat_qkv.weight", new long[]{3 * C, C});
            m.put(p + "sa.proj.weight", new long[]{C, C});
            m.put(p + "sa.proj.bias", new long[]{C});
            m.put(p + "ca.v_bias", new long[]{C});
            m.put(p + "ca.zero_k_bias", new long[]{C});
            m.put(p + "ca.mat_q.weight", new long[]{C, C});
            m.put(p + "ca.mat_q.bias", new long[]{C});
            m.put(p + "ca.mat_kv.weight", new long[]{2 * C, C});
            m.put(p + "ca.proj.weight", new long[]{C, C});
            m.put(p + "ca.proj.bias", new long[]{C});
            m.put(p + "ffn.fc1.weight", new long[]{c.ffnHidden(), C});
            m.put(p + "ffn.fc1.bias", new long[]{c.ffnHidden()});
            m.put(p + "ffn.fc2.weight", new long[]{C, c.ffnHidden()});
            m.put(p + "ffn.fc2.bias", new long[]{C});
            m.put(p + "ca_norm.weight", new long[]{C});
            m.put(p + "ca_norm.bias", new long[]{C});
        }
        return m;
    }

    /**
     * Keys whose tensors are Linear weights, fed to linear() through Backend.linearWeight (and the
     * keys the converter may store packed); everything else is widened to F32 at load.
     */
    public static boolean isLinearWeight(String key) {
        return key.endsWith(".weight") && !key.endsWith("norm.weight") && !key.equals("lvl_embed.weight");
    }

    /** Strict load: all problems in one {@link WeightFormatException}. */
    public static InfinityWeights load(InfinityConfig config, WeightSource source) {
        Map<String, long[]> expected = expectedShapes(config);
        List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>(), misShaped = new ArrayList<>(), badType = new ArrayList<>();
        Map<String, Tensor> loaded = new LinkedHashMap<>();
        Set<String> matrices = new HashSet<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String key = e.getKey();
            if (!source.contains(key)) { missing.add(key); continue; }
            WeightSource.Info t = source.info(key);
            String shapeProblem = shapeProblem(source, key, t.shape(), e.getValue());
            if (shapeProblem != null) { misShaped.add(key + " " + shapeProblem); continue; }
            if (t.dtype() != DType.F32 && t.dtype() != DType.BF16 && t.dtype() != DType.F16) {
                badType.add(key + " " + t.dtype() + " (expected F32, BF16 or F16)");
                continue;
            }
            // Matrices are not held here: the backend may re-lay them out (linearWeight) and drop the original.
            if (isLinearWeight(key)) matrices.add(key);
            else loaded.put(key, source.get(key).to(DType.F32));
        }
        for (String k : source.keys()) if (!expected.containsKey(k)) unexpected.add(k);
        if (!missing.isEmpty() || !unexpected.isEmpty() || !misShaped.isEmpty() || !badType.isEmpty()) {
            StringBuilder b = new StringBuilder(source.describe()).append(": does not match Infinity model ").append(config.name())
                    .append(" (depth ").append(config.depth()).append(", width ").append(config.width()).append(", d ").append(config.codebookDim()).append(")");
            append(b, "missing", missing);
            append(b, "unexpected", unexpected);
            append(b, "mis-shaped", misShaped);
            append(b, "unsupported dtype", badType);
            throw new WeightFormatException(b.toString());
        }
        return new InfinityWeights(config, loaded, matrices, source);
    }

    /**
     * Null when the stored shape is what the key needs: {@code expected} itself, or, for a key the
     * source declares packed, {@link PackedLinear#packedShape} of it (only Linear weights with rows
     * a multiple of 16 can be). Else the stored shape and what was expected, for the message.
     */
    private static String shapeProblem(WeightSource source, String key, long[] stored, long[] expected) {
        if (source.isPackedLinear(key)) {
            if (!isLinearWeight(key) || !PackedLinear.packable(DType.F32, expected))
                return Arrays.toString(stored) + " (declared packed, but only a Linear weight [N, K] with N a multiple of 16 can be; expected "
                        + Arrays.toString(expected) + ")";
            long[] packed = PackedLinear.packedShape(expected);
            return Arrays.equals(stored, packed) ? null
                    : Arrays.toString(stored) + " (packed; expected " + Arrays.toString(packed) + " for " + Arrays.toString(expected) + ")";
        }
        if (Arrays.equals(stored, expected)) return null;
        boolean looksPacked = PackedLinear.packable(DType.F32, expected) && Arrays.equals(stored, PackedLinear.packedShape(expected));
        return Arrays.toString(stored) + " (expected " + Arrays.toString(expected)
                + (looksPacked ? "; this is the packed layout, but the file's metadata does not declare the key packed" : "") + ")";
    }

    private static void append(StringBuilder b, String what, List<String> keys) {
        if (keys.isEmpty()) return;
        b.append("; ").append(keys.size()).append(' ').append(what).append(": ").append(String.join(", ", keys));
    }

    public InfinityConfig config() { return config; }

    /** The tensor under a full key. */
    public Tensor get(String key) {
        if (matrices.contains(key)) return source.get(key);
        Tensor t = tensors.get(key);
        if (t == null) throw new IllegalArgumentException("no weight " + key);
        return t;
    }

    /** The tensor under {@code suffix} of block i. */
    public Tensor block(int i, String suffix) { return get(blockPrefix(config, i) + suffix); }
}
