package dev.infinityj.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Page-locked host memory (cuMemAllocHost), AutoCloseable: the staging buffer for asynchronous copies
 * ({@link #uploadAsync}, {@link #downloadAsync}) that overlap with kernels.
 */
@SuppressWarnings("restricted") // FFM: device pointers and driver-owned strings are reinterpreted on purpose
public final class PinnedBuffer implements AutoCloseable {
    private final CudaContext c;
    private final MemorySegment host;
    private boolean closed;

    public PinnedBuffer(CudaContext c, long bytes) {
        this.c = c;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pp = a.allocate(ValueLayout.ADDRESS);
            c.check(c.cu.cuMemAllocHost(pp, bytes), "cuMemAllocHost(" + bytes + " bytes)");
            host = pp.get(ValueLayout.ADDRESS, 0).reinterpret(bytes);
        }
        c.opened("pinned");
    }

    /** The host view (valid until {@link #close()}). */
    public MemorySegment segment() { return host; }

    public void uploadAsync(long devicePtr, long bytes, CudaStream s) {
        c.check(c.cu.cuMemcpyHtoDAsync(devicePtr, host, bytes, s.handle()), "cuMemcpyHtoDAsync");
    }

    public void downloadAsync(long devicePtr, long bytes, CudaStream s) {
        c.check(c.cu.cuMemcpyDtoHAsync(host, devicePtr, bytes, s.handle()), "cuMemcpyDtoHAsync");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        c.check(c.cu.cuMemFreeHost(host), "cuMemFreeHost");
        c.closedResource("pinned");
    }
}
