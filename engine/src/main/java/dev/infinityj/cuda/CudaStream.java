package dev.infinityj.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A CUstream (AutoCloseable), with graph capture: {@code beginCapture(); ...launches...; endCapture()}. */
public final class CudaStream implements AutoCloseable {
    private final CudaContext c;
    private final MemorySegment handle;
    private boolean closed;

    public CudaStream(CudaContext c, int flags) {
        this.c = c;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            c.check(c.cu.cuStreamCreate(p, flags), "cuStreamCreate");
            handle = p.get(ValueLayout.ADDRESS, 0);
        }
        c.opened("stream");
    }

    public MemorySegment handle() { return handle; }

    public void synchronize() { c.check(c.cu.cuStreamSynchronize(handle), "cuStreamSynchronize"); }

    /** Starts capturing this stream's work into a graph (relaxed mode: the backend may still call cuCtxSetCurrent while capturing). */
    public void beginCapture() {
        c.check(c.cu.cuStreamBeginCapture(handle, dev.infinityj.bindings.cuda.CudaConstants.CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture");
    }

    /** Ends the capture and instantiates the graph for replay. */
    public CudaGraph endCapture() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            c.check(c.cu.cuStreamEndCapture(handle, p), "cuStreamEndCapture");
            return new CudaGraph(c, p.get(ValueLayout.ADDRESS, 0));
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        c.check(c.cu.cuStreamDestroy(handle), "cuStreamDestroy");
        c.closedResource("stream");
    }
}
