package dev.infinityj.text;

import dev.infinityj.backend.Backend;

import java.nio.file.Path;

/**
 * Prompt → features: the T5 tokenizer and encoder of one model folder, with an optional
 * {@link PromptCache}. What the pipeline calls for the prompt and the negative prompt (spec §2.1-2.3).
 */
public final class T5TextEncoder implements AutoCloseable {
    private final String modelId;
    private final SentencePieceTokenizer tokenizer;
    private final T5Encoder encoder;
    private final PromptCache cache;   // may be null

    public T5TextEncoder(String modelId, SentencePieceTokenizer tokenizer, T5Encoder encoder, PromptCache cache) {
        this.modelId = modelId;
        this.tokenizer = tokenizer;
        this.encoder = encoder;
        this.cache = cache;
    }

    /** A Hugging Face Flan-T5 folder (config.json, weights, spiece.model or tokenizer.json). */
    public static T5TextEncoder load(Path t5Dir, Backend backend, PromptCache cache) {
        SentencePieceTokenizer tok = SentencePieceTokenizer.load(t5Dir);
        T5Encoder enc = T5Encoder.load(t5Dir, backend);
        return new T5TextEncoder(t5Dir.toAbsolutePath().normalize().toString(), tok, enc, cache);
    }

    public EncodedPrompt encode(String text) {
        if (cache == null) return run(text);
        return cache.computeIfAbsent(modelId, text, () -> run(text));
    }

    private EncodedPrompt run(String text) {
        SentencePieceTokenizer.Encoding e = tokenizer.encodeWithInfo(text);
        return new EncodedPrompt(e.ids(), encoder.encode(e.ids()), e.truncated(), e.untruncatedLength());
    }

    public String modelId() { return modelId; }
    public SentencePieceTokenizer tokenizer() { return tokenizer; }
    public T5Encoder encoder() { return encoder; }

    @Override
    public void close() { encoder.close(); }
}
