package dev.infinityj.text;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

class PromptCacheTest {

    private static EncodedPrompt dummy(int tag) {
        return new EncodedPrompt(new int[]{tag, 1}, Tensor.ofFloats(new float[]{tag}, 1, 1), false, 2);
    }

    @Test
    void secondCallSkipsTheEncoder() {
        Path spm = Fixtures.dir("spm-unigram"), t5 = Fixtures.dir("t5-tiny");
        PromptCache cache = new PromptCache(4);
        try (T5Encoder enc = T5Encoder.load(t5, new CpuBackend())) {
            T5TextEncoder text = new T5TextEncoder("t5-tiny", SentencePieceTokenizer.load(spm.resolve("spiece.model")), enc, cache);
            EncodedPrompt a = text.encode("a dog");
            assertEquals(1, enc.forwardCount());
            EncodedPrompt b = text.encode("a dog");
            assertEquals(1, enc.forwardCount(), "the cached prompt did not run the encoder again");
            assertSame(a.features(), b.features());
            assertEquals(1, cache.hits());
            text.encode("a cat");
            assertEquals(2, enc.forwardCount());
            // another model id with the same text is a different entry
            T5TextEncoder other = new T5TextEncoder("other-model", text.tokenizer(), enc, cache);
            other.encode("a dog");
            assertEquals(3, enc.forwardCount());
            // and the cached features are the encoder's output for those ids
            assertArrayEquals(enc.encode(a.ids()).toFloatArray(), a.features().toFloatArray(), 0f);
        }
    }

    @Test
    void leastRecentlyUsedEntryIsEvicted() {
        PromptCache cache = new PromptCache(2);
        AtomicInteger runs = new AtomicInteger();
        cache.computeIfAbsent("m", "x", () -> dummy(runs.incrementAndGet()));
        cache.computeIfAbsent("m", "y", () -> dummy(runs.incrementAndGet()));
        cache.computeIfAbsent("m", "x", () -> dummy(runs.incrementAndGet()));   // hit: x becomes most recent
        cache.computeIfAbsent("m", "z", () -> dummy(runs.incrementAndGet()));   // evicts y
        assertEquals(3, runs.get());
        assertEquals(2, cache.size());
        assertNotNull(cache.get("m", "x"));
        assertNull(cache.get("m", "y"));
        cache.computeIfAbsent("m", "y", () -> dummy(runs.incrementAndGet()));
        assertEquals(4, runs.get());
        assertThrows(BadInputException.class, () -> new PromptCache(0));
    }
}
