package dev.infinityj.backend;

import dev.infinityj.cpu.CpuThreads;

/**
 * The CPU backend: Vector API kernels from {@code dev.infinityj.cpu}, multi-threaded on a
 * {@link CpuThreads} pool. Ops without a fast kernel yet fall back to {@link NaiveBackend}'s
 * scalar loops, which stay the reference every kernel is tested against.
 */
public class CpuBackend extends NaiveBackend {

    private final CpuThreads pool;

    /** On the shared pool (one thread per physical core). */
    public CpuBackend() { this(CpuThreads.shared()); }

    /** On a pool of {@code threads} threads (owned by this backend; {@link #close()} stops it). */
    public CpuBackend(int threads) { this(new CpuThreads(threads)); }

    public CpuBackend(CpuThreads pool) { this.pool = pool; }

    @Override public String name() { return "cpu"; }

    public CpuThreads pool() { return pool; }

    @Override
    public void close() { pool.close(); }
}
