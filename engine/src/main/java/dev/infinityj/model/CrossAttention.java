package dev.infinityj.model;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

/**
 * Plain multi-head cross-attention to a text memory split into per-batch-row segments (spec §3.7
 * and the attentive pool of §2.5): [K | V] = mem · mat_kvᵀ + [0 ; v_bias], softmax scale 1/√hd,
 * batch row r attends only to rows cu[r] .. cu[r+1] of the memory.
 */
public final class CrossAttention {
    private final Backend be;
    private final int heads;
    private final Tensor matQ, matQBias, matKv, kvBias, proj, projBias;

    /**
     * @param prefix key prefix ("…ca." of a block, or "text_proj_for_sos.ca.")
     * @param heads  attention heads; matQ is null for the attentive pool (its query is a parameter)
     */
    CrossAttention(Backend be, InfinityWeights w, String prefix, int heads, boolean learnedQuery) {
        this.be = be;
        this.heads = heads;
        this.matQ = learnedQuery ? null : be.linearWeight(w.get(prefix + "mat_q.weight"));
        this.matQBias = learnedQuery ? null : be.upload(w.get(prefix + "mat_q.bias"));
        this.matKv = be.linearWeight(w.get(prefix + "mat_kv.weight"));
        float[] kb = w.get(prefix + "zero_k_bias").toFloatArray(), vb = w.get(prefix + "v_bias").toFloatArray();
        float[] bias = new float[kb.length + vb.length];
        System.arraycopy(kb, 0, bias, 0, kb.length);
        System.arraycopy(vb, 0, bias, kb.length, vb.length);
        this.kvBias = be.upload(Tensor.ofFloats(bias, bias.length));
        this.proj = be.linearWeight(w.get(prefix + "proj.weight"));
        this.projBias = be.upload(w.get(prefix + "proj.bias"));
    }

    /** The memory's packed [K | V] projection [ΣL, 2D]; fixed per prompt, so computed once. */
    Tensor memoryKv(Tensor memory) { return be.linear(memory, matKv, kvBias); }

    /** One segment's attention: q [l, H, hd] against rows [from, to) of the packed kv. */
    Tensor attend(Tensor q, Tensor kv, int from, int to) {
        Tensor seg = kv.slice(0, from, to);
        float scale = (float) (1.0 / Math.sqrt(q.dim(2)));
        return be.attention(q, Rows.headsOf(seg, 2, 0, heads), Rows.headsOf(seg, 2, 1, heads), scale);
    }

    /** x [bs, l, D] → [bs, l, D]: row b attends to segment b of the memory (cu has bs+1 entries). */
    Tensor forward(Tensor x, Tensor kv, int[] cu) {
        int bs = (int) x.dim(0);
        long l = x.dim(1), D = x.dim(2), hd = D / heads;
        Tensor q = be.linear(x, matQ, matQBias);
        Tensor out = be.allocateForWrite(DType.F32, bs, l, heads, hd);
        for (int b = 0; b < bs; b++)
            be.copyInto(out.get(b), attend(q.get(b).reshape(l, heads, hd), kv, cu[b], cu[b + 1]));
        return be.linear(out.reshape(bs, l, D), proj, projBias);
    }

    /** Attentive pool: the learned query [1, H, hd] against each segment → [segments, D] after proj. */
    Tensor pool(Tensor learnedQuery, Tensor kv, int[] cu) {
        int n = cu.length - 1;
        long D = learnedQuery.dim(1) * learnedQuery.dim(2);
        Tensor out = be.allocateForWrite(DType.F32, n, 1, learnedQuery.dim(1), learnedQuery.dim(2));
        for (int b = 0; b < n; b++) be.copyInto(out.get(b), attend(learnedQuery, kv, cu[b], cu[b + 1]));
        return be.linear(out.reshape(n, D), proj, projBias);
    }
}
