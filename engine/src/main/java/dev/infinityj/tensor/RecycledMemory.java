package dev.infinityj.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Native blocks for {@link Tensor#allocateUninitialized}: GC-managed like {@code Arena.ofAuto()}
 * segments, but not zero-filled, and recycled. When a tensor's segment becomes unreachable, the
 * cleanup action puts its block on a free list keyed by its size instead of freeing it, so the next
 * activation of the same shape (the next block of the same scale) reuses warm, already-mapped pages:
 * no zero fill and no page faults. At most {@code infinityj.recycleBytes} (default 512 MiB) are kept
 * on the free lists; blocks beyond that are freed. Falls back to zero-filled automatic segments
 * where native access is not enabled or {@code aligned_alloc} is missing.
 */
final class RecycledMemory {
    private RecycledMemory() {}

    private static final long CAP = Long.getLong("infinityj.recycleBytes", 512L << 20);
    private static final MethodHandle ALLOC, FREE;
    private static final ConcurrentHashMap<Long, ConcurrentLinkedDeque<Long>> LISTS = new ConcurrentHashMap<>();
    private static final AtomicLong POOLED = new AtomicLong();

    static {
        MethodHandle a = null, f = null;
        try {
            if (RecycledMemory.class.getModule().isNativeAccessEnabled() && CAP > 0) {
                Linker l = Linker.nativeLinker();
                var lookup = l.defaultLookup();
                var ma = lookup.find("aligned_alloc");
                var mf = lookup.find("free");
                if (ma.isPresent() && mf.isPresent()) {
                    a = l.downcallHandle(ma.get(), FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
                    f = l.downcallHandle(mf.get(), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
                }
            }
        } catch (RuntimeException | Error e) {
            a = null; f = null;
        }
        ALLOC = a; FREE = f;
    }

    /** {@code bytes} (≥ 1) of 64-byte-aligned native memory with unspecified contents, freed (recycled) by the GC. */
    static MemorySegment allocate(long bytes) {
        if (ALLOC == null) return Arena.ofAuto().allocate(bytes, 64);
        long size = (bytes + 63) & ~63L;
        ConcurrentLinkedDeque<Long> list = LISTS.get(size);
        Long addr = list == null ? null : list.pollFirst();
        long address;
        if (addr != null) {
            POOLED.addAndGet(-size);
            address = addr;
        } else {
            address = malloc(size);
        }
        return MemorySegment.ofAddress(address).reinterpret(bytes, Arena.ofAuto(), s -> release(s.address(), size));
    }

    private static long malloc(long size) {
        try {
            MemorySegment p = (MemorySegment) ALLOC.invokeExact(64L, size);
            if (p.address() == 0) throw new OutOfMemoryError("aligned_alloc of " + size + " bytes failed");
            return p.address();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void release(long address, long size) {
        if (POOLED.addAndGet(size) <= CAP) {
            LISTS.computeIfAbsent(size, k -> new ConcurrentLinkedDeque<>()).addFirst(address);
            return;
        }
        POOLED.addAndGet(-size);
        try {
            FREE.invokeExact(MemorySegment.ofAddress(address));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
