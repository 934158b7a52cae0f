package dev.infinityj.model;

import dev.infinityj.BadInputException;
import dev.infinityj.util.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Shape of an Infinity transformer (spec §3.1). Only the shape-defining hyper-parameters live here;
 * the inference flags of the published models (shared AdaLN, cosine attention, RoPE-2D normalised
 * by the 1M grid, level embedding before block 0 only, CFG on logits) are fixed by the code.
 *
 * @param name          preset or file name, for messages
 * @param depth         number of blocks
 * @param width         C = D, the residual width
 * @param heads         self-/cross-attention heads (head_dim = width / heads)
 * @param ffnHidden     FFN hidden size, round(C·mlp_ratio/256)·256 for the published models
 * @param blockChunks   checkpoint nesting block_chunks.{c}.module.{m}, block = c·(depth/blockChunks) + m
 * @param textChannels  Ct5, width of the text features
 * @param textMaxLen    rows of the learned cfg_uncond table
 * @param codebookDim   d, bits per transformer token (V = 2d head outputs)
 * @param lvlEmbedRows  rows of lvl_embed (15 in every published model)
 * @param normEps       LayerNorm / RMSNorm eps
 * @param spatialPatchify 8B-style 2×2 pixel-(un)shuffle between tokens and a d/4-channel VAE latent
 */
public record InfinityConfig(String name, int depth, int width, int heads, int ffnHidden, int blockChunks,
                             int textChannels, int textMaxLen, int codebookDim, int lvlEmbedRows,
                             float normEps, boolean spatialPatchify) {

    public static final int T5_XL_CHANNELS = 2048;

    public InfinityConfig {
        validate(name, depth, width, heads, ffnHidden, blockChunks, textChannels, textMaxLen, codebookDim, lvlEmbedRows, normEps, spatialPatchify);
    }

    public int headDim() { return width / heads; }
    public int blocksPerChunk() { return depth / blockChunks; }
    /** V = 2d: the head's logits, pairs (2j, 2j+1) for bit j. */
    public int vocab() { return 2 * codebookDim; }
    /** Heads of the attentive text pool (spec §2.5): Ct5 / (64 if D > 4096 else 128). */
    public int poolHeads() { return textChannels / (width > 4096 ? 64 : 128); }
    public int poolHeadDim() { return width / poolHeads(); }
    /** Channels of the VAE latent this transformer writes (d, or d/4 with spatial patchify). */
    public int vaeCodebookDim() { return spatialPatchify ? codebookDim / 4 : codebookDim; }

    /** FFN hidden size of the official code: round(C·ratio/256)·256 with Python's round-half-even. */
    public static int ffnHiddenFor(int width, double mlpRatio) {
        return (int) Math.rint(width * mlpRatio / 256.0) * 256;
    }

    private static InfinityConfig preset(String name, int depth, int width, int heads, int chunks, int d, boolean patchify) {
        return new InfinityConfig(name, depth, width, heads, ffnHiddenFor(width, 4), chunks, T5_XL_CHANNELS, 512, d, 15, 1e-6f, patchify);
    }

    /**
     * The published shapes: "2b" and "8b" (run_infinity.py:316-318), and the scaling family of the
     * paper's Table 6, "layer12" … "layer48" (infinity/models/__init__.py; block_chunks 1, d = 32).
     */
    public static Map<String, InfinityConfig> presets() {
        Map<String, InfinityConfig> m = new LinkedHashMap<>();
        m.put("2b", preset("2b", 32, 2048, 16, 8, 32, false));
        m.put("8b", preset("8b", 40, 3584, 28, 8, 56, true));
        m.put("layer12", preset("layer12", 12, 768, 8, 1, 32, false));
        m.put("layer16", preset("layer16", 16, 1152, 12, 1, 32, false));
        m.put("layer24", preset("layer24", 24, 1536, 16, 1, 32, false));
        m.put("layer32", preset("layer32", 32, 2080, 20, 1, 32, false));
        m.put("layer40", preset("layer40", 40, 2688, 24, 1, 32, false));
        m.put("layer48", preset("layer48", 48, 3360, 28, 1, 32, false));
        return m;
    }

    public static InfinityConfig preset(String name) {
        InfinityConfig c = presets().get(name.toLowerCase(Locale.ROOT));
        if (c == null) throw new BadInputException("unknown model preset '" + name + "' (expected one of " + presets().keySet() + ")");
        return c;
    }

    /**
     * Reads a fixture-style config.json: the shape from its "transformer" object (or from the top
     * level if there is none). Keys: depth, embed_dim, num_heads, mlp_ratio or ffn_hidden,
     * block_chunks, text_channels, text_maxlen, codebook_dim, lvl_embed_rows, norm_eps,
     * apply_spatial_patchify.
     */
    @SuppressWarnings("unchecked")
    public static InfinityConfig fromJson(Path file) {
        String text;
        try { text = Files.readString(file); }
        catch (IOException e) { throw new BadInputException("cannot read model config " + file + ": " + e.getMessage(), e); }
        Map<String, Object> root = Json.parseObject(text, file.toString());
        Map<String, Object> t = root.get("transformer") instanceof Map<?, ?> m ? (Map<String, Object>) m : root;
        String where = file + (t == root ? "" : " (transformer)");
        int width = intKey(t, "embed_dim", where);
        int ffn = t.containsKey("ffn_hidden") ? intKey(t, "ffn_hidden", where)
                : ffnHiddenFor(width, t.containsKey("mlp_ratio") ? num(t, "mlp_ratio", where) : 4.0);
        return new InfinityConfig(file.getFileName().toString(),
                intKey(t, "depth", where), width, intKey(t, "num_heads", where), ffn,
                t.containsKey("block_chunks") ? intKey(t, "block_chunks", where) : 1,
                intKey(t, "text_channels", where),
                t.containsKey("text_maxlen") ? intKey(t, "text_maxlen", where) : 512,
                intKey(t, "codebook_dim", where),
                t.containsKey("lvl_embed_rows") ? intKey(t, "lvl_embed_rows", where) : 15,
                t.containsKey("norm_eps") ? (float) num(t, "norm_eps", where) : 1e-6f,
                t.containsKey("apply_spatial_patchify") && num(t, "apply_spatial_patchify", where) != 0);
    }

    /**
     * The shape read off a checkpoint's own tensors (for weight files that come without a config):
     * depth and block_chunks from the block_chunks.{c}.module.{m} keys, width from pos_start, heads
     * from sa.scale_mul_1H11, FFN from ffn.fc1, Ct5 and text_maxlen from cfg_uncond, d from
     * word_embed. Spatial patchify cannot be seen in the weights and is passed in.
     */
    public static InfinityConfig inferFrom(dev.infinityj.io.WeightSource w, boolean spatialPatchify) {
        String where = w.describe();
        for (String k : new String[]{"pos_start", "cfg_uncond", "word_embed.weight", "lvl_embed.weight"})
            if (!w.contains(k)) throw new BadInputException(where + ": not an Infinity transformer checkpoint (no '" + k + "')");
        int chunks = 0, perChunk = 0;
        java.util.regex.Pattern p = java.util.regex.Pattern.compile("^block_chunks\\.(\\d+)\\.module\\.(\\d+)\\.");
        for (String k : w.keys()) {
            java.util.regex.Matcher m = p.matcher(k);
            if (m.find()) {
                chunks = Math.max(chunks, Integer.parseInt(m.group(1)) + 1);
                perChunk = Math.max(perChunk, Integer.parseInt(m.group(2)) + 1);
            }
        }
        if (chunks == 0) throw new BadInputException(where + ": no block_chunks.{c}.module.{m}.* keys");
        String b0 = "block_chunks.0.module.0.";
        for (String k : new String[]{b0 + "sa.scale_mul_1H11", b0 + "ffn.fc1.weight"})
            if (!w.contains(k)) throw new BadInputException(where + ": no '" + k + "'");
        long[] uncond = w.get("cfg_uncond").shape();
        return new InfinityConfig(where, chunks * perChunk, (int) w.get("pos_start").dim(-1), (int) w.get(b0 + "sa.scale_mul_1H11").dim(1),
                (int) w.logicalShape(b0 + "ffn.fc1.weight")[0], chunks, (int) uncond[1], (int) uncond[0],
                (int) w.logicalShape("word_embed.weight")[1], (int) w.get("lvl_embed.weight").dim(0), 1e-6f, spatialPatchify);
    }

    private static double num(Map<String, Object> m, String key, String where) {
        Object v = m.get(key);
        if (v == null) throw new BadInputException(where + ": missing key '" + key + "'");
        if (v instanceof Boolean b) return b ? 1 : 0;
        if (!(v instanceof Number n)) throw new BadInputException(where + ": key '" + key + "' must be a number, got " + v);
        return n.doubleValue();
    }

    private static int intKey(Map<String, Object> m, String key, String where) {
        double v = num(m, key, where);
        if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) throw new BadInputException(where + ": key '" + key + "' must be an integer, got " + v);
        return (int) v;
    }

    private static void validate(String name, int depth, int width, int heads, int ffnHidden, int blockChunks,
                                 int textChannels, int textMaxLen, int codebookDim, int lvlEmbedRows,
                                 float normEps, boolean patchify) {
        String p = "model config " + name + ": ";
        if (depth <= 0) throw new BadInputException(p + "depth must be positive, got " + depth);
        if (width <= 0 || heads <= 0) throw new BadInputException(p + "embed_dim and num_heads must be positive, got " + width + ", " + heads);
        if (width % heads != 0) throw new BadInputException(p + "num_heads " + heads + " does not divide embed_dim " + width);
        if ((width / heads) % 4 != 0) throw new BadInputException(p + "head_dim " + width / heads + " must be a multiple of 4 (RoPE-2D rotates pairs on two axes)");
        if (ffnHidden <= 0) throw new BadInputException(p + "ffn_hidden must be positive, got " + ffnHidden);
        if (blockChunks <= 0 || depth % blockChunks != 0) throw new BadInputException(p + "block_chunks " + blockChunks + " does not divide depth " + depth);
        int poolDiv = width > 4096 ? 64 : 128;
        if (textChannels <= 0 || textChannels % poolDiv != 0) throw new BadInputException(p + "text_channels " + textChannels + " must be a positive multiple of " + poolDiv + " (attentive-pool heads)");
        if (width % (textChannels / poolDiv) != 0) throw new BadInputException(p + "attentive-pool heads " + textChannels / poolDiv + " do not divide embed_dim " + width);
        if (textMaxLen <= 0) throw new BadInputException(p + "text_maxlen must be positive, got " + textMaxLen);
        if (codebookDim <= 0) throw new BadInputException(p + "codebook_dim must be positive, got " + codebookDim);
        if (patchify && codebookDim % 4 != 0) throw new BadInputException(p + "codebook_dim " + codebookDim + " must be a multiple of 4 with spatial patchify");
        if (lvlEmbedRows <= 0) throw new BadInputException(p + "lvl_embed_rows must be positive, got " + lvlEmbedRows);
        if (!(normEps > 0)) throw new BadInputException(p + "norm_eps must be positive, got " + normEps);
    }

    /** Checks the transformer against the VAE and the text encoder it is paired with. */
    public void checkCompatible(int vaeCodebookDim, int textEncoderChannels) {
        if (vaeCodebookDim != vaeCodebookDim())
            throw new BadInputException("model config " + name + ": codebook_dim " + codebookDim + (spatialPatchify ? " (= 4 × " + vaeCodebookDim() + " with spatial patchify)" : "")
                    + " does not match the VAE's codebook_dim " + vaeCodebookDim);
        if (textEncoderChannels != textChannels)
            throw new BadInputException("model config " + name + ": text_channels " + textChannels + " does not match the text encoder's width " + textEncoderChannels);
    }
}
