package dev.infinityj.text;

import dev.infinityj.BadInputException;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A small LRU cache of encoded prompts keyed by (model id, text), so repeated generations with
 * the same prompt (seeds sweeps, the empty negative prompt) skip the T5 encoder. Thread-safe;
 * the encoder runs outside the lock only once per missing key per caller.
 */
public final class PromptCache {
    private record Key(String modelId, String text) {}

    private final int capacity;
    private final LinkedHashMap<Key, EncodedPrompt> map;
    private long hits, misses;

    public PromptCache(int capacity) {
        if (capacity < 1) throw new BadInputException("prompt cache capacity must be at least 1, got " + capacity);
        this.capacity = capacity;
        this.map = new LinkedHashMap<>(16, 0.75f, true) {
            @Override protected boolean removeEldestEntry(Map.Entry<Key, EncodedPrompt> e) { return size() > PromptCache.this.capacity; }
        };
    }

    /** The cached prompt for (modelId, text), or {@code encoder}'s result, which is then cached. */
    public EncodedPrompt computeIfAbsent(String modelId, String text, Supplier<EncodedPrompt> encoder) {
        Key k = new Key(modelId, text);
        synchronized (this) {
            EncodedPrompt p = map.get(k);
            if (p != null) { hits++; return p; }
            misses++;
        }
        EncodedPrompt p = encoder.get();
        synchronized (this) {
            EncodedPrompt raced = map.get(k);
            if (raced != null) return raced;
            map.put(k, p);
        }
        return p;
    }

    /** The cached entry or null (does not count as a hit or miss, but refreshes recency). */
    public synchronized EncodedPrompt get(String modelId, String text) { return map.get(new Key(modelId, text)); }

    public synchronized int size() { return map.size(); }
    public int capacity() { return capacity; }
    public synchronized long hits() { return hits; }
    public synchronized long misses() { return misses; }
    public synchronized void clear() { map.clear(); }
}
