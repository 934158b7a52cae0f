package dev.infinityj.model;

import dev.infinityj.tensor.Tensor;

/**
 * Debug hook: receives named intermediates of a block (names as in the fixtures' hidden.* dumps:
 * in, sa_in, sa_out, ca_norm_in, ca_norm_out, ca_out, ffn_in, ffn_out, out), shape [bs, l, C].
 * The tensors are only valid during the call.
 */
@FunctionalInterface
public interface HiddenProbe {
    void record(int scale, int block, String name, Tensor value);
}
