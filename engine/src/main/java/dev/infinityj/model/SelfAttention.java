package dev.infinityj.model;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

/**
 * Cosine self-attention with RoPE-2D and the KV cache (spec §3.5): q̂ = q/‖q‖ · exp(min(scale_mul, ln 100)),
 * k̂ = k/‖k‖ per head, both rotated, softmax scale exactly 1, attending to every cached token of
 * earlier scales and all tokens of the current scale.
 */
public final class SelfAttention {
    /** The cap of the per-head log-scale: ln 100 (compared in fp32, as torch does). */
    static final float MAX_SCALE_MUL = (float) Math.log(100.0);
    static final float L2_EPS = 1e-12f;

    private final Backend be;
    private final int heads;
    private final Tensor matQkv, qkvBias, proj, projBias;
    private final Tensor qScale; // [H] = exp(min(scale_mul_1H11, ln 100)), fp32

    SelfAttention(Backend be, InfinityWeights w, int block) {
        this.be = be;
        InfinityConfig c = w.config();
        this.heads = c.heads();
        this.matQkv = be.linearWeight(w.block(block, "sa.mat_qkv.weight"));
        int C = c.width();
        float[] bias = new float[3 * C];
        float[] qb = w.block(block, "sa.q_bias").toFloatArray(), kb = w.block(block, "sa.zero_k_bias").toFloatArray(), vb = w.block(block, "sa.v_bias").toFloatArray();
        System.arraycopy(qb, 0, bias, 0, C);
        System.arraycopy(kb, 0, bias, C, C); // the zero k-bias buffer, kept as the official concat does
        System.arraycopy(vb, 0, bias, 2 * C, C);
        this.qkvBias = be.upload(Tensor.ofFloats(bias, 3L * C));
        this.proj = be.linearWeight(w.block(block, "sa.proj.weight"));
        this.projBias = be.upload(w.block(block, "sa.proj.bias"));
        float[] sm = w.block(block, "sa.scale_mul_1H11").toFloatArray();
        float[] s = new float[heads];
        for (int h = 0; h < heads; h++) s[h] = (float) Math.exp(Math.min(sm[h], MAX_SCALE_MUL));
        this.qScale = be.upload(Tensor.ofFloats(s, heads));
    }

    /**
     * h [bs, l, C] (the AdaLN output of the current scale) → [bs, l, C] after proj. Writes this
     * scale's k̂, v into rows [start, start + l) of the cache and attends to rows [0, start + l).
     */
    Tensor forward(Tensor h, Tensor ropeCos, Tensor ropeSin, KvCache cache, int start) {
        int bs = (int) h.dim(0);
        long l = h.dim(1), C = h.dim(2), hd = C / heads;
        Tensor qkv = be.linear(h, matQkv, qkvBias);
        Tensor out = be.allocateForWrite(DType.F32, bs, l, heads, hd);
        for (int b = 0; b < bs; b++) {
            Tensor rows = qkv.get(b);
            Tensor q = be.headL2Normalize(Rows.headsOf(rows, 3, 0, heads), qScale, L2_EPS);
            Tensor k = be.headL2Normalize(Rows.headsOf(rows, 3, 1, heads), null, L2_EPS);
            be.ropeInterleavedInPlace(q, ropeCos, ropeSin);
            be.ropeInterleavedInPlace(k, ropeCos, ropeSin);
            be.copyInto(cache.keys(b).slice(0, start, start + l), k);
            be.copyInto(cache.values(b).slice(0, start, start + l), Rows.headsOf(rows, 3, 2, heads));
            Tensor o = be.attention(q, cache.keys(b).slice(0, 0, start + l), cache.values(b).slice(0, 0, start + l), 1f);
            be.copyInto(out.get(b), o);
        }
        return be.linear(out.reshape(bs, l, C), proj, projBias);
    }
}
