package dev.infinityj.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DevicePoolTest {
    /** A driver that hands out disjoint address ranges and records what is live, with an optional capacity. */
    static final class CountingDriver implements DevicePool.Driver {
        final Set<Long> live = new HashSet<>();
        long next = 1L << 20, liveBytes, capacity = Long.MAX_VALUE, allocs, frees;
        final java.util.Map<Long, Long> sizes = new java.util.HashMap<>();

        @Override public long alloc(long bytes) {
            if (liveBytes + bytes > capacity) return 0;
            long p = next;
            next += bytes + 4096; // a gap: contains() must not see one block's end as the next one's
            live.add(p);
            sizes.put(p, bytes);
            liveBytes += bytes;
            allocs++;
            return p;
        }

        @Override public void free(long ptr) {
            assertTrue(live.remove(ptr), "free of a pointer the driver did not hand out: " + ptr);
            liveBytes -= sizes.remove(ptr);
            frees++;
        }
    }

    @Test
    void sizeClassesCoverTheRequestWithBoundedWaste() {
        Random r = new Random(1);
        long prev = 0;
        for (long n = 1; n < 1 << 22; n += 1 + n / 7) {
            long c = DevicePool.sizeClass(n);
            assertTrue(c >= n, "class " + c + " for " + n);
            assertEquals(0, c % 512, "classes are multiples of 512 bytes: " + c);
            assertTrue(c - n < Math.max(512, n / 8.0), "waste of " + (c - n) + " bytes for a request of " + n);
            assertTrue(c >= prev, "classes grow with the request");
            prev = c;
        }
        for (int i = 0; i < 1000; i++) {
            long n = 1 + (r.nextLong() & ((1L << 36) - 1));
            long c = DevicePool.sizeClass(n);
            assertTrue(c >= n && c - n <= n / 8 + 512, n + " -> " + c);
            assertEquals(c, DevicePool.sizeClass(c), "a class is its own class");
        }
    }

    @Test
    void aReleasedBlockIsReusedForItsClassWithoutADriverCall() {
        CountingDriver d = new CountingDriver();
        DevicePool p = new DevicePool(d, true);
        long a = p.allocate(1000);
        p.release(a);
        long b = p.allocate(900); // same 1024-byte class
        assertEquals(a, b);
        assertEquals(1, d.allocs);
        long c = p.allocate(5000); // another class: a new block
        assertNotEquals(b, c);
        assertEquals(2, d.allocs);
        assertEquals(2, p.inUseBlocks());
        assertEquals(DevicePool.sizeClass(900) + DevicePool.sizeClass(5000), p.inUseBytes());
        assertThrows(IllegalStateException.class, () -> p.release(a + 8), "a pointer that was never handed out");
        p.release(b);
        assertThrows(IllegalStateException.class, () -> p.release(b), "a double release");
    }

    @Test
    void peaksAndReservedBytesFollowARandomWorkload() {
        CountingDriver d = new CountingDriver();
        DevicePool p = new DevicePool(d, true);
        Random r = new Random(7);
        List<Long> held = new ArrayList<>();
        long inUse = 0, peak = 0;
        java.util.Map<Long, Long> size = new java.util.HashMap<>();
        for (int i = 0; i < 5000; i++) {
            if (!held.isEmpty() && r.nextInt(3) == 0) {
                long ptr = held.remove(r.nextInt(held.size()));
                inUse -= size.remove(ptr);
                p.release(ptr);
            } else {
                long n = 1 + r.nextInt(1 << (4 + r.nextInt(14)));
                long ptr = p.allocate(n);
                assertFalse(size.containsKey(ptr), "a block handed out twice");
                assertTrue(p.contains(ptr) && p.contains(ptr + n - 1), "the block covers the request");
                size.put(ptr, DevicePool.sizeClass(n));
                held.add(ptr);
                inUse += DevicePool.sizeClass(n);
                peak = Math.max(peak, inUse);
            }
            assertEquals(inUse, p.inUseBytes());
            assertEquals(d.liveBytes, p.reservedBytes(), "reserved = what the driver holds for us");
        }
        assertEquals(peak, p.peakInUseBytes());
        assertTrue(p.peakReservedBytes() >= peak);
        assertTrue(d.allocs < 2500, "most requests reuse cached blocks: " + d.allocs + " driver allocations");
        long cached = p.reservedBytes() - p.inUseBytes();
        assertEquals(cached, p.releaseCached());
        assertEquals(p.inUseBytes(), p.reservedBytes());
        for (long ptr : held) assertTrue(d.live.contains(ptr), "releaseCached leaves blocks in use alone");
        p.resetPeaks();
        assertEquals(p.inUseBytes(), p.peakInUseBytes());
        p.releaseAll();
        assertEquals(0, d.live.size());
        assertEquals(0, p.reservedBytes());
    }

    @Test
    void withoutCachingEveryReleaseFreesAndOutOfMemoryIsReported() {
        CountingDriver d = new CountingDriver();
        d.capacity = 1 << 16;
        DevicePool p = new DevicePool(d, false);
        long a = p.allocate(40_000);
        assertEquals(0, p.allocate(40_000), "over capacity: 0, not an exception (the context retries)");
        p.release(a);
        assertEquals(0, d.live.size(), "freed at once");
        assertFalse(p.contains(a));
        assertEquals(DevicePool.State.RELEASED, p.state(a + 100), "a freed block is known stale until re-allocated");
        long b = p.allocate(40_000);
        assertNotEquals(0, b);
        assertEquals(DevicePool.State.IN_USE, p.state(b + 39_999));
        assertEquals(DevicePool.State.UNKNOWN, p.state(b + DevicePool.sizeClass(40_000) + 1), "past the block: not ours");
    }

    @Test
    void statesOfCachedBlocks() {
        DevicePool p = new DevicePool(new CountingDriver(), true);
        long a = p.allocate(3000);
        assertEquals(DevicePool.State.IN_USE, p.state(a));
        p.release(a);
        assertEquals(DevicePool.State.RELEASED, p.state(a + 2999), "cached: a tensor still pointing here is stale");
        assertEquals(a, p.allocate(3000));
        assertEquals(DevicePool.State.IN_USE, p.state(a));
        assertEquals(DevicePool.State.UNKNOWN, p.state(a - 1));
    }
}
