package dev.infinityj.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A captured and instantiated CUDA graph (AutoCloseable): {@link #launch} replays it on a stream. */
public final class CudaGraph implements AutoCloseable {
    private final CudaContext c;
    private final MemorySegment graph, exec;
    private boolean closed;

    CudaGraph(CudaContext c, MemorySegment graph) {
        this.c = c;
        this.graph = graph;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            int rc = c.cu.cuGraphInstantiate(p, graph, 0L);
            if (rc != 0) {
                c.cu.cuGraphDestroy(graph);
                c.check(rc, "cuGraphInstantiateWithFlags");
            }
            exec = p.get(ValueLayout.ADDRESS, 0);
        }
        c.opened("graph");
    }

    public void launch(CudaStream s) { c.check(c.cu.cuGraphLaunch(exec, s.handle()), "cuGraphLaunch"); }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        c.check(c.cu.cuGraphExecDestroy(exec), "cuGraphExecDestroy");
        c.check(c.cu.cuGraphDestroy(graph), "cuGraphDestroy");
        c.closedResource("graph");
    }
}
