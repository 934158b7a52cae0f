package dev.infinityj.model;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.Tensor;

import static dev.infinityj.model.TextConditioning.GAMMA1;
import static dev.infinityj.model.TextConditioning.GAMMA2;
import static dev.infinityj.model.TextConditioning.SCALE1;
import static dev.infinityj.model.TextConditioning.SCALE2;
import static dev.infinityj.model.TextConditioning.SHIFT1;
import static dev.infinityj.model.TextConditioning.SHIFT2;

/**
 * One CrossAttnBlock in inference order (spec §3.4, fused path):
 * x += SA(AdaLN(x; scale1, shift1)) ⊙ gamma1;  x += CA(ca_norm(x), text) (no gate);
 * x += FFN(AdaLN(x; scale2, shift2)) ⊙ gamma2. The six vectors are ada_gss + the shared base.
 */
public final class InfinityBlock {
    private final Backend be;
    private final int index;
    private final float eps;
    private final SelfAttention sa;
    private final CrossAttention ca;
    private final Tensor caNormW, caNormB, fc1, fc1b, fc2, fc2b;

    InfinityBlock(Backend be, InfinityWeights w, int index) {
        this.be = be;
        this.index = index;
        InfinityConfig c = w.config();
        this.eps = c.normEps();
        this.sa = new SelfAttention(be, w, index);
        this.ca = new CrossAttention(be, w, InfinityWeights.blockPrefix(c, index) + "ca.", c.heads(), false);
        this.caNormW = be.upload(w.block(index, "ca_norm.weight"));
        this.caNormB = be.upload(w.block(index, "ca_norm.bias"));
        this.fc1 = be.linearWeight(w.block(index, "ffn.fc1.weight"));
        this.fc1b = be.upload(w.block(index, "ffn.fc1.bias"));
        this.fc2 = be.linearWeight(w.block(index, "ffn.fc2.weight"));
        this.fc2b = be.upload(w.block(index, "ffn.fc2.bias"));
    }

    public int index() { return index; }

    CrossAttention crossAttention() { return ca; }

    /** x [bs, l, C] of scale {@code scale} → block output [bs, l, C]. */
    Tensor forward(Tensor x, TextConditioning tc, int scale, Tensor ropeCos, Tensor ropeSin, KvCache cache, int start, HiddenProbe probe) {
        int bs = (int) x.dim(0);
        if (probe != null) probe.record(scale, index, "in", x);
        Tensor saIn = Rows.stack(be, bs, b -> be.adaLayerNorm(x.get(b), tc.modulation(index, b, SCALE1), tc.modulation(index, b, SHIFT1), eps));
        Tensor saOut = sa.forward(saIn, ropeCos, ropeSin, cache, start);
        Tensor x1 = Rows.stack(be, bs, b -> be.add(x.get(b), be.mul(saOut.get(b), tc.modulation(index, b, GAMMA1))));
        Tensor caIn = be.layerNorm(x1, caNormW, caNormB, eps);
        Tensor caOut = ca.forward(caIn, tc.crossKv[index], tc.cu);
        Tensor x2 = be.add(x1, caOut);
        Tensor ffnIn = Rows.stack(be, bs, b -> be.adaLayerNorm(x2.get(b), tc.modulation(index, b, SCALE2), tc.modulation(index, b, SHIFT2), eps));
        Tensor ffnOut = be.linear(be.geluTanh(be.linear(ffnIn, fc1, fc1b)), fc2, fc2b);
        Tensor out = Rows.stack(be, bs, b -> be.add(x2.get(b), be.mul(ffnOut.get(b), tc.modulation(index, b, GAMMA2))));
        if (probe != null) {
            probe.record(scale, index, "sa_in", saIn);
            probe.record(scale, index, "sa_out", saOut);
            probe.record(scale, index, "ca_norm_in", x1);
            probe.record(scale, index, "ca_norm_out", caIn);
            probe.record(scale, index, "ca_out", caOut);
            probe.record(scale, index, "ffn_in", ffnIn);
            probe.record(scale, index, "ffn_out", ffnOut);
            probe.record(scale, index, "out", out);
        }
        return out;
    }
}
