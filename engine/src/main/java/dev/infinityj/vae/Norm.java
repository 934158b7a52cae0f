package dev.infinityj.vae;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.Tensor;

/** The official {@code Normalize}: affine GroupNorm, 32 groups (24 where C%32≠0), eps 1e-6. */
record Norm(Tensor weight, Tensor bias, int groups, float eps) {

    static Norm load(VaeWeights w, String module, int c, float eps) {
        Tensor[] t = w.norm(module, c);
        return new Norm(t[0], t[1], VaeConfig.groups(c), eps);
    }

    /** Group statistics of a whole map (they must not be taken per band). */
    Tensor stats(Backend be, Tensor x) { return be.groupNormStats(x, groups, eps); }

    /** swish(GroupNorm(x)) of {@code x} (a map or rows of it) with the whole map's statistics. */
    Tensor swish(Backend be, Tensor x, Tensor stats) { return be.groupNormApply(x, groups, stats, weight, bias, true); }

    /** swish(GroupNorm(x)) of a whole map, the pre-activation before every conv of a ResNet block. */
    Tensor swish(Backend be, Tensor x) { return swish(be, x, stats(be, x)); }
}
