package dev.infinityj.cpu;

import dev.infinityj.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The one home of Winograd-transformed 3×3 weights ({@link WinogradConv#transformWeights}): a
 * process-wide cache keyed by the weight tensor's identity, weakly (an entry and its native memory
 * go when the weight tensor is unreachable, e.g. when a model is dropped). Bounded: at most
 * {@code infinityj.winogradCacheBytes} bytes (default 2 GiB) are kept; a weight beyond that is
 * transformed per call into memory freed after the call. Transformed weights take 4× the F32 size
 * of the 3×3 weight (36 values per filter instead of 9), i.e. 16 bytes per weight element.
 */
public final class WinogradWeights {
    private WinogradWeights() {}

    public static final long BUDGET = Long.getLong("infinityj.winogradCacheBytes", 2L << 30);

    private static final Map<Tensor, WinogradConv.Transformed> CACHE = new WeakHashMap<>();  // identity: Tensor keeps Object.equals

    /**
     * Transformed weights of {@code w} [O, C, 3, 3] from the cache (transformed and added on first
     * use), or null when adding them would pass the budget: the caller then transforms per call
     * ({@link WinogradConv#transformWeights}) into memory it frees.
     */
    public static WinogradConv.Transformed cached(Tensor w, CpuThreads pool) {
        synchronized (CACHE) {
            WinogradConv.Transformed u = CACHE.get(w);
            if (u != null) return u;
            if (cachedBytesLocked() + WinogradConv.weightBytes((int) w.dim(0), (int) w.dim(1)) > BUDGET) return null;
        }
        WinogradConv.Transformed u = transform(w, pool);
        synchronized (CACHE) {
            WinogradConv.Transformed prev = CACHE.putIfAbsent(w, u);
            return prev != null ? prev : u;
        }
    }

    /** Transformed and packed for the GEMMs, uncached (the native transform buffer is freed on return). */
    public static WinogradConv.Transformed transform(Tensor w, CpuThreads pool) {
        try (Arena call = Arena.ofShared()) {   // the pool's threads write it
            return WinogradConv.prepare(WinogradConv.transformWeights(w, call, pool), (int) w.dim(0), (int) w.dim(1));
        }
    }

    /** Bytes of transformed weights held now. */
    public static long cachedBytes() {
        synchronized (CACHE) { return cachedBytesLocked(); }
    }

    private static long cachedBytesLocked() {
        long s = 0;
        for (WinogradConv.Transformed u : CACHE.values()) s += u.bytes();
        return s;
    }
}
