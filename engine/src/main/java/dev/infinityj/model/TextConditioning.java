package dev.infinityj.model;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Everything the transformer derives from the text once per prompt (spec §2.3–2.7, §3.3, §3.9):
 * the [cond ; uncond] text rows, text_norm (RMSNorm), the attentive-pool start token sos, the
 * cross-attention memory (text_proj_for_ca MLP), the shared AdaLN base S and each block's six
 * modulation vectors, the head's [scale | shift], and every block's packed text K/V.
 */
public final class TextConditioning {
    /** AdaLN vector order of the official unbind(2): gamma1, gamma2, scale1, scale2, shift1, shift2. */
    public static final int GAMMA1 = 0, GAMMA2 = 1, SCALE1 = 2, SCALE2 = 3, SHIFT1 = 4, SHIFT2 = 5;

    final int batch;
    final int[] cu;          // segment bounds of the memory, batch + 1 entries
    final Tensor sos;        // [bs, C]
    final Tensor memory;     // [ΣL, C]
    final Tensor[][] mod;    // [block][b] → [6, C]
    final Tensor headMod;    // [bs, 2C]: scale | shift
    final Tensor[] crossKv;  // [block] → [ΣL, 2C]

    private TextConditioning(int batch, int[] cu, Tensor sos, Tensor memory, Tensor[][] mod, Tensor headMod, Tensor[] crossKv) {
        this.batch = batch; this.cu = cu; this.sos = sos; this.memory = memory; this.mod = mod; this.headMod = headMod; this.crossKv = crossKv;
    }

    /** Rows in the transformer batch: 2 with CFG ([cond, uncond]), else 1. */
    public int batch() { return batch; }

    /** The pooled condition sos = cond_BD, [bs, C]. */
    public Tensor sos() { return sos; }

    /** Cross-attention memory [ΣL, C] (cond rows, then uncond rows). */
    public Tensor memory() { return memory; }

    /** Segment bounds of the memory. */
    public int[] segments() { return cu.clone(); }

    /** Modulation vector {@code which} (see the constants) of block i, batch row b: [C]. */
    public Tensor modulation(int block, int b, int which) { return mod[block][b].get(which); }

    static void checkFeatures(Tensor t, String what, InfinityConfig c) {
        if (t.rank() != 2 || t.dim(1) != c.textChannels() || t.dim(0) < 1)
            throw new BadInputException(what + " must be [L ≥ 1, " + c.textChannels() + "] text features, got " + t.describe());
    }

    /**
     * @param cond   prompt features [L, Ct5]
     * @param uncond negative-prompt features [L', Ct5], or null for the learned cfg_uncond[0:L]
     * @param cfg    whether the batch is doubled for classifier-free guidance
     */
    static TextConditioning prepare(InfinityModel m, Tensor cond, Tensor uncond, boolean cfg) {
        Backend be = m.backend();
        InfinityConfig c = m.config();
        checkFeatures(cond, "prompt text features", c);
        List<Tensor> parts = new ArrayList<>();
        parts.add(be.upload(cond.to(DType.F32)));
        if (cfg) {
            if (uncond != null) {
                checkFeatures(uncond, "negative-prompt text features", c);
                parts.add(be.upload(uncond.to(DType.F32)));
            } else {
                long L = cond.dim(0);
                if (L > c.textMaxLen())
                    throw new BadInputException("prompt has " + L + " tokens, more than the " + c.textMaxLen() + " learned cfg_uncond rows");
                parts.add(m.param("cfg_uncond").slice(0, 0, L)); // the uncond rows depend only on the prompt's length
            }
        }
        int bs = parts.size();
        int[] cu = new int[bs + 1];
        for (int b = 0; b < bs; b++) cu[b + 1] = cu[b] + (int) parts.get(b).dim(0);
        Tensor text = bs == 1 ? parts.getFirst() : Rows.concatRows(be, parts);
        float eps = c.normEps();
        Tensor normed = be.rmsNorm(text, m.param("text_norm.weight"), eps);

        // attentive pool → sos
        Tensor sos = m.textPool().pool(m.poolQuery(), m.textPool().memoryKv(normed), cu);

        // text_proj_for_ca: Linear, GELU(tanh), Linear
        Tensor memory = be.linear(be.geluTanh(be.linear(normed, m.linearParam("text_proj_for_ca.0.weight"), m.param("text_proj_for_ca.0.bias"))),
                m.linearParam("text_proj_for_ca.2.weight"), m.param("text_proj_for_ca.2.bias"));

        // shared AdaLN base, head AdaLN (fp32, from SiLU(sos))
        Tensor siluSos = be.silu(sos);
        Tensor shared = be.linear(siluSos, m.linearParam("shared_ada_lin.1.weight"), m.param("shared_ada_lin.1.bias"));
        Tensor headMod = be.linear(siluSos, m.linearParam("head_nm.ada_lin.1.weight"), m.param("head_nm.ada_lin.1.bias"));
        int C = c.width();
        Tensor[][] mod = new Tensor[c.depth()][bs];
        Tensor[] crossKv = new Tensor[c.depth()];
        for (int i = 0; i < c.depth(); i++) {
            Tensor gss = m.param(InfinityWeights.blockPrefix(c, i) + "ada_gss").reshape(6, C);
            for (int b = 0; b < bs; b++) mod[i][b] = be.add(shared.get(b).reshape(6, C), gss);
            crossKv[i] = m.block(i).crossAttention().memoryKv(memory);
        }
        return new TextConditioning(bs, cu, sos, memory, mod, headMod, crossKv);
    }
}
