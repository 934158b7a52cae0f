package dev.infinityj.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A CUevent (AutoCloseable) for ordering and timing. */
public final class CudaEvent implements AutoCloseable {
    private final CudaContext c;
    private final MemorySegment handle;
    private boolean closed;

    public CudaEvent(CudaContext c, int flags) {
        this.c = c;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            c.check(c.cu.cuEventCreate(p, flags), "cuEventCreate");
            handle = p.get(ValueLayout.ADDRESS, 0);
        }
        c.opened("event");
    }

    public void record(CudaStream s) { c.check(c.cu.cuEventRecord(handle, s.handle()), "cuEventRecord"); }

    public void synchronize() { c.check(c.cu.cuEventSynchronize(handle), "cuEventSynchronize"); }

    /** Milliseconds from {@code start} to this event (both recorded and complete). */
    public float elapsedSince(CudaEvent start) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(ValueLayout.JAVA_FLOAT);
            c.check(c.cu.cuEventElapsedTime(f, start.handle, handle), "cuEventElapsedTime");
            return f.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        c.check(c.cu.cuEventDestroy(handle), "cuEventDestroy");
        c.closedResource("event");
    }
}
