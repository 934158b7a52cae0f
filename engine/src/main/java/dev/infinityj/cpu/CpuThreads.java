package dev.infinityj.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The CPU kernels' thread pool: a fixed set of daemon workers, sized to physical cores by default
 * (SMT siblings share the FMA units, so extra threads only add contention for GEMM).
 *
 * <p>{@link #parallelFor} splits {@code tasks} independent task indices over the workers and the
 * calling thread; it returns when all are done. Nested calls from inside a task run inline (no
 * deadlock, no oversubscription). Task bodies should be small static kernel calls.
 */
public final class CpuThreads implements AutoCloseable {

    private final int threads;
    private final Thread[] workers;
    private final Object lock = new Object();
    private volatile Job job;               // the job workers should help with, or null
    private volatile boolean closed;
    private static final ThreadLocal<Boolean> IN_TASK = ThreadLocal.withInitial(() -> false);

    private static final class Job {
        final int tasks;
        final IntConsumer body;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        final Thread owner;
        volatile Throwable failure;
        Job(int tasks, IntConsumer body, Thread owner) { this.tasks = tasks; this.body = body; this.owner = owner; }
    }

    public CpuThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workLoop, "infinityj-cpu-" + (i + 1));
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    /** The default pool: {@link #physicalCores()} threads, created on first use. */
    public static CpuThreads shared() { return Holder.SHARED; }

    private static final class Holder { static final CpuThreads SHARED = new CpuThreads(physicalCores()); }

    public int threads() { return threads; }

    /** Runs body(0..tasks-1), each index exactly once, on the pool and the calling thread. */
    public void parallelFor(int tasks, IntConsumer body) {
        if (tasks <= 0) return;
        if (tasks == 1 || threads == 1 || IN_TASK.get()) {
            for (int i = 0; i < tasks; i++) body.accept(i);
            return;
        }
        Job j = new Job(tasks, body, Thread.currentThread());
        synchronized (lock) {              // one job at a time; callers from several threads queue here
            job = j;
            for (Thread w : workers) LockSupport.unpark(w);
            runTasks(j);
            while (j.done.get() < j.tasks) LockSupport.parkNanos(this, 20_000);
            job = null;
        }
        if (j.failure != null) {
            if (j.failure instanceof RuntimeException re) throw re;
            if (j.failure instanceof Error e) throw e;
            throw new RuntimeException(j.failure);
        }
    }

    /** Splits [0, n) into about {@code threads × perThread} contiguous ranges of at least {@code minChunk}. */
    public void parallelRange(long n, long minChunk, RangeBody body) {
        if (n <= 0) return;
        long chunks = Math.max(1, Math.min((long) threads * 4, n / Math.max(1, minChunk)));
        long step = (n + chunks - 1) / chunks;
        int tasks = (int) ((n + step - 1) / step);
        parallelFor(tasks, t -> body.run(t * step, Math.min(n, (t + 1) * step)));
    }

    @FunctionalInterface
    public interface RangeBody { void run(long from, long to); }

    private void runTasks(Job j) {
        boolean was = IN_TASK.get();
        IN_TASK.set(true);
        try {
            int i;
            while ((i = j.next.getAndIncrement()) < j.tasks) {
                try {
                    if (j.failure == null) j.body.accept(i);
                } catch (Throwable t) {
                    j.failure = t;
                } finally {
                    if (j.done.incrementAndGet() == j.tasks) LockSupport.unpark(j.owner);
                }
            }
        } finally {
            IN_TASK.set(was);
        }
    }

    private void workLoop() {
        while (!closed) {
            Job j = job;
            if (j != null && j.next.get() < j.tasks) runTasks(j);
            else {
                // spin briefly (jobs come in quick succession inside a layer), then park
                boolean found = false;
                for (int s = 0; s < 2000 && !closed; s++) {
                    Job k = job;
                    if (k != null && k.next.get() < k.tasks) { found = true; break; }
                    Thread.onSpinWait();
                }
                if (!found) LockSupport.parkNanos(this, 100_000_000); // woken by unpark on submit (permit semantics: no lost wake-up)
            }
        }
    }

    @Override
    public void close() {
        if (this == Holder.SHARED) return;
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }

    /**
     * Physical cores on Linux (distinct core ids per package in sysfs), else the JVM's processor
     * count. Honours the JVM's container limit: never more than availableProcessors().
     */
    public static int physicalCores() {
        int logical = Runtime.getRuntime().availableProcessors();
        try {
            Set<String> cores = new HashSet<>();
            for (int c = 0; ; c++) {
                Path topo = Path.of("/sys/devices/system/cpu/cpu" + c + "/topology");
                if (!Files.isDirectory(topo)) break;
                String pkg = Files.readString(topo.resolve("physical_package_id")).trim();
                String core = Files.readString(topo.resolve("core_id")).trim();
                cores.add(pkg + ":" + core);
            }
            if (cores.isEmpty()) return logical;
            return Math.max(1, Math.min(logical, cores.size()));
        } catch (IOException | RuntimeException e) {
            return logical;
        }
    }
}
