package dev.infinityj.vae;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.Tensor;

/** A Conv2d layer (the official {@code Conv(...).conv = nn.Conv2d}): square kernel, stride, symmetric zero padding. */
record Conv(Tensor weight, Tensor bias, int stride, int padding) {

    static Conv load(VaeWeights w, String module, int in, int out, int k, int stride, int padding) {
        Tensor[] t = w.conv(module, in, out, k);
        return new Conv(t[0], t[1], stride, padding);
    }

    int outChannels() { return (int) weight.dim(0); }

    int kernel() { return (int) weight.dim(2); }

    Tensor forward(Backend be, Tensor x) { return be.conv2d(x, weight, bias, stride, padding); }
}
