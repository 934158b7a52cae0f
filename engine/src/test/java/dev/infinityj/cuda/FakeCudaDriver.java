package dev.infinityj.cuda;

import dev.infinityj.bindings.cuda.CudaDriver;
import dev.infinityj.bindings.cuda.NativeLibraries;
import dev.infinityj.sampling.Philox;
import dev.infinityj.tensor.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A libcuda made of FFM upcall stubs, so the whole CUDA backend runs without a GPU: "device" memory is
 * host memory, copies are memcpy, modules and functions are handles, and cuLaunchKernel records the
 * kernel, checks every pointer argument lies in a live allocation, and emulates a few simple kernels
 * in Java (transcribed from the .cu sources) so argument values can be checked too. Errors inside an
 * upcall are recorded (an exception escaping an upcall would kill the JVM) and returned as
 * CUDA_ERROR_UNKNOWN; tests assert {@link #errors} is empty.
 */
@SuppressWarnings("restricted") // FFM: device pointers and driver-owned strings are reinterpreted on purpose
final class FakeCudaDriver {
    private final Arena arena = Arena.ofShared();
    private final Map<String, MemorySegment> stubs = new HashMap<>();
    final ConcurrentSkipListMap<Long, MemorySegment> mem = new ConcurrentSkipListMap<>();
    final Map<Long, String> functions = Collections.synchronizedMap(new HashMap<>());
    final List<String> launches = Collections.synchronizedList(new ArrayList<>());
    final List<String> errors = Collections.synchronizedList(new ArrayList<>());
    final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    volatile int failAllocWith;
    /**
     * Dry run (set before the backend opens): allocations are address ranges without memory, copies and
     * kernels only check their ranges and pointers. For allocation accounting of shapes too large to
     * hold or emulate; values read back are meaningless.
     */
    volatile boolean dryRun;
    /** Bytes held from cuMemAlloc now and at most so far. */
    long liveBytes, peakBytes;
    private long dryNext = 1L << 44;

    private synchronized long nextDryAddress(long n) {
        long p = dryNext;
        dryNext += (n + 4095) / 4096 * 4096 + 4096;
        return p;
    }
    long allocs, frees, modulesLoaded, modulesUnloaded, primaryRetained, primaryReleased;
    private long nextHandle = 0x1000;

    FakeCudaDriver() throws ReflectiveOperationException {
        MethodHandle call = MethodHandles.lookup().findVirtual(FakeCudaDriver.class, "call",
                MethodType.methodType(int.class, String.class, Object[].class));
        for (NativeLibraries.Symbol s : CudaDriver.SYMBOLS) {
            MethodHandle h = MethodHandles.insertArguments(call, 0, this, s.headerName())
                    .asCollector(Object[].class, s.parameterCount())
                    .asType(s.descriptor().toMethodType());
            stubs.put(s.symbol(), Linker.nativeLinker().upcallStub(h, s.descriptor(), arena));
        }
    }

    CudaDriver driver() {
        SymbolLookup l = name -> Optional.ofNullable(stubs.get(name));
        return new CudaDriver(l);
    }

    private static MemorySegment at(Object p, long bytes) { return ((MemorySegment) p).reinterpret(bytes); }

    private synchronized long handle() { return nextHandle += 0x10; }

    MemorySegment dev(long ptr, long bytes) {
        var e = mem.floorEntry(ptr);
        if (e == null || ptr + bytes > e.getKey() + e.getValue().byteSize())
            throw new IllegalStateException("device range 0x" + Long.toHexString(ptr) + "+" + bytes + " is not allocated");
        return e.getValue().asSlice(ptr - e.getKey(), bytes);
    }

    boolean live(long ptr) {
        var e = mem.floorEntry(ptr);
        return e != null && ptr < e.getKey() + e.getValue().byteSize();
    }

    @SuppressWarnings("unused") // called through the upcall stubs
    private int call(String name, Object[] a) {
        try {
            calls.add(name);
            return dispatch(name, a);
        } catch (Throwable t) {
            errors.add(name + ": " + t);
            return 999;
        }
    }

    private int dispatch(String name, Object[] a) {
        if (dryRun && (name.startsWith("cuMemcpy") || name.equals("cuMemsetD8Async"))) {
            // ranges checked, nothing moved
            long n = (Long) a[2];
            if (!name.startsWith("cuMemcpyDtoH")) dev((Long) a[0], n);
            if (name.startsWith("cuMemcpyDtoH") || name.startsWith("cuMemcpyDtoD")) dev((Long) a[1], n);
            return 0;
        }
        switch (name) {
            case "cuInit", "cuCtxSetCurrent", "cuStreamSynchronize", "cuCtxSynchronize", "cuEventRecord",
                 "cuEventSynchronize", "cuStreamDestroy", "cuEventDestroy", "cuGraphLaunch", "cuGraphExecDestroy",
                 "cuGraphDestroy", "cuFuncSetAttribute" -> { return 0; }
            case "cuGetErrorName", "cuGetErrorString" -> { return 1; } // the backend falls back to its table
            case "cuDriverGetVersion" -> { at(a[0], 4).set(ValueLayout.JAVA_INT, 0, 13000); return 0; }
            case "cuDeviceGetCount" -> { at(a[0], 4).set(ValueLayout.JAVA_INT, 0, 1); return 0; }
            case "cuDeviceGet" -> { at(a[0], 4).set(ValueLayout.JAVA_INT, 0, (Integer) a[1]); return 0; }
            case "cuDeviceGetName" -> { at(a[0], 64).setString(0, "Fake GPU"); return 0; }
            case "cuDeviceGetAttribute" -> {
                int attr = (Integer) a[1];
                at(a[0], 4).set(ValueLayout.JAVA_INT, 0, attr == 75 ? 9 : 0);
                return 0;
            }
            case "cuDevicePrimaryCtxRetain" -> { primaryRetained++; at(a[0], 8).set(ValueLayout.JAVA_LONG, 0, handle()); return 0; }
            case "cuDevicePrimaryCtxRelease" -> { primaryReleased++; return 0; }
            case "cuStreamCreate", "cuEventCreate" -> { at(a[0], 8).set(ValueLayout.JAVA_LONG, 0, handle()); return 0; }
            case "cuMemAlloc", "cuMemAllocManaged" -> {
                if (failAllocWith != 0) return failAllocWith;
                long n = (Long) a[1];
                // dry run: an address range with no memory behind it (never touched: copies and kernels are skipped)
                MemorySegment s = dryRun ? MemorySegment.ofAddress(nextDryAddress(n)).reinterpret(n) : arena.allocate(n, 256);
                mem.put(s.address(), s);
                allocs++;
                liveBytes += n;
                peakBytes = Math.max(peakBytes, liveBytes);
                at(a[0], 8).set(ValueLayout.JAVA_LONG, 0, s.address());
                return 0;
            }
            case "cuMemFree" -> {
                MemorySegment gone = mem.remove((Long) a[0]);
                if (gone == null) throw new IllegalStateException("cuMemFree of unknown pointer");
                liveBytes -= gone.byteSize();
                freeGen++;
                frees++;
                return 0;
            }
            case "cuMemcpyHtoD", "cuMemcpyHtoDAsync" -> {
                long n = (Long) a[2];
                MemorySegment.copy(at(a[1], n), 0, dev((Long) a[0], n), 0, n);
                return 0;
            }
            case "cuMemcpyDtoH", "cuMemcpyDtoHAsync" -> {
                long n = (Long) a[2];
                MemorySegment.copy(dev((Long) a[1], n), 0, at(a[0], n), 0, n);
                return 0;
            }
            case "cuMemcpyDtoD", "cuMemcpyDtoDAsync" -> {
                long n = (Long) a[2];
                MemorySegment.copy(dev((Long) a[1], n), 0, dev((Long) a[0], n), 0, n);
                return 0;
            }
            case "cuMemsetD8Async" -> { dev((Long) a[0], (Long) a[2]).fill((Byte) a[1]); return 0; }
            case "cuModuleLoadDataEx", "cuModuleLoadData" -> {
                MemorySegment img = at(a[1], 8);
                int magic = img.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
                boolean ptx = img.getString(0).startsWith("//");
                if (magic != 0xBA55ED50 && !ptx) throw new IllegalStateException("module image is neither fatbin nor PTX");
                modulesLoaded++;
                at(a[0], 8).set(ValueLayout.JAVA_LONG, 0, handle());
                return 0;
            }
            case "cuModuleUnload" -> { modulesUnloaded++; return 0; }
            case "cuModuleGetFunction" -> {
                String fn = at(a[2], 256).getString(0);
                if (!Kernels.SIGNATURE.containsKey(fn)) return 500; // CUDA_ERROR_NOT_FOUND
                long h = handle();
                functions.put(h, fn);
                at(a[0], 8).set(ValueLayout.JAVA_LONG, 0, h);
                return 0;
            }
            case "cuLaunchKernel" -> { launch(a); return 0; }
            default -> throw new UnsupportedOperationException(name + " is not faked");
        }
    }

    private void launch(Object[] a) {
        String k = functions.get(((MemorySegment) a[0]).address());
        if (k == null) throw new IllegalStateException("launch of an unknown function");
        String sig = Kernels.SIGNATURE.get(k);
        MemorySegment params = at(a[9], 8L * sig.length());
        Object[] v = new Object[sig.length()];
        for (int i = 0; i < sig.length(); i++) {
            MemorySegment slot = params.getAtIndex(ValueLayout.ADDRESS, i);
            switch (sig.charAt(i)) {
                case 'p' -> {
                    long p = slot.reinterpret(8).get(ValueLayout.JAVA_LONG, 0);
                    if (p != 0 && !live(p)) throw new IllegalStateException(k + " argument " + i + ": 0x" + Long.toHexString(p) + " is not device memory");
                    v[i] = p;
                }
                case 'l' -> v[i] = slot.reinterpret(8).get(ValueLayout.JAVA_LONG, 0);
                case 'i' -> v[i] = slot.reinterpret(4).get(ValueLayout.JAVA_INT, 0);
                case 'f' -> v[i] = slot.reinterpret(4).get(ValueLayout.JAVA_FLOAT, 0);
                case 'S' -> v[i] = slot.reinterpret(Kernels.STRIDED6_BYTES);
                default -> throw new IllegalStateException();
            }
        }
        launches.add(k);
        grid = new int[] {(Integer) a[1], (Integer) a[2], (Integer) a[3]};
        block = new int[] {(Integer) a[4], (Integer) a[5], (Integer) a[6]};
        if (!dryRun) emulate(k, v);
    }

    private MemorySegment f32(Object p, long n) { return dev((Long) p, n * 4); }

    private int[] grid, block;

    // the last few allocations an element access resolved (a kernel touches a handful of buffers; a
    // skip-list lookup and a slice per element made the fixture runs minutes long)
    private final long[] cacheLo = new long[4], cacheHi = new long[4];
    private final MemorySegment[] cacheSeg = new MemorySegment[4];
    private int cacheNext;
    private long cacheGen;
    private volatile long freeGen; // bumped by cuMemFree: a freed allocation leaves the cache

    /** The allocation holding [ptr, ptr + bytes), through the small cache; throws outside live memory. */
    private int slot(long ptr, long bytes) {
        long g = freeGen;
        if (g != cacheGen) { java.util.Arrays.fill(cacheSeg, null); cacheGen = g; }
        for (int i = 0; i < 4; i++)
            if (cacheSeg[i] != null && ptr >= cacheLo[i] && ptr + bytes <= cacheHi[i]) return i;
        var e = mem.floorEntry(ptr);
        if (e == null || ptr + bytes > e.getKey() + e.getValue().byteSize())
            throw new IllegalStateException("device range 0x" + Long.toHexString(ptr) + "+" + bytes + " is not allocated");
        int i = cacheNext++ & 3;
        cacheLo[i] = e.getKey();
        cacheHi[i] = e.getKey() + e.getValue().byteSize();
        cacheSeg[i] = e.getValue();
        return i;
    }

    private float rf(Object p, long i) {
        long a = (Long) p + i * 4;
        int s = slot(a, 4);
        return cacheSeg[s].get(ValueLayout.JAVA_FLOAT, a - cacheLo[s]);
    }

    private void wf(Object p, long i, float x) {
        long a = (Long) p + i * 4;
        int s = slot(a, 4);
        cacheSeg[s].set(ValueLayout.JAVA_FLOAT, a - cacheLo[s], x);
    }

    /** n floats at device pointer p, copied out (the array-based transcriptions read their inputs so). */
    private float[] floats(Object p, long n) {
        float[] a = new float[Math.toIntExact(n)];
        if (n > 0) MemorySegment.copy(dev((Long) p, n * 4), ValueLayout.JAVA_FLOAT, 0, a, 0, a.length);
        return a;
    }

    /** The floats from p to the end of its allocation: what a strided view starting at p can reach. */
    private float[] span(Object p) {
        long ptr = (Long) p;
        int s = slot(ptr, 0);
        return floats(p, (cacheHi[s] - ptr) / 4);
    }

    /** Writes a back to device pointer p. */
    private void store(Object p, float[] a) {
        if (a.length > 0) MemorySegment.copy(a, 0, dev((Long) p, 4L * a.length), ValueLayout.JAVA_FLOAT, 0, a.length);
    }

    /** n weights of a GEMM / conv kernel widened to float (F32, BF16 or F16 by kernel name). */
    private float[] weights(String k, Object p, long n) {
        if (k.endsWith("_f32")) return floats(p, n);
        short[] h = new short[Math.toIntExact(n)];
        if (n > 0) MemorySegment.copy(dev((Long) p, n * 2), ValueLayout.JAVA_SHORT, 0, h, 0, h.length);
        float[] a = new float[h.length];
        boolean bf = k.endsWith("_bf16");
        for (int i = 0; i < h.length; i++) a[i] = bf ? DType.bf16ToF32(h[i]) : Float.float16ToFloat(h[i]);
        return a;
    }
    private static boolean nul(Object p) { return (Long) p == 0; }
    private static long L(Object o) { return (Long) o; }
    private static int I(Object o) { return (Integer) o; }
    private static float F(Object o) { return (Float) o; }

    private static float act(float z, int act) {
        return switch (act) {
            case 1 -> (float) (0.5 * z * (1.0 + Math.tanh(0.7978845608028654 * (z + 0.044715 * (double) z * z * z))));
            case 2 -> (float) (0.5 * z * (1.0 + dev.infinityj.backend.NaiveBackend.erf(z / 1.4142135623730951)));
            case 3 -> (float) (z / (1.0 + Math.exp(-(double) z)));
            case 4 -> Math.max(z, 0f);
            default -> z;
        };
    }

    /** Java transcriptions of the remaining kernels (fp32/double as in the .cu sources). */
    private boolean emulateMore(String k, Object[] v) {
        switch (k) {
            case "gemm_xwT_f32", "gemm_xwT_bf16", "gemm_xwT_f16" -> gemmXwT(k, v);
            case "bmm_f32" -> bmm(v);
            case "layer_norm_f32" -> {
                // norm.cu layer_norm_f32: one block per row (rows past the grid stay unwritten); the
                // block_sum_d reductions are sums in double, taken here in index order
                long rows = L(v[6]); int cols = I(v[7]); float eps = F(v[8]);
                long n = Math.min(rows, grid[0]);
                float[] x = floats(v[0], rows * cols), y = floats(v[1], rows * cols);
                float[] w = nul(v[2]) ? null : floats(v[2], cols), b = nul(v[3]) ? null : floats(v[3], cols);
                float[] sc = nul(v[4]) ? null : floats(v[4], cols), sh = nul(v[4]) ? null : floats(v[5], cols);
                for (long r = 0; r < n; r++) {
                    int o0 = (int) (r * cols);
                    double s = 0, var = 0;
                    for (int j = 0; j < cols; j++) s += x[o0 + j];
                    double mean = s / cols;
                    for (int j = 0; j < cols; j++) { double d = x[o0 + j] - mean; var += d * d; }
                    double inv = 1.0 / Math.sqrt(var / cols + eps);
                    for (int j = 0; j < cols; j++) {
                        float o = (float) ((x[o0 + j] - mean) * inv);
                        if (w != null) o *= w[j];
                        if (b != null) o += b[j];
                        if (sc != null) o = o * (1f + sc[j]) + sh[j];
                        y[o0 + j] = o;
                    }
                }
                store(v[1], y);
            }
            case "rms_norm_f32" -> {
                // norm.cu rms_norm_f32: one block per row, sum of squares in double
                long rows = L(v[3]); int cols = I(v[4]); float eps = F(v[5]);
                long n = Math.min(rows, grid[0]);
                float[] x = floats(v[0], rows * cols), y = floats(v[1], rows * cols), w = nul(v[2]) ? null : floats(v[2], cols);
                for (long r = 0; r < n; r++) {
                    int o0 = (int) (r * cols);
                    double s = 0;
                    for (int j = 0; j < cols; j++) { double q = x[o0 + j]; s += q * q; }
                    double inv = 1.0 / Math.sqrt(s / cols + eps);
                    for (int j = 0; j < cols; j++) {
                        float o = (float) (x[o0 + j] * inv);
                        if (w != null) o *= w[j];
                        y[o0 + j] = o;
                    }
                }
                store(v[1], y);
            }
            case "softmax_f32" -> {
                // norm.cu softmax_f32: one block per row, fp32 max, exp and sum in double
                long rows = L(v[2]); int cols = I(v[3]);
                long n = Math.min(rows, grid[0]);
                float[] x = floats(v[0], rows * cols), y = floats(v[1], rows * cols);
                for (long r = 0; r < n; r++) {
                    int o0 = (int) (r * cols);
                    float m = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < cols; j++) m = Math.max(m, x[o0 + j]);
                    double s = 0;
                    for (int j = 0; j < cols; j++) s += Math.exp((double) (x[o0 + j] - m));
                    for (int j = 0; j < cols; j++) y[o0 + j] = (float) (Math.exp((double) (x[o0 + j] - m)) / s);
                }
                store(v[1], y);
            }
            case "head_l2_normalize_f32" -> {
                // norm.cu head_l2_normalize_f32: one warp per (l, h) row, rows = (blockIdx·blockDim + t) >> 5
                long Lr = L(v[3]); int H = I(v[4]), D = I(v[5]); long sL = L(v[6]), sH = L(v[7]); float eps = F(v[8]);
                long rowsN = Math.min(Lr * H, (long) grid[0] * block[0] / 32);
                float[] x = span(v[0]), y = floats(v[1], Lr * H * D), hs = nul(v[2]) ? null : floats(v[2], H);
                for (long row = 0; row < rowsN; row++) {
                    long l = row / H; int h = (int) (row % H);
                    int base = Math.toIntExact(l * sL + h * sH);
                    double ss = 0;
                    for (int p = 0; p < D; p++) { double q = x[base + p]; ss += q * q; }
                    float inv = 1f / Math.max((float) Math.sqrt(ss), eps), m = hs == null ? 1f : hs[h];
                    for (int p = 0; p < D; p++) y[(int) (row * D + p)] = x[base + p] * inv * m;
                }
                store(v[1], y);
            }
            case "group_norm_stats_f32" -> {
                // norm.cu group_norm_stats_f32: one block per group, sums in double
                int groups = I(v[2]); long per = L(v[3]); float eps = F(v[4]);
                float[] x = floats(v[0], groups * per), st = floats(v[1], 2L * groups);
                for (int g = 0; g < Math.min(groups, grid[0]); g++) {
                    double s = 0, var = 0;
                    for (long i = 0; i < per; i++) s += x[(int) (g * per + i)];
                    double mean = s / per;
                    for (long i = 0; i < per; i++) { double d = x[(int) (g * per + i)] - mean; var += d * d; }
                    st[2 * g] = (float) mean;
                    st[2 * g + 1] = (float) (1.0 / Math.sqrt(var / per + eps));
                }
                store(v[1], st);
            }
            case "group_norm_apply_f32" -> {
                // norm.cu group_norm_apply_f32 (grid-stride: every element whatever the grid)
                int C = I(v[5]), groups = I(v[7]), silu = I(v[8]); long HW = L(v[6]);
                int cg = C / groups;
                float[] x = floats(v[0], C * HW), y = new float[x.length], st = floats(v[2], 2L * groups);
                float[] w = nul(v[3]) ? null : floats(v[3], C), b = nul(v[4]) ? null : floats(v[4], C);
                for (int i = 0; i < x.length; i++) {
                    int c = (int) (i / HW), g = c / cg;
                    float q = (x[i] - st[2 * g]) * st[2 * g + 1];
                    if (w != null) q *= w[c];
                    if (b != null) q += b[c];
                    if (silu != 0) q = q / (1f + (float) Math.exp(-q));
                    y[i] = q;
                }
                store(v[1], y);
            }
            case "bias_act_f32" -> {
                long n = L(v[3]); int cols = I(v[4]), a = I(v[5]);
                for (long i = 0; i < n; i++) {
                    float z = rf(v[0], i);
                    if (!nul(v[1])) z += rf(v[1], i % cols);
                    wf(v[2], i, act(z, a));
                }
            }
            case "f32_to_bf16" -> {
                long n = L(v[2]);
                for (long i = 0; i < n; i++) dev(L(v[1]) + 2 * i, 2).set(ValueLayout.JAVA_SHORT, 0, DType.f32ToBf16(rf(v[0], i)));
            }
            case "f16_to_f32" -> {
                long n = L(v[2]);
                for (long i = 0; i < n; i++) wf(v[1], i, Float.float16ToFloat(dev(L(v[0]) + 2 * i, 2).get(ValueLayout.JAVA_SHORT, 0)));
            }
            case "rope_interleaved_f32" -> {
                long Lr = L(v[3]); int H = I(v[4]), D = I(v[5]), half = D / 2;
                for (long i = 0; i < Lr * H * half; i++) {
                    long p = i % half, th = i / half, t = th / H, at = th * D + 2 * p;
                    float x0 = rf(v[0], at), x1 = rf(v[0], at + 1), c = rf(v[1], t * half + p), s = rf(v[2], t * half + p);
                    wf(v[0], at, x0 * c - x1 * s);
                    wf(v[0], at + 1, x0 * s + x1 * c);
                }
            }
            case "bilinear_f32", "nearest_f32" -> {
                int C = I(v[2]), ih = I(v[3]), iw = I(v[4]), oh = I(v[5]), ow = I(v[6]), flag = I(v[7]);
                float sh = (float) ih / oh, sw = (float) iw / ow;
                for (long i = 0; i < (long) C * oh * ow; i++) {
                    int xx = (int) (i % ow), yy = (int) ((i / ow) % oh);
                    long c = i / ((long) oh * ow), b = c * ih * iw;
                    if (k.equals("nearest_f32")) {
                        int sy = Math.min((int) Math.floor(flag != 0 ? (yy + 0.5f) * sh : yy * sh), ih - 1);
                        int sx = Math.min((int) Math.floor(flag != 0 ? (xx + 0.5f) * sw : xx * sw), iw - 1);
                        wf(v[1], i, rf(v[0], b + (long) sy * iw + sx));
                        continue;
                    }
                    float sy = Math.max(sh * (yy + 0.5f) - 0.5f, 0f);
                    int y0 = (int) sy, y1 = Math.min(y0 + 1, ih - 1);
                    float ly = sy - y0, hy = 1f - ly;
                    float sx = Math.max(sw * (xx + 0.5f) - 0.5f, 0f);
                    int x0 = (int) sx, x1 = Math.min(x0 + 1, iw - 1);
                    float lx = sx - x0, hx = 1f - lx;
                    float val = hy * (hx * rf(v[0], b + (long) y0 * iw + x0) + lx * rf(v[0], b + (long) y0 * iw + x1))
                            + ly * (hx * rf(v[0], b + (long) y1 * iw + x0) + lx * rf(v[0], b + (long) y1 * iw + x1));
                    wf(v[1], i, flag != 0 ? rf(v[1], i) + val : val);
                }
            }
            case "conv2d_f32" -> {
                // gemm.cu conv2d_f32: one thread per output (grid-stride), bias first, then ic, dy, dx;
                // acc += x·w as nvcc contracts it (FMA)
                int C = I(v[4]), H = I(v[5]), W = I(v[6]), O = I(v[7]), kh = I(v[8]), kw = I(v[9]), st = I(v[10]), pad = I(v[11]), Ho = I(v[12]), Wo = I(v[13]);
                float[] x = floats(v[0], (long) C * H * W), w = floats(v[1], (long) O * C * kh * kw), b = nul(v[2]) ? null : floats(v[2], O);
                float[] y = new float[Math.toIntExact((long) O * Ho * Wo)];
                for (int i = 0; i < y.length; i++) {
                    int ox = i % Wo, oy = (i / Wo) % Ho, oc = i / (Ho * Wo);
                    float acc = b == null ? 0f : b[oc];
                    for (int ic = 0; ic < C; ic++)
                        for (int dy = 0; dy < kh; dy++) {
                            int iy = oy * st - pad + dy;
                            if (iy < 0 || iy >= H) continue;
                            int xr = (ic * H + iy) * W, wr = ((oc * C + ic) * kh + dy) * kw;
                            for (int dx = 0; dx < kw; dx++) {
                                int ix = ox * st - pad + dx;
                                if (ix < 0 || ix >= W) continue;
                                acc = Math.fma(x[xr + ix], w[wr + dx], acc);
                            }
                        }
                    y[i] = acc;
                }
                store(v[3], y);
            }
            case "attention_f32" -> attentionWarp(v);
            case "flash_attention_f32", "flash_attention_bf16" -> flashAttention(k.endsWith("bf16"), v);
            case "flash_attention_mma_bf16" -> MmaAttentionEmulation.run(this, grid, v);
            case "conv2d_igemm_f32", "conv2d_igemm_bf16" -> convImplicitGemm(k, v);
            default -> { return false; }
        }
        return true;
    }

    /**
     * gemm.cu gemm_xwT transcribed block by block: 32×32 tiles of y at (blockIdx.y·32, blockIdx.x·32) for
     * the launched grid only (a grid too small leaves outputs unwritten), K in steps of 32 through the
     * zero-padded shared tiles xs / ws, thread (tx, ty) accumulating rows ty + 8q of column tx in fp32
     * (acc += xs·ws, an FMA as nvcc contracts it), bias added at the store.
     */
    private void gemmXwT(String k, Object[] v) {
        final int TS = 32;
        int M = I(v[4]), N = I(v[5]), K = I(v[6]);
        if (block[0] != 32 || block[1] != 8) throw new IllegalStateException(k + " block " + java.util.Arrays.toString(block));
        float[] x = floats(v[0], (long) M * K), w = weights(k, v[1], (long) N * K), b = nul(v[2]) ? null : floats(v[2], N);
        float[] y = floats(v[3], (long) M * N);
        float[][] xs = new float[TS][TS], ws = new float[TS][TS];
        float[][][] acc = new float[8][TS][4];
        for (int by = 0; by < grid[1]; by++)
            for (int bx = 0; bx < grid[0]; bx++) {
                int row0 = by * TS, col0 = bx * TS;
                for (float[][] a : acc) for (float[] r : a) java.util.Arrays.fill(r, 0f);
                for (int k0 = 0; k0 < K; k0 += TS) {
                    for (int r = 0; r < TS; r++)
                        for (int tx = 0; tx < TS; tx++) {
                            int gr = row0 + r, gk = k0 + tx, gn = col0 + r;
                            xs[r][tx] = gr < M && gk < K ? x[gr * K + gk] : 0f;
                            ws[r][tx] = gn < N && gk < K ? w[gn * K + gk] : 0f;
                        }
                    for (int ty = 0; ty < 8; ty++)
                        for (int tx = 0; tx < TS; tx++) {
                            float[] a = acc[ty][tx];
                            for (int kk = 0; kk < TS; kk++) {
                                float wv = ws[tx][kk];
                                for (int q = 0; q < 4; q++) a[q] = Math.fma(xs[ty + 8 * q][kk], wv, a[q]);
                            }
                        }
                }
                for (int ty = 0; ty < 8; ty++)
                    for (int tx = 0; tx < TS; tx++) {
                        int gc = col0 + tx;
                        if (gc >= N) continue;
                        for (int q = 0; q < 4; q++) {
                            int gr = row0 + ty + 8 * q;
                            if (gr < M) y[gr * N + gc] = acc[ty][tx][q] + (b == null ? 0f : b[gc]);
                        }
                    }
            }
        store(v[3], y);
    }

    /** gemm.cu bmm_f32 transcribed as {@link #gemmXwT}: grid z = batch, b read [K, N] row-major. */
    private void bmm(Object[] v) {
        final int TS = 32;
        int M = I(v[3]), N = I(v[4]), K = I(v[5]), B = grid[2];
        float[] a = floats(v[0], (long) B * M * K), bm = floats(v[1], (long) B * K * N), c = floats(v[2], (long) B * M * N);
        float[][] as = new float[TS][TS], bs = new float[TS][TS];
        float[][][] acc = new float[8][TS][4];
        for (int z = 0; z < B; z++)
            for (int by = 0; by < grid[1]; by++)
                for (int bx = 0; bx < grid[0]; bx++) {
                    int row0 = by * TS, col0 = bx * TS, ao = z * M * K, bo = z * K * N, co = z * M * N;
                    for (float[][] t : acc) for (float[] r : t) java.util.Arrays.fill(r, 0f);
                    for (int k0 = 0; k0 < K; k0 += TS) {
                        for (int r = 0; r < TS; r++)
                            for (int tx = 0; tx < TS; tx++) {
                                int gr = row0 + r, gk = k0 + tx, bk = k0 + r, bn = col0 + tx;
                                as[r][tx] = gr < M && gk < K ? a[ao + gr * K + gk] : 0f;
                                bs[r][tx] = bk < K && bn < N ? bm[bo + bk * N + bn] : 0f;
                            }
                        for (int ty = 0; ty < 8; ty++)
                            for (int tx = 0; tx < TS; tx++)
                                for (int kk = 0; kk < TS; kk++) {
                                    float bv = bs[kk][tx];
                                    for (int q = 0; q < 4; q++) acc[ty][tx][q] = Math.fma(as[ty + 8 * q][kk], bv, acc[ty][tx][q]);
                                }
                    }
                    for (int ty = 0; ty < 8; ty++)
                        for (int tx = 0; tx < TS; tx++) {
                            int gc = col0 + tx;
                            if (gc >= N) continue;
                            for (int q = 0; q < 4; q++) {
                                int gr = row0 + ty + 8 * q;
                                if (gr < M) c[co + gr * N + gc] = acc[ty][tx][q];
                            }
                        }
                }
        store(v[2], c);
    }

    /** common.cuh warp_sum: the butterfly over 32 lanes (every lane ends with the same total). */
    private static float warpSum(float[] lane) {
        float[] t = new float[32];
        for (int o = 16; o > 0; o >>= 1) {
            for (int l = 0; l < 32; l++) t[l] = lane[l] + lane[l ^ o];
            System.arraycopy(t, 0, lane, 0, 32);
        }
        return lane[0];
    }

    /**
     * attention.cu attention_f32 transcribed lane by lane: one warp per (query i, head h) for the warps
     * the grid launches, lane holding q[lane + 32t] (t < 8), a per-lane partial dot (FMA) reduced by the
     * warp_sum butterfly, then the online softmax with expf in fp32 and the lanes' Dv accumulators.
     */
    private void attentionWarp(Object[] v) {
        int Lq = I(v[5]), Lk = I(v[6]), H = I(v[7]), D = I(v[8]), Dv = I(v[9]);
        long qsL = L(v[10]), qsH = L(v[11]), ksL = L(v[12]), ksH = L(v[13]), vsL = L(v[14]), vsH = L(v[15]);
        float scale = F(v[16]);
        if (D > 256 || Dv > 256) throw new IllegalStateException("attention_f32 launched with D=" + D + ", Dv=" + Dv);
        float[] q = span(v[0]), kk = span(v[1]), vv = span(v[2]), bias = nul(v[3]) ? null : floats(v[3], (long) H * Lq * Lk);
        float[] o = floats(v[4], (long) Lq * H * Dv);
        long warps = Math.min((long) Lq * H, (long) grid[0] * block[0] >> 5);
        float[][] qv = new float[32][8], acc = new float[32][8];
        float[] part = new float[32];
        for (long wid = 0; wid < warps; wid++) {
            int i = (int) (wid / H), h = (int) (wid % H);
            long qr = i * qsL + h * qsH;
            for (int lane = 0; lane < 32; lane++)
                for (int t = 0; t < 8; t++) { int p = lane + 32 * t; qv[lane][t] = p < D ? q[(int) (qr + p)] : 0f; acc[lane][t] = 0f; }
            float m = Float.NEGATIVE_INFINITY, sum = 0f;
            for (int j = 0; j < Lk; j++) {
                long kr = j * ksL + h * ksH;
                for (int lane = 0; lane < 32; lane++) {
                    float d = 0f;
                    for (int t = 0; t < 8; t++) { int p = lane + 32 * t; if (p < D) d = Math.fma(qv[lane][t], kk[(int) (kr + p)], d); }
                    part[lane] = d;
                }
                float s = warpSum(part) * scale;
                if (bias != null) s += bias[(int) (((long) h * Lq + i) * Lk + j)];
                float mn = Math.max(m, s);
                float corr = (float) Math.exp(m - mn), e = (float) Math.exp(s - mn);
                sum = Math.fma(sum, corr, e);
                long vr = j * vsL + h * vsH;
                for (int lane = 0; lane < 32; lane++)
                    for (int t = 0; t < 8; t++) { int p = lane + 32 * t; if (p < Dv) acc[lane][t] = Math.fma(acc[lane][t], corr, e * vv[(int) (vr + p)]); }
                m = mn;
            }
            for (int lane = 0; lane < 32; lane++)
                for (int t = 0; t < 8; t++) { int p = lane + 32 * t; if (p < Dv) o[(int) (wid * Dv + p)] = acc[lane][t] / sum; }
        }
        store(v[4], o);
    }

    /**
     * conv.cu transcribed tile by tile: the 64×64 output tiles, K in steps of 16, the element → (k, m) and
     * (k, n) assignment of the shared-memory loads with the im2col gather, and the thread's 4×4 outputs
     * at rows ty + 16i and columns tx + 16j.
     */
    private void convImplicitGemm(String k, Object[] v) {
        final int BM = Kernels.CONV_TILE, BN = Kernels.CONV_TILE, BK = 16, T = Kernels.CONV_THREADS;
        int C = I(v[4]), H = I(v[5]), W = I(v[6]), O = I(v[7]), kh = I(v[8]), kw = I(v[9]), st = I(v[10]), pad = I(v[11]), Ho = I(v[12]), Wo = I(v[13]);
        long P = (long) Ho * Wo;
        int khw = kh * kw, K = C * khw;
        if (grid[0] != (P + BN - 1) / BN || grid[1] != (O + BM - 1) / BM) throw new IllegalStateException("conv2d_igemm grid " + java.util.Arrays.toString(grid));
        if (block[0] != T) throw new IllegalStateException("conv2d_igemm block " + java.util.Arrays.toString(block));
        float[] x = floats(v[0], (long) C * H * W), w = weights(k, v[1], (long) O * K), b = nul(v[2]) ? null : floats(v[2], O);
        float[] y = floats(v[3], O * P);
        for (int by = 0; by < grid[1]; by++)
            for (int bx = 0; bx < grid[0]; bx++) {
                int o0 = by * BM;
                long p0 = (long) bx * BN;
                float[][] acc = new float[T][16]; // acc[i][j] of thread t at [4i + j]
                float[][] as = new float[BK][BM], bs = new float[BK][BN];
                for (int k0 = 0; k0 < K; k0 += BK) {
                    for (int t = 0; t < T; t++)
                        for (int u = 0; u < BM * BK / T; u++) {
                            int e = t + u * T, kk = e % BK, m = e / BK, o = o0 + m, kx = k0 + kk;
                            as[kk][m] = o < O && kx < K ? w[o * K + kx] : 0f;
                        }
                    for (int t = 0; t < T; t++)
                        for (int u = 0; u < BN * BK / T; u++) {
                            int e = t + u * T, n = e % BN, kk = e / BN, kx = k0 + kk;
                            long p = p0 + n;
                            float val = 0f;
                            if (kx < K && p < P) {
                                int c = kx / khw, r = kx - c * khw, dy = r / kw, dx = r - dy * kw;
                                int oy = (int) (p / Wo), ox = (int) (p - (long) oy * Wo);
                                int iy = oy * st - pad + dy, ix = ox * st - pad + dx;
                                if (iy >= 0 && iy < H && ix >= 0 && ix < W) val = x[(c * H + iy) * W + ix];
                            }
                            bs[kk][n] = val;
                        }
                    for (int t = 0; t < T; t++) {
                        int tx = t & 15, ty = t >> 4;
                        float[] at = acc[t];
                        for (int kk = 0; kk < BK; kk++) {
                            float[] ak = as[kk], bk = bs[kk];
                            for (int i = 0; i < 4; i++) {
                                float a = ak[ty + 16 * i];
                                for (int j = 0; j < 4; j++) at[4 * i + j] = Math.fma(a, bk[tx + 16 * j], at[4 * i + j]);
                            }
                        }
                    }
                }
                for (int t = 0; t < T; t++) {
                    int tx = t & 15, ty = t >> 4;
                    for (int i = 0; i < 4; i++) {
                        int o = o0 + ty + 16 * i;
                        if (o >= O) continue;
                        float bo = b == null ? 0f : b[o];
                        for (int j = 0; j < 4; j++) {
                            long p = p0 + tx + 16 * j;
                            if (p < P) y[(int) (o * P + p)] = acc[t][4 * i + j] + bo;
                        }
                    }
                }
            }
        store(v[3], y);
    }

    /** The activations from p to the end of its allocation: F32, or BF16 widened as fa_ld does. */
    private float[] spanAct(boolean bf16, Object p) {
        if (!bf16) return span(p);
        long ptr = (Long) p;
        int sl = slot(ptr, 0);
        int n = Math.toIntExact((cacheHi[sl] - ptr) / 2);
        short[] h = new short[n];
        if (n > 0) MemorySegment.copy(dev(ptr, 2L * n), ValueLayout.JAVA_SHORT, 0, h, 0, n);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = DType.bf16ToF32(h[i]);
        return a;
    }

    /** common.cuh-style quad_sum of flash_attention.cu: v += lane^1, then v += lane^2, for the quad q0..q0+3. */
    private static float quadSum(float[] v, int q0) {
        float a = v[q0] + v[q0 + 1], b = v[q0 + 2] + v[q0 + 3];
        return a + b;
    }

    /**
     * flash_attention.cu transcribed block by block and thread by thread (tile sizes, the quad layout of
     * rows and columns, the masked tail tile, the quad_sum / quad_max reductions, the probability
     * hand-over between the four lanes of a row, the fused cosine factors, acc · (1/l) at the store),
     * with the products the kernel accumulates (s += q·k, acc += p·v, l·corr + psum) as FMAs, as nvcc
     * contracts them.
     */
    private void flashAttention(boolean bf16, Object[] v) {
        final int BQ = Kernels.FLASH_BLOCK_Q, BK = 16, T = Kernels.FLASH_THREADS, MAXD = Kernels.FLASH_MAX_HEAD_DIM;
        int Lq = I(v[6]), Lk = I(v[7]), H = I(v[8]), D = I(v[9]), Dv = I(v[10]);
        long qsL = L(v[11]), qsH = L(v[12]), ksL = L(v[13]), ksH = L(v[14]), vsL = L(v[15]), vsH = L(v[16]);
        float scale = F(v[17]), eps = F(v[19]);
        int flags = I(v[18]);
        if (D > MAXD || Dv > MAXD) throw new IllegalStateException("flash_attention launched with D=" + D + ", Dv=" + Dv);
        if (grid[0] != (Lq + BQ - 1) / BQ || grid[1] != H || block[0] != T) throw new IllegalStateException("flash_attention grid " + java.util.Arrays.toString(grid) + " block " + java.util.Arrays.toString(block));
        float[] qa = spanAct(bf16, v[0]), ka = spanAct(bf16, v[1]), va = spanAct(bf16, v[2]);
        float[] bias = nul(v[3]) ? null : floats(v[3], (long) H * Lq * Lk), qScale = nul(v[4]) ? null : floats(v[4], H);
        float[] out = floats(v[5], (long) Lq * H * Dv);
        float[][] qs = new float[BQ][MAXD], kvs = new float[BK][MAXD];
        float[] qf = new float[T], m = new float[T], l = new float[T], kinv = new float[BK], red = new float[T], tmax = new float[T];
        float[][] acc = new float[T][MAXD / 4], s = new float[T][BK / 4];
        for (int bx = 0; bx < grid[0]; bx++)
            for (int h = 0; h < grid[1]; h++) {
                int i0 = bx * BQ;
                for (int e = 0; e < BQ * D; e++) {
                    int rr = e / D, d = e - rr * D, i = i0 + rr;
                    qs[rr][d] = i < Lq ? qa[(int) (i * qsL + h * qsH + d)] : 0f;
                }
                for (int t = 0; t < T; t++) {
                    int r = t >> 2, g = t & 3;
                    float ss = 0f;
                    if ((flags & 1) != 0) for (int d = g; d < D; d += 4) ss = Math.fma(qs[r][d], qs[r][d], ss);
                    red[t] = ss;
                }
                for (int t = 0; t < T; t++) {
                    qf[t] = scale;
                    if ((flags & 1) != 0)
                        qf[t] = scale * (1f / Math.max((float) Math.sqrt(quadSum(red, t & ~3)), eps)) * (qScale == null ? 1f : qScale[h]);
                    java.util.Arrays.fill(acc[t], 0f);
                    m[t] = Float.NEGATIVE_INFINITY;
                    l[t] = 0f;
                }
                for (int j0 = 0; j0 < Lk; j0 += BK) {
                    for (int e = 0; e < BK * D; e++) {
                        int c = e / D, d = e - c * D, j = j0 + c;
                        kvs[c][d] = j < Lk ? ka[(int) (j * ksL + h * ksH + d)] : 0f;
                    }
                    if ((flags & 2) != 0) {
                        for (int t = 0; t < T; t++) {
                            int r = t >> 2, g = t & 3;
                            float ss = 0f;
                            if (r < BK) for (int d = g; d < D; d += 4) ss = Math.fma(kvs[r][d], kvs[r][d], ss);
                            red[t] = ss;
                        }
                        for (int r = 0; r < BK; r++) kinv[r] = 1f / Math.max((float) Math.sqrt(quadSum(red, 4 * r)), eps);
                    }
                    for (int t = 0; t < T; t++) {
                        int r = t >> 2, g = t & 3, i = i0 + r;
                        float[] st = s[t];
                        java.util.Arrays.fill(st, 0f);
                        for (int d = 0; d < D; d++) {
                            float qv = qs[r][d];
                            for (int c = 0; c < BK / 4; c++) st[c] = Math.fma(qv, kvs[g + 4 * c][d], st[c]);
                        }
                        tmax[t] = Float.NEGATIVE_INFINITY;
                        for (int c = 0; c < BK / 4; c++) {
                            int j = j0 + g + 4 * c;
                            float x = st[c] * qf[t];
                            if ((flags & 2) != 0) x *= kinv[g + 4 * c];
                            if (bias != null && i < Lq && j < Lk) x += bias[(int) (((long) h * Lq + i) * Lk + j)];
                            st[c] = j < Lk ? x : Float.NEGATIVE_INFINITY;
                            tmax[t] = Math.max(tmax[t], st[c]);
                        }
                    }
                    float[] corr = new float[T];
                    for (int t = 0; t < T; t++) {
                        int q0 = t & ~3;
                        float rowMax = Math.max(Math.max(tmax[q0], tmax[q0 + 1]), Math.max(tmax[q0 + 2], tmax[q0 + 3]));
                        float mNew = Math.max(m[t], rowMax);
                        corr[t] = mNew == Float.NEGATIVE_INFINITY ? 1f : (float) Math.exp(m[t] - mNew);
                        float psum = 0f;
                        for (int c = 0; c < BK / 4; c++) {
                            s[t][c] = mNew == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(s[t][c] - mNew);
                            psum += s[t][c];
                        }
                        red[t] = psum;
                        m[t] = mNew;
                    }
                    for (int t = 0; t < T; t++) {
                        l[t] = Math.fma(l[t], corr[t], quadSum(red, t & ~3));
                        for (int j = 0; j < MAXD / 4; j++) acc[t][j] *= corr[t];
                    }
                    for (int e = 0; e < BK * Dv; e++) {
                        int c = e / Dv, d = e - c * Dv, j = j0 + c;
                        kvs[c][d] = j < Lk ? va[(int) (j * vsL + h * vsH + d)] : 0f;
                    }
                    for (int t = 0; t < T; t++) {
                        int g = t & 3, q0 = t & ~3;
                        for (int kk = 0; kk < BK; kk++) {
                            float p = s[q0 + (kk & 3)][kk >> 2];
                            for (int j = 0; j < MAXD / 4; j++) if (g + 4 * j < Dv) acc[t][j] = Math.fma(p, kvs[kk][g + 4 * j], acc[t][j]);
                        }
                    }
                }
                for (int t = 0; t < T; t++) {
                    int r = t >> 2, g = t & 3, i = i0 + r;
                    if (i >= Lq) continue;
                    float inv = 1f / l[t];
                    for (int j = 0; j < MAXD / 4; j++)
                        if (g + 4 * j < Dv) out[(int) (((long) i * H + h) * Dv + g + 4 * j)] = acc[t][j] * inv;
                }
            }
        store(v[5], out);
    }

    /** Java transcriptions of some kernels (same arithmetic as the .cu sources). */
    private void emulate(String k, Object[] v) {
        switch (k) {
            case "binary_bcast_f32" -> {
                long n = (Long) v[3], m = (Long) v[4];
                MemorySegment x = f32(v[0], n), b = f32(v[1], m), y = f32(v[2], n);
                for (long i = 0; i < n; i++) {
                    float u = x.getAtIndex(ValueLayout.JAVA_FLOAT, i), w = b.getAtIndex(ValueLayout.JAVA_FLOAT, i % m);
                    y.setAtIndex(ValueLayout.JAVA_FLOAT, i, (Integer) v[5] != 0 ? u * w : u + w);
                }
            }
            case "scale_f32" -> {
                long n = (Long) v[2];
                MemorySegment x = f32(v[0], n), y = f32(v[1], n);
                for (long i = 0; i < n; i++) y.setAtIndex(ValueLayout.JAVA_FLOAT, i, x.getAtIndex(ValueLayout.JAVA_FLOAT, i) * (Float) v[3]);
            }
            case "add_inplace_f32" -> {
                long n = (Long) v[2];
                MemorySegment acc = f32(v[0], n), b = f32(v[1], n);
                for (long i = 0; i < n; i++) acc.setAtIndex(ValueLayout.JAVA_FLOAT, i, acc.getAtIndex(ValueLayout.JAVA_FLOAT, i) + b.getAtIndex(ValueLayout.JAVA_FLOAT, i));
            }
            case "bf16_to_f32" -> {
                long n = (Long) v[2];
                MemorySegment x = dev((Long) v[0], n * 2), y = f32(v[1], n);
                for (long i = 0; i < n; i++) y.setAtIndex(ValueLayout.JAVA_FLOAT, i, DType.bf16ToF32(x.getAtIndex(ValueLayout.JAVA_SHORT, i)));
            }
            case "strided_copy_32" -> {
                MemorySegment s = (MemorySegment) v[2];
                int rank = s.get(ValueLayout.JAVA_INT, 160);
                long n = (Long) v[3];
                for (long i = 0; i < n; i++) {
                    long rem = i, so = s.getAtIndex(ValueLayout.JAVA_LONG, 18), dof = s.getAtIndex(ValueLayout.JAVA_LONG, 19);
                    for (int d = rank - 1; d >= 0; d--) {
                        long sh = s.getAtIndex(ValueLayout.JAVA_LONG, d), idx = rem % sh;
                        rem /= sh;
                        so += idx * s.getAtIndex(ValueLayout.JAVA_LONG, 6 + d);
                        dof += idx * s.getAtIndex(ValueLayout.JAVA_LONG, 12 + d);
                    }
                    dev((Long) v[1] + dof * 4, 4).set(ValueLayout.JAVA_FLOAT, 0, dev((Long) v[0] + so * 4, 4).get(ValueLayout.JAVA_FLOAT, 0));
                }
            }
            case "bit_sample" -> {
                long rows = (Long) v[5];
                MemorySegment cond = f32(v[0], 2 * rows), unc = (Long) v[1] == 0 ? null : f32(v[1], 2 * rows);
                float inv = (Float) v[2], ca = (Float) v[3], cb = (Float) v[4], thr = (Float) v[8];
                int topK = (Integer) v[6], topPOn = (Integer) v[7];
                long seed = (Long) v[9], first = (Long) v[11];
                int stream = (Integer) v[10];
                MemorySegment bits = dev((Long) v[12], rows), mixed = (Long) v[13] == 0 ? null : f32(v[13], 2 * rows);
                for (long r = 0; r < rows; r++) {
                    float l0 = cond.getAtIndex(ValueLayout.JAVA_FLOAT, 2 * r) * inv, l1 = cond.getAtIndex(ValueLayout.JAVA_FLOAT, 2 * r + 1) * inv;
                    if (unc != null) {
                        l0 = ca * l0 + cb * (unc.getAtIndex(ValueLayout.JAVA_FLOAT, 2 * r) * inv);
                        l1 = ca * l1 + cb * (unc.getAtIndex(ValueLayout.JAVA_FLOAT, 2 * r + 1) * inv);
                    }
                    if (mixed != null) { mixed.setAtIndex(ValueLayout.JAVA_FLOAT, 2 * r, l0); mixed.setAtIndex(ValueLayout.JAVA_FLOAT, 2 * r + 1, l1); }
                    float m = Math.max(l0, l1);
                    float e0 = (float) Math.exp(l0 - m), e1 = (float) Math.exp(l1 - m);
                    float p1 = e1 / (e0 + e1);
                    if (topK == 1) p1 = l1 > l0 ? 1f : 0f;
                    else if (topPOn != 0) {
                        float pMin = Math.min(p1, 1f - p1);
                        if (pMin <= thr) p1 = p1 > 0.5f ? 1f : (p1 < 0.5f ? 0f : p1);
                    }
                    float u = (Philox.word(seed, stream, first + r) >>> 8) * 0x1p-24f;
                    bits.set(ValueLayout.JAVA_BYTE, r, (byte) (u < p1 ? 1 : 0));
                }
            }
            case "bits_to_codes" -> {
                int h = (Integer) v[2], w = (Integer) v[3], td = (Integer) v[4], pf = (Integer) v[5];
                float mag = (Float) v[6];
                long n = (long) h * w * td;
                int f = pf != 0 ? 2 : 1, H = f * h, W = f * w, ch = pf != 0 ? td / 4 : td;
                MemorySegment bits = dev((Long) v[0], n), codes = f32(v[1], (long) ch * H * W);
                for (long i = 0; i < n; i++) {
                    int kk = (int) (i % td);
                    long t = i / td;
                    int y = (int) (t / w), x = (int) (t % w);
                    int c = pf != 0 ? kk / 4 : kk, dy = pf != 0 ? (kk / 2) % 2 : 0, dx = pf != 0 ? kk % 2 : 0;
                    codes.setAtIndex(ValueLayout.JAVA_FLOAT, ((long) c * H + f * y + dy) * W + f * x + dx, bits.get(ValueLayout.JAVA_BYTE, i) != 0 ? mag : -mag);
                }
            }
            default -> emulateMore(k, v);
        }
    }
}
