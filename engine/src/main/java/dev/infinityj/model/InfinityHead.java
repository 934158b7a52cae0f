package dev.infinityj.model;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.Tensor;

/**
 * AdaLNBeforeHead + Linear (spec §3.9): z = LN(x)·(1 + scale_h) + shift_h with
 * [scale_h | shift_h] = head_nm.ada_lin(SiLU(sos)), then logits = z·headᵀ + bias, V = 2d with
 * the pair (2j, 2j+1) = (bit j = 0, bit j = 1).
 */
public final class InfinityHead {
    private final Backend be;
    private final Tensor weight, bias;
    private final float eps;

    InfinityHead(Backend be, InfinityWeights w) {
        this.be = be;
        this.weight = be.linearWeight(w.get("head.weight"));
        this.bias = be.upload(w.get("head.bias"));
        this.eps = w.config().normEps();
    }

    /** x [bs, l, C] → logits [bs, l, V]. */
    Tensor forward(Tensor x, TextConditioning tc) {
        int bs = (int) x.dim(0);
        long C = x.dim(2);
        Tensor z = Rows.stack(be, bs, b -> {
            Tensor hm = tc.headMod.get(b);
            return be.adaLayerNorm(x.get(b), hm.slice(0, 0, C), hm.slice(0, C, 2 * C), eps);
        });
        return be.linear(z, weight, bias);
    }
}
