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
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One device's primary context with everything the CUDA backend owns on it: a stream, the kernel
 * modules, and the device allocations. AutoCloseable: {@link #close()} frees what is still allocated,
 * unloads the modules, destroys the stream and releases the primary context.
 *
 * <p>Lifetimes. Explicit resources ({@link DeviceBuffer}, {@link PinnedBuffer}, {@link CudaStream},
 * {@link CudaEvent}, {@link CudaGraph}) are AutoCloseable. Tensors the backend hands out own their
 * device memory through an automatic arena: when no tensor (or view) references the storage any more,
 * the GC's cleanup queues the pointer and the next allocation (or {@link #collect()}) frees it on an
 * owning thread, never on the cleaner thread. {@link #liveAllocations()} and {@link #liveBytes()} count
 * what is outstanding; the leak test runs a thousand generations against them.
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
    private final ConcurrentSkipListMap<Long, Long> live = new ConcurrentSkipListMap<>();
    private final ConcurrentLinkedQueue<Long> pendingFree = new ConcurrentLinkedQueue<>();
    private final AtomicLong liveBytes = new AtomicLong(), totalAllocations = new AtomicLong();
    private final Map<String, AtomicLong> resources = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** Opens device {@code ordinal}: cuInit, primary context, a non-blocking stream. */
    CudaContext(CudaDriver cu, int ordinal, boolean managed) {
        this.cu = cu;
        this.managed = managed;
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
     * {@code bytes} of device memory (managed memory when the context was opened so) owned by an
     * automatic arena: the returned segment's address is a device pointer, never dereferenced on the
     * host in DEVICE mode. Freed after the segment and every slice of it became unreachable.
     */
    MemorySegment allocate(long bytes) {
        collect();
        long n = Math.max(bytes, 4);
        long ptr;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pp = a.allocate(ValueLayout.JAVA_LONG);
            int rc = managed ? cu.cuMemAllocManaged(pp, n, CudaConstants.CU_MEM_ATTACH_GLOBAL) : cu.cuMemAlloc(pp, n);
            if (rc == CudaError.CUDA_ERROR_OUT_OF_MEMORY) {
                // give the GC a chance to release dead tensors, then retry once
                System.gc();
                try { Thread.sleep(50); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
                collect();
                rc = managed ? cu.cuMemAllocManaged(pp, n, CudaConstants.CU_MEM_ATTACH_GLOBAL) : cu.cuMemAlloc(pp, n);
            }
            check(rc, managed ? "cuMemAllocManaged(" + n + " bytes)" : "cuMemAlloc(" + n + " bytes)");
            ptr = pp.get(ValueLayout.JAVA_LONG, 0);
        }
        live.put(ptr, n);
        liveBytes.addAndGet(n);
        totalAllocations.incrementAndGet();
        final long p = ptr;
        return MemorySegment.ofAddress(ptr).reinterpret(n, Arena.ofAuto(), s -> pendingFree.add(p));
    }

    /**
     * Frees device memory whose tensors were garbage-collected. The stream is synchronized first:
     * a tensor can become unreachable while a kernel that reads it is still queued.
     */
    public void collect() {
        if (pendingFree.isEmpty() || closed) return;
        stream.synchronize();
        Long p;
        while ((p = pendingFree.poll()) != null) free(p);
    }

    void free(long ptr) {
        Long n = live.remove(ptr);
        if (n == null || closed) return;
        liveBytes.addAndGet(-n);
        check(cu.cuMemFree(ptr), "cuMemFree");
    }

    /** Whether {@code address} lies inside a live allocation of this context. */
    public boolean isDevicePointer(long address) {
        Map.Entry<Long, Long> e = live.floorEntry(address);
        return e != null && address < e.getKey() + e.getValue();
    }

    public long liveAllocations() { return live.size(); }
    public long liveBytes() { return liveBytes.get(); }
    public long totalAllocations() { return totalAllocations.get(); }

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
            for (Long p : List.copyOf(live.keySet())) free(p);
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
