package dev.infinityj.text;

import dev.infinityj.tensor.Tensor;

/**
 * One prompt through the text side: its token ids (pieces + EOS, at most 512), the encoder's
 * last hidden state for exactly those tokens ({@code [ids.length, d_model]}, F32, in the
 * backend's memory) and whether the prompt was cut to 512 tokens (the CLI warns).
 */
public record EncodedPrompt(int[] ids, Tensor features, boolean truncated, int untruncatedLength) {
    public int length() { return ids.length; }
}
