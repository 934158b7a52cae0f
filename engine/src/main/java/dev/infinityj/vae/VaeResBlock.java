package dev.infinityj.vae;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.Tensor;

/**
 * {@code ResnetBlock(in, out)} (spec §5.1): h = conv1(swish(norm1(x))); h = conv2(swish(norm2(h)));
 * out = shortcut(x) + h, where the shortcut is a 1×1 conv ({@code nin_shortcut}) if in ≠ out.
 * No dropout, no time embedding.
 */
public final class VaeResBlock {
    final int in, out;
    final Norm norm1, norm2;
    final Conv conv1, conv2;
    final Conv ninShortcut; // null when in == out

    VaeResBlock(VaeWeights w, String prefix, int in, int out, float eps) {
        this.in = in;
        this.out = out;
        norm1 = Norm.load(w, prefix + ".norm1", in, eps);
        conv1 = Conv.load(w, prefix + ".conv1", in, out, 3, 1, 1);
        norm2 = Norm.load(w, prefix + ".norm2", out, eps);
        conv2 = Conv.load(w, prefix + ".conv2", out, out, 3, 1, 1);
        ninShortcut = in != out ? Conv.load(w, prefix + ".nin_shortcut", in, out, 1, 1, 0) : null;
    }

    public Tensor forward(Backend be, Tensor x) {
        Tensor h = conv1.forward(be, norm1.swish(be, x));
        h = conv2.forward(be, norm2.swish(be, h));
        Tensor skip = ninShortcut == null ? x : ninShortcut.forward(be, x);
        return be.add(skip, h);
    }
}
