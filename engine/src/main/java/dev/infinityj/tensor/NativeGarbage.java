package dev.infinityj.tensor;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps dead activations from piling up in native memory. Tensors made by
 * {@link Tensor#allocate(DType, long...)} live in automatic arenas, freed only after a GC notices
 * the tensor is unreachable; the Java heap objects are tiny, so without help the GC runs rarely
 * while gigabytes of dead native activations accumulate (measured: 2B at 256² reached 14-21 GB RSS
 * for ~8 GB of live weights, and runs slowed down erratically once the JVM's direct-memory cap was
 * hit, where the JDK's reservation path sleeps and retries). After every
 * {@code infinityj.gcEveryBytes} (default 1 GiB) of automatic native allocations, a GC is requested
 * so the memory is returned; a collection of our small heap costs tens of milliseconds.
 */
public final class NativeGarbage {
    private NativeGarbage() {}

    private static final long EVERY = Long.getLong("infinityj.gcEveryBytes", 1L << 30);
    private static final AtomicLong SINCE = new AtomicLong();

    static void allocated(long bytes) {
        if (EVERY <= 0) return;
        if (SINCE.addAndGet(bytes) >= EVERY) {
            SINCE.set(0);
            System.gc();
        }
    }
}
