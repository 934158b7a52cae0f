package dev.infinityj.io;

import java.util.Set;

/** What a checkpoint holds, recognised from its key names (after wrapper prefixes are stripped). */
public enum ModelKind {
    INFINITY_TRANSFORMER("infinity-transformer"),
    BSQ_VAE("bsq-vae"),
    T5_ENCODER("t5-encoder"),
    UNKNOWN("unknown");

    private final String label;

    ModelKind(String label) { this.label = label; }

    public String label() { return label; }

    public static ModelKind detect(Set<String> keys) {
        boolean blockChunks = false, wordEmbed = false, dec = false, enc = false, quant = false, t5Block = false, shared = false;
        for (String k : keys) {
            if (k.startsWith("block_chunks.") || k.startsWith("unregistered_blocks.")) blockChunks = true;
            if (k.startsWith("word_embed.")) wordEmbed = true;
            if (k.startsWith("decoder.")) dec = true;
            if (k.startsWith("encoder.block.")) t5Block = true;
            else if (k.startsWith("encoder.")) enc = true;
            if (k.startsWith("quantizer.") || k.startsWith("quantize.")) quant = true;
            if (k.equals("shared.weight")) shared = true;
        }
        if (blockChunks || wordEmbed) return INFINITY_TRANSFORMER;
        if (t5Block || (shared && !dec)) return T5_ENCODER;
        if ((dec && enc) || quant) return BSQ_VAE;
        return UNKNOWN;
    }
}
