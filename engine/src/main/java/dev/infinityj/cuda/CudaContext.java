package dev.infinityj.cuda;

import dev.infinityj.bindings.cuda.CudaConstants;
import dev.infinityj.bindings.cuda.CudaDriver;
import dev.infinityj.bindings.cuda.CudaError;
import dev.infinityj.bindings.cuda.CudaLibraries;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One device's primary context with everything the CUDA backend owns on it: a stream, the kernel
 * modules, and the device allocations. AutoCloseable: {@link #close()} frees what is still allocated,
 * unloads the modules, destroys the stream and releases the primary context.
 *
 * <p>Lifetimes. Explicit resources ({@link DeviceBuffer}, {@link PinnedBuffer}, {@link CudaStream},
 * {@link CudaEvent}, {@link CudaGraph}) are AutoCloseable. Tensors the backend hands out own their
 * device memory through an automatic arena: when no tensor (or view) references the storage any more,
 * the GC's cleanup queues the pointer and the next allocation (or {@link #collect()}) returns the block to
 * the caching {@link DevicePool} on an owning thread, never on the cleaner thread; the pool hands it out
 * again without a driver call. {@link #liveAllocations()} and {@link #liveBytes()} count what tensors
 * hold, {@link #memoryStats()} adds what the pool reserves and the peaks; the leak test runs a thousand
 * generations against them.
 *
 * <p>Every driver call's CUresult is checked; a failure throws {@link CudaException} with the CUDA
 * error name (from cuGetErrorName, or {@link CudaError}'s table).
 */
@SuppressWarnings("restricted") // FFM: device pointers and driver-owned strings are reinterpreted on purpose
public final class CudaContext implements AutoCloseable {
    final CudaDriver cu;
    final int device;
    final MemorySegment ctx;
    final String deviceName;
    final int ccMajor, ccMinor;
    final boolean managed;
    private final Arena arena = Arena.ofShared();
    private final CudaStream stream;
    private final Map<String, MemorySegment> modules = new HashMap<>();
    private final Map<String, MemorySegment> functions = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Block> pendingFree = new ConcurrentLinkedQueue<>();
    private final DevicePool pool;
    /** The block behind each live tensor storage (by device address), for {@code Scope.adopt}. */
    private final Map<Long, Block> liveBlocks = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> resources = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** Opens device {@code ordinal}: cuInit, primary context, a non-blocking stream. */
    CudaContext(CudaDriver cu, int ordinal, boolean managed) {
        this.cu = cu;
        this.managed = managed;
        this.pool = new DevicePool(new DevicePool.Driver() {
            @Override public long alloc(long bytes) { return driverAlloc(bytes); }
            @Override public void free(long ptr) { driverFree(ptr); }
        }, poolEnabled());
        try (Arena a = Arena.ofConfined()) {
            check(cu.cuInit(0), "cuInit");
            MemorySegment ip = a.allocate(ValueLayout.JAVA_INT);
            check(cu.cuDeviceGet(ip, ordinal), "cuDeviceGet");
            device = ip.get(ValueLayout.JAVA_INT, 0);
            MemorySegment name = a.allocate(256);
            check(cu.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
            deviceName = name.getString(0);
            ccMajor = attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
            ccMinor = attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
            MemorySegment pp = a.allocate(ValueLayout.ADDRESS);
            check(cu.cuDevicePrimaryCtxRetain(pp, device), "cuDevicePrimaryCtxRetain");
            ctx = pp.get(ValueLayout.ADDRESS, 0);
        }
        makeCurrent();
        stream = new CudaStream(this, CudaConstants.CU_STREAM_NON_BLOCKING);
    }

    /**
     * Whether the caching pool is on: {@code -Dinfinityj.cuda.pool=off} frees every block as its
     * tensor dies (compute-sanitizer's memcheck sees out-of-bounds accesses only at the edges of driver
     * allocations, not of pooled blocks).
     */
    static boolean poolEnabled() {
        String p = System.getProperty("infinityj.cuda.pool");
        if (p == null || p.isBlank() || p.equalsIgnoreCase("on") || p.equalsIgnoreCase("true")) return true;
        if (p.equalsIgnoreCase("off") || p.equalsIgnoreCase("false")) return false;
        throw new dev.infinityj.BadInputException("infinityj.cuda.pool must be on or off, got '" + p + "'");
    }

    int attribute(int attr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ip = a.allocate(ValueLayout.JAVA_INT);
            check(cu.cuDeviceGetAttribute(ip, attr, device), "cuDeviceGetAttribute");
            return ip.get(ValueLayout.JAVA_INT, 0);
        }
    }

    public String deviceName() { return deviceName; }
    public int computeCapability() { return ccMajor * 10 + ccMinor; }
    public CudaStream stream() { return stream; }

    /** Binds the primary context to the calling thread (cheap; every backend entry point calls it). */
    public void makeCurrent() {
        if (closed) throw new IllegalStateException("CUDA context is closed");
        check(cu.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    }

    // ---------------------------------------------------------------- errors

    String errorName(int rc) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            if (cu.cuGetErrorName(rc, p) == 0) {
                MemorySegment s = p.get(ValueLayout.ADDRESS, 0);
                if (!s.equals(MemorySegment.NULL)) return s.reinterpret(256).getString(0);
            }
        } catch (RuntimeException ignored) {
            // fall back to the table
        }
        return CudaError.name(rc);
    }

    String errorString(int rc) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            if (cu.cuGetErrorString(rc, p) == 0) {
                MemorySegment s = p.get(ValueLayout.ADDRESS, 0);
                if (!s.equals(MemorySegment.NULL)) return s.reinterpret(1024).getString(0);
            }
        } catch (RuntimeException ignored) {
            // no description
        }
        return null;
    }

    void check(int rc, String call) {
        if (rc != CudaError.CUDA_SUCCESS) throw new CudaException(call, rc, errorName(rc), errorString(rc));
    }

    /** Status check without a driver (also used by tests): the name comes from the cuda.h table. */
    static void checkStatic(int rc, String call) {
        if (rc != CudaError.CUDA_SUCCESS) throw new CudaException(call, rc, CudaError.name(rc), null);
    }

    // ---------------------------------------------------------------- memory

    /**
     * {@code bytes} of device memory (managed memory when the context was opened so) from the caching
     * {@link DevicePool}, owned by an automatic arena: the returned segment's address is a device
     * pointer, never dereferenced on the host in DEVICE mode. When the segment and every slice of it
     * became unreachable the block goes back to the pool (at the next allocation or {@link #collect()}).
     */
    MemorySegment allocate(long bytes) { return allocateBlock(bytes).segment(); }

    /**
     * A pool block handed to one tensor: released once, by its scope or after the GC found it dead.
     * Its identity tells this allocation from a later one at the same address ({@link #liveBlocks}).
     */
    static final class Block {
        final long ptr;

        Block(long ptr) { this.ptr = ptr; }
    }

    /** The live block starting at {@code ptr} (a tensor storage's address), or null. */
    Block liveBlock(long ptr) { return liveBlocks.get(ptr); }

    /** A device allocation: the tensor storage segment and the block behind it. */
    record Allocation(MemorySegment segment, Block block) {}

    /** {@link #allocate} that also returns the block, for scopes to release it early ({@link #release}). */
    Allocation allocateBlock(long bytes) {
        collect();
        long ptr;
        synchronized (pool) {
            ptr = pool.allocate(bytes);
        }
        if (ptr == 0) {
            // out of memory: let the GC return dead tensors, hand the cached blocks back, retry once
            System.gc();
            try { Thread.sleep(50); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
            collect();
            releaseCached();
            synchronized (pool) {
                ptr = pool.allocate(bytes);
            }
            if (ptr == 0) check(lastAllocError, (managed ? "cuMemAllocManaged(" : "cuMemAlloc(") + DevicePool.sizeClass(bytes)
                    + " bytes for a " + bytes + "-byte tensor)");
        }
        Block b = new Block(ptr);
        liveBlocks.put(ptr, b);
        // the cleanup must not reach the segment (it would stay reachable): it holds the block only
        MemorySegment seg = MemorySegment.ofAddress(ptr).reinterpret(Math.max(bytes, 4), Arena.ofAuto(), s -> pendingFree.add(b));
        return new Allocation(seg, b);
    }

    /**
     * Returns a block to the pool now (a closing scope): its tensor must not be used again. Safe to
     * race with the GC's cleanup of the same block: whichever comes second does nothing.
     */
    void release(Block b) {
        if (closed) return;
        if (!pool.caching()) stream.synchronize(); // the block goes to cuMemFree: queued readers first
        synchronized (pool) {
            returnToPool(b);
        }
    }

    /** Gives b back to the pool unless it was already (it is live only while liveBlocks maps its address to it); holds the pool's lock. */
    private void returnToPool(Block b) {
        if (liveBlocks.remove(b.ptr, b)) pool.release(b.ptr);
    }

    private volatile int lastAllocError;

    /** cuMemAlloc for the pool: the pointer, or 0 with the CUresult kept for the error message. */
    private long driverAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pp = a.allocate(ValueLayout.JAVA_LONG);
            int rc = managed ? cu.cuMemAllocManaged(pp, bytes, CudaConstants.CU_MEM_ATTACH_GLOBAL) : cu.cuMemAlloc(pp, bytes);
            if (rc == CudaError.CUDA_ERROR_OUT_OF_MEMORY) { lastAllocError = rc; return 0; }
            check(rc, managed ? "cuMemAllocManaged(" + bytes + " bytes)" : "cuMemAlloc(" + bytes + " bytes)");
            return pp.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    private void driverFree(long ptr) {
        if (!closed) check(cu.cuMemFree(ptr), "cuMemFree");
    }

    /**
     * Returns the blocks of garbage-collected tensors to the pool. With the caching pool no
     * synchronisation is needed (see {@link DevicePool}); without it the stream is synchronized first,
     * since a tensor can become unreachable while a kernel that reads it is still queued.
     */
    public void collect() {
        if (pendingFree.isEmpty() || closed) return;
        if (!pool.caching()) stream.synchronize();
        Block b;
        synchronized (pool) {
            while ((b = pendingFree.poll()) != null) returnToPool(b); // a no-op where its scope released it already
        }
    }

    /** Hands every cached free block back to the driver (after a stream synchronize); returns the bytes freed. */
    public long releaseCached() {
        if (closed) return 0;
        makeCurrent();
        stream.synchronize();
        synchronized (pool) {
            return pool.releaseCached();
        }
    }

    /**
     * Whether {@code address} lies inside device memory a live tensor of this context holds. An
     * address inside a block that was already released (a tensor used after its {@code Scope}
     * closed) throws {@link IllegalStateException}: on a GPU the host would otherwise read it as host
     * memory, or a kernel would read another tensor's values.
     */
    public boolean isDevicePointer(long address) {
        DevicePool.State st;
        synchronized (pool) {
            st = pool.state(address);
        }
        if (st == DevicePool.State.RELEASED)
            throw new IllegalStateException("a device tensor (0x" + Long.toHexString(address)
                    + ") was used after its memory was released: kept out of a closed Scope without keep()?");
        return st == DevicePool.State.IN_USE;
    }

    /** Blocks held by live tensors (not yet garbage-collected and collected). */
    public long liveAllocations() { synchronized (pool) { return pool.inUseBlocks(); } }
    /** Bytes held by live tensors (block sizes). */
    public long liveBytes() { synchronized (pool) { return pool.inUseBytes(); } }
    /** Allocation requests so far (served from the pool or the driver). */
    public long totalAllocations() { synchronized (pool) { return pool.requests(); } }

    /**
     * Device memory figures: in use by tensors and reserved from the driver (in use + cached), now
     * and at their peak since {@link #resetPeakMemory}; driver allocations and frees so far.
     */
    public record MemoryStats(long inUseBytes, long peakInUseBytes, long reservedBytes, long peakReservedBytes,
                              long reservedBlocks, long requests, long driverAllocations, long driverFrees) {}

    public MemoryStats memoryStats() {
        collect();
        synchronized (pool) {
            return new MemoryStats(pool.inUseBytes(), pool.peakInUseBytes(), pool.reservedBytes(), pool.peakReservedBytes(),
                    pool.reservedBlocks(), pool.requests(), pool.driverAllocations(), pool.driverFrees());
        }
    }

    /** Starts a new peak-memory window (benchmarks: one per measured run). */
    public void resetPeakMemory() {
        collect();
        synchronized (pool) { pool.resetPeaks(); }
    }

    /** Explicit resources (streams, events, graphs, buffers) still open, by kind. */
    public Map<String, Long> liveResources() {
        Map<String, Long> m = new HashMap<>();
        resources.forEach((k, v) -> { if (v.get() != 0) m.put(k, v.get()); });
        return m;
    }

    void opened(String kind) { resources.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet(); }
    void closedResource(String kind) { resources.computeIfAbsent(kind, k -> new AtomicLong()).decrementAndGet(); }

    /** Free and total device memory (cuMemGetInfo). */
    public long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(ValueLayout.JAVA_LONG), t = a.allocate(ValueLayout.JAVA_LONG);
            check(cu.cuMemGetInfo(f, t), "cuMemGetInfo");
            return new long[] {f.get(ValueLayout.JAVA_LONG, 0), t.get(ValueLayout.JAVA_LONG, 0)};
        }
    }

    void copyHtoD(long dst, MemorySegment src, long bytes) {
        makeCurrent();
        check(cu.cuMemcpyHtoDAsync(dst, src, bytes, stream.handle()), "cuMemcpyHtoDAsync");
        stream.synchronize(); // pageable host memory: the source may be freed right after we return
    }

    void copyDtoH(MemorySegment dst, long src, long bytes) {
        makeCurrent();
        check(cu.cuMemcpyDtoHAsync(dst, src, bytes, stream.handle()), "cuMemcpyDtoHAsync");
        stream.synchronize();
    }

    void copyDtoD(long dst, long src, long bytes) {
        makeCurrent();
        check(cu.cuMemcpyDtoDAsync(dst, src, bytes, stream.handle()), "cuMemcpyDtoDAsync");
    }

    void zero(long dst, long bytes) {
        check(cu.cuMemsetD8Async(dst, (byte) 0, bytes, stream.handle()), "cuMemsetD8Async");
    }

    // ---------------------------------------------------------------- modules and launches

    /** Whether the jar carries compiled kernels (BUILD-INFO not "skipped"). */
    static String kernelsMissingReason() {
        try (InputStream in = CudaContext.class.getResourceAsStream("/dev/infinityj/cuda/kernels/BUILD-INFO")) {
            if (in == null) return "no CUDA kernels in this build (infinityj-cuda-kernels resources missing)";
            String info = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (info.startsWith("skipped")) return "no CUDA kernels in this build (" + info.strip() + ")";
            return null;
        } catch (IOException e) {
            return "CUDA kernels unreadable: " + e.getMessage();
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = CudaContext.class.getResourceAsStream("/dev/infinityj/cuda/kernels/" + name)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    /** Loads a module: the fatbin (SASS for sm_80/86/89/90 + PTX) first, the compute_80 PTX if that fails. */
    synchronized MemorySegment module(String name) {
        MemorySegment m = modules.get(name);
        if (m != null) return m;
        byte[] fat = resource(name + ".fatbin"), ptx = resource(name + ".ptx");
        if (fat == null && ptx == null) throw new CudaUnavailableException("kernel module " + name + " is not in the jar");
        CudaException first = null;
        for (byte[] image : new byte[][] {fat, ptx}) {
            if (image == null) continue;
            try {
                m = loadImage(name, image);
                break;
            } catch (CudaException e) {
                if (first == null) first = e;
            }
        }
        if (m == null) throw first;
        modules.put(name, m);
        opened("module");
        return m;
    }

    private MemorySegment loadImage(String name, byte[] image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 1L); // NUL-terminated for PTX text
            MemorySegment.copy(image, 0, img, ValueLayout.JAVA_BYTE, 0, image.length);
            int logSize = 8192;
            MemorySegment log = a.allocate(logSize);
            MemorySegment opts = a.allocateFrom(ValueLayout.JAVA_INT, CudaConstants.CU_JIT_ERROR_LOG_BUFFER, CudaConstants.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
            MemorySegment vals = a.allocate(ValueLayout.ADDRESS, 2);
            vals.setAtIndex(ValueLayout.ADDRESS, 0, log);
            vals.setAtIndex(ValueLayout.ADDRESS, 1, MemorySegment.ofAddress(logSize));
            MemorySegment pm = a.allocate(ValueLayout.ADDRESS);
            int rc = cu.cuModuleLoadDataEx(pm, img, 2, opts, vals);
            if (rc != 0) {
                String jit = log.getString(0).strip().replace('\n', ' ');
                throw new CudaException("cuModuleLoadDataEx(" + name + ")", rc, errorName(rc), jit.isEmpty() ? errorString(rc) : jit);
            }
            return pm.get(ValueLayout.ADDRESS, 0);
        }
    }

    MemorySegment function(String kernel) {
        MemorySegment f = functions.get(kernel);
        if (f != null) return f;
        String mod = Kernels.MODULE.get(kernel);
        if (mod == null) throw new IllegalArgumentException("unknown kernel " + kernel);
        MemorySegment m = module(mod);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pf = a.allocate(ValueLayout.ADDRESS);
            check(cu.cuModuleGetFunction(pf, m, a.allocateFrom(kernel)), "cuModuleGetFunction(" + kernel + ")");
            f = pf.get(ValueLayout.ADDRESS, 0);
        }
        functions.put(kernel, f);
        return f;
    }

    /**
     * Launches {@code kernel} on the context's stream. {@code args} follow {@link Kernels#SIGNATURE}:
     * a {@code p} argument is a {@link MemorySegment} (its address; NULL for null pointers) or a Long,
     * {@code l} a Long, {@code i} an Integer, {@code f} a Float, {@code S} a 168-byte MemorySegment.
     */
    public void launch(String kernel, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, Object... args) {
        String sig = Kernels.SIGNATURE.get(kernel);
        if (sig == null) throw new IllegalArgumentException("unknown kernel " + kernel);
        if (sig.length() != args.length)
            throw new IllegalArgumentException(kernel + ": " + args.length + " arguments for signature " + sig);
        makeCurrent(); // the calling thread may not have the context yet
        MemorySegment f = function(kernel);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(ValueLayout.ADDRESS, args.length);
            for (int i = 0; i < args.length; i++) {
                Object v = args[i];
                MemorySegment slot;
                switch (sig.charAt(i)) {
                    case 'p' -> {
                        long addr = v == null ? 0 : v instanceof MemorySegment s ? s.address() : (Long) v;
                        slot = a.allocateFrom(ValueLayout.JAVA_LONG, addr);
                    }
                    case 'l' -> slot = a.allocateFrom(ValueLayout.JAVA_LONG, (Long) v);
                    case 'i' -> slot = a.allocateFrom(ValueLayout.JAVA_INT, (Integer) v);
                    case 'f' -> slot = a.allocateFrom(ValueLayout.JAVA_FLOAT, (Float) v);
                    case 'S' -> {
                        MemorySegment s = (MemorySegment) v;
                        if (s.byteSize() != Kernels.STRIDED6_BYTES) throw new IllegalArgumentException(kernel + ": struct of " + s.byteSize() + " bytes");
                        slot = a.allocate(s.byteSize(), 8);
                        slot.copyFrom(s);
                    }
                    default -> throw new IllegalStateException("bad signature " + sig);
                }
                params.setAtIndex(ValueLayout.ADDRESS, i, slot);
            }
            check(cu.cuLaunchKernel(f, gx, gy, gz, bx, by, bz, sharedBytes, stream.handle(), params, MemorySegment.NULL),
                    "cuLaunchKernel(" + kernel + ")");
        }
        if (managed) stream.synchronize(); // host code may read managed tensors directly
    }

    /** A 1-D launch over {@code n} elements with 256 threads per block (grid capped; kernels grid-stride). */
    public void launch1d(String kernel, long n, Object... args) {
        long blocks = Math.max(1, Math.min((n + 255) / 256, 65535L * 8));
        launch(kernel, (int) blocks, 1, 1, 256, 1, 1, 0, args);
    }

    public void synchronize() { makeCurrent(); stream.synchronize(); }

    @Override
    public synchronized void close() {
        if (closed) return;
        try {
            makeCurrent();
            stream.synchronize();
            collect();
            synchronized (pool) { pool.releaseAll(); }
            for (MemorySegment m : modules.values()) { check(cu.cuModuleUnload(m), "cuModuleUnload"); closedResource("module"); }
            modules.clear();
            functions.clear();
            stream.close();
        } finally {
            closed = true;
            check(cu.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
            arena.close();
        }
    }

    /** Opens the driver through {@link CudaLibraries} (helper for {@link CudaBackend}). */
    static CudaDriver openDriver(List<java.nio.file.Path> cudaLib) throws CudaLibraries.NotFoundException {
        return CudaLibraries.openDriver(CudaLibraries.Search.system(cudaLib));
    }
}
