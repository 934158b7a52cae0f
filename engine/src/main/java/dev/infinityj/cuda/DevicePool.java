package dev.infinityj.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A stream-ordered caching allocator for device memory: the CUDA backend's tensors take blocks from
 * here, and a block whose tensor became unreachable goes back to a free list of its size class instead
 * of to cuMemFree. Reusing it needs no synchronisation because every backend kernel and copy runs on
 * the context's one stream: work queued after the reuse runs after the work that still read the block.
 * cuMemAlloc and cuMemFree are slow and cuMemFree synchronises the device, so calling them per op (13
 * scales × 32 layers × a dozen ops) would dominate small scales; a warm pool calls neither.
 *
 * <p>Size classes: a request is rounded up to a multiple of 512 bytes, and above 4 KiB to a multiple of
 * an eighth of its power of two (8 classes per octave, at most 12.5 % rounding waste). A free block is
 * reused only for its own class (no splitting), which suits a generation loop whose shapes repeat scale
 * by scale and image after image. Under memory pressure {@link #releaseCached} hands every free block back
 * to the driver.
 *
 * <p>Statistics: bytes in use (handed out, by class size) and reserved (held from the driver), with
 * their peaks since {@link #resetPeaks}; the peak reserved figure is what the device had to give us.
 *
 * <p>Not thread-safe by itself: {@link CudaContext} calls it under its own lock.
 */
final class DevicePool {
    /** The driver side: cuMemAlloc (returning 0 when out of memory) and cuMemFree. */
    interface Driver {
        long alloc(long bytes);
        void free(long ptr);
    }

    private final Driver driver;
    private final boolean caching;
    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    /** Every block held from the driver (in use or cached): pointer → class size. */
    private final TreeMap<Long, Long> blocks = new TreeMap<>();
    /** Blocks handed out and not yet returned: pointer → class size. */
    private final TreeMap<Long, Long> inUse = new TreeMap<>();
    /** Without caching: blocks given back to the driver, until it hands the address out again (stale-use checks). */
    private final TreeMap<Long, Long> freed = new TreeMap<>();
    private long inUseBytes, reservedBytes, peakInUse, peakReserved, requests, driverAllocs, driverFrees;

    /** @param caching false: every release goes straight to cuMemFree (for compute-sanitizer runs). */
    DevicePool(Driver driver, boolean caching) {
        this.driver = driver;
        this.caching = caching;
    }

    /** The class a request of {@code bytes} is served from. */
    static long sizeClass(long bytes) {
        long n = Math.max(bytes, 1);
        long step = Math.max(512, Long.highestOneBit(n) >>> 3);
        return (n + step - 1) / step * step;
    }

    /** A block of at least {@code bytes}; 0 when the driver is out of memory (the caller may release and retry). */
    long allocate(long bytes) {
        long size = sizeClass(bytes);
        requests++;
        ArrayDeque<Long> q = free.get(size);
        long ptr;
        if (q != null && !q.isEmpty()) {
            ptr = q.pop();
        } else {
            ptr = driver.alloc(size);
            if (ptr == 0) return 0;
            driverAllocs++;
            blocks.put(ptr, size);
            if (!caching) freed.subMap(ptr, ptr + size).clear();
            reservedBytes += size;
            peakReserved = Math.max(peakReserved, reservedBytes);
        }
        inUse.put(ptr, size);
        inUseBytes += size;
        peakInUse = Math.max(peakInUse, inUseBytes);
        return ptr;
    }

    /**
     * Returns a block. With caching it joins its class's free list and may be handed out again at once
     * (stream order makes that safe); without, it is freed — the caller has synchronised the stream.
     */
    void release(long ptr) {
        Long size = inUse.remove(ptr);
        if (size == null) throw new IllegalStateException("device block 0x" + Long.toHexString(ptr) + " released twice or never allocated");
        inUseBytes -= size;
        if (caching) {
            free.computeIfAbsent(size, k -> new ArrayDeque<>()).push(ptr);
        } else {
            freeBlock(ptr, size);
        }
    }

    /** Frees every cached block (the caller has synchronised the stream); returns the bytes given back. */
    long releaseCached() {
        long released = 0;
        for (Map.Entry<Long, ArrayDeque<Long>> e : free.entrySet()) {
            for (Long p : e.getValue()) {
                freeBlock(p, e.getKey());
                released += e.getKey();
            }
        }
        free.clear();
        return released;
    }

    /** Frees every block, in use or not (context close). */
    void releaseAll() {
        releaseCached();
        for (Map.Entry<Long, Long> e : Map.copyOf(inUse).entrySet()) freeBlock(e.getKey(), e.getValue());
        inUse.clear();
        inUseBytes = 0;
    }

    private void freeBlock(long ptr, long size) {
        blocks.remove(ptr);
        if (!caching) freed.put(ptr, size);
        reservedBytes -= size;
        driverFrees++;
        driver.free(ptr);
    }

    /** Whether {@code address} lies inside a block held from the driver. */
    boolean contains(long address) { return within(blocks, address); }

    /** What {@code address} is to this pool. */
    enum State {
        /** inside a block a live tensor holds */
        IN_USE,
        /** inside a block that was released (cached, or freed and not re-allocated): a stale tensor */
        RELEASED,
        /** not device memory of this pool (host memory, or another context's) */
        UNKNOWN
    }

    State state(long address) {
        if (within(inUse, address)) return State.IN_USE;
        if (within(blocks, address) || within(freed, address)) return State.RELEASED;
        return State.UNKNOWN;
    }

    private static boolean within(TreeMap<Long, Long> m, long address) {
        Map.Entry<Long, Long> e = m.floorEntry(address);
        return e != null && address < e.getKey() + e.getValue();
    }

    boolean caching() { return caching; }
    long inUseBlocks() { return inUse.size(); }
    long inUseBytes() { return inUseBytes; }
    long reservedBlocks() { return blocks.size(); }
    long reservedBytes() { return reservedBytes; }
    long peakInUseBytes() { return peakInUse; }
    long peakReservedBytes() { return peakReserved; }
    long requests() { return requests; }
    long driverAllocations() { return driverAllocs; }
    long driverFrees() { return driverFrees; }

    void resetPeaks() {
        peakInUse = inUseBytes;
        peakReserved = reservedBytes;
    }
}
