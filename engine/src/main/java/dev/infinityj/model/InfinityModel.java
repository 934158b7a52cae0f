package dev.infinityj.model;

import dev.infinityj.backend.Backend;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.Tensor;

import java.util.HashMap;
import java.util.Map;

/**
 * The loaded Infinity transformer: weights checked strictly against the config, the text side,
 * the blocks and the head, all computing through one {@link Backend}. Stateless between
 * generations (the per-prompt state is a {@link TextConditioning}, the per-run state a set of
 * {@link KvCache}s), so one model serves any number of sequential generations.
 */
public final class InfinityModel {
    private final InfinityConfig config;
    private final InfinityWeights weights;
    private final Backend backend;
    private final CrossAttention textPool;
    private final Tensor poolQuery;
    private final InfinityBlock[] blocks;
    private final InfinityHead head;
    private final Tensor posStart, wordEmbed, wordEmbedBias;
    private final Tensor[] lvlEmbed;
    private final Map<String, Rope2d> ropeTables = new HashMap<>();
    private final Map<String, Tensor> params = new java.util.concurrent.ConcurrentHashMap<>();

    private InfinityModel(InfinityConfig config, InfinityWeights w, Backend be) {
        this.config = config;
        this.weights = w;
        this.backend = be;
        this.textPool = new CrossAttention(be, w, "text_proj_for_sos.ca.", config.poolHeads(), true);
        this.poolQuery = be.upload(w.get("text_proj_for_sos.ca.mat_q").to(dev.infinityj.tensor.DType.F32));
        this.blocks = new InfinityBlock[config.depth()];
        for (int i = 0; i < blocks.length; i++) blocks[i] = new InfinityBlock(be, w, i);
        this.head = new InfinityHead(be, w);
        this.posStart = be.upload(w.get("pos_start").reshape(config.width()));
        this.wordEmbed = be.linearWeight(w.get("word_embed.weight"));
        this.wordEmbedBias = be.upload(w.get("word_embed.bias"));
        Tensor lvl = w.get("lvl_embed.weight");
        this.lvlEmbed = new Tensor[config.lvlEmbedRows()];
        for (int i = 0; i < lvlEmbed.length; i++) lvlEmbed[i] = be.upload(lvl.get(i));
    }

    /** Loads and strictly checks the weights (see {@link InfinityWeights#load}). */
    public static InfinityModel load(InfinityConfig config, WeightSource source, Backend backend) {
        return new InfinityModel(config, InfinityWeights.load(config, source), backend);
    }

    public InfinityConfig config() { return config; }
    public InfinityWeights weights() { return weights; }
    public Backend backend() { return backend; }
    public InfinityBlock block(int i) { return blocks[i]; }
    public InfinityHead head() { return head; }

    /** A weight resident in the backend's memory (uploaded once, on first use). */
    Tensor param(String key) { return params.computeIfAbsent(key, k -> backend.upload(weights.get(k))); }

    /** A Linear weight, prepared once for the backend's linear ({@link Backend#linearWeight}). */
    Tensor linearParam(String key) { return params.computeIfAbsent(key, k -> backend.linearWeight(weights.get(k))); }

    CrossAttention textPool() { return textPool; }
    Tensor poolQuery() { return poolQuery; }
    Tensor posStart() { return posStart; }
    Tensor levelEmbedding(int scale) { return lvlEmbed[scale]; }

    /** Word embedding d → C of next-scale input tokens [n, d]. */
    Tensor wordEmbed(Tensor tokens) { return backend.linear(tokens, wordEmbed, wordEmbedBias); }

    /** Text side for one prompt (and its uncond half when {@code cfg}). */
    public TextConditioning condition(Tensor cond, Tensor uncondOrNull, boolean cfg) {
        return TextConditioning.prepare(this, cond, uncondOrNull, cfg);
    }

    /** The RoPE-2D table of a schedule's template (shared by all its budgets; cached). */
    public synchronized Rope2d rope(ScaleSchedules.Schedule s) {
        return ropeTables.computeIfAbsent(s.template() + "/" + s.budget(), k -> new Rope2d(s, config.headDim()));
    }
}
