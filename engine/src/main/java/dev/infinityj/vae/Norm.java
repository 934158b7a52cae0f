package dev.infinityj.vae;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.Tensor;

/** The official {@code Normalize}: affine GroupNorm, 32 groups (24 where C%32≠0), eps 1e-6. */
record Norm(Tensor weight, Tensor bias, int groups, float eps) {

    static Norm load(VaeWeights w, String module, int c, float eps) {
        Tensor[] t = w.norm(module, c);
        return new Norm(t[0], t[1], VaeConfig.groups(c), eps);
    }

    Tensor forward(Backend be, Tensor x) { return be.groupNorm(x, groups, weight, bias, eps); }

    /** swish(GroupNorm(x)), the pre-activation used before every conv of a ResNet block. */
    Tensor swish(Backend be, Tensor x) { return be.silu(forward(be, x)); }
}
