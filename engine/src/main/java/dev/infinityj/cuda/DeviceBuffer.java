package dev.infinityj.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Explicitly owned device memory (cuMemAlloc / cuMemFree), AutoCloseable: workspaces, scratch. */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaContext c;
    private final long ptr, bytes;
    private boolean closed;

    public DeviceBuffer(CudaContext c, long bytes) {
        this.c = c;
        this.bytes = bytes;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pp = a.allocate(ValueLayout.JAVA_LONG);
            c.check(c.cu.cuMemAlloc(pp, Math.max(bytes, 4)), "cuMemAlloc(" + bytes + " bytes)");
            ptr = pp.get(ValueLayout.JAVA_LONG, 0);
        }
        c.opened("buffer");
    }

    public long pointer() { return ptr; }
    public long byteSize() { return bytes; }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        c.check(c.cu.cuMemFree(ptr), "cuMemFree");
        c.closedResource("buffer");
    }
}
