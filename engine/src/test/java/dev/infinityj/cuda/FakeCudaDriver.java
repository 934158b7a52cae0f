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
                MemorySegment s = arena.allocate(n, 256);
                mem.put(s.address(), s);
                allocs++;
                at(a[0], 8).set(ValueLayout.JAVA_LONG, 0, s.address());
                return 0;
            }
            case "cuMemFree" -> {
                if (mem.remove((Long) a[0]) == null) throw new IllegalStateException("cuMemFree of unknown pointer");
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
        emulate(k, v);
    }

    private MemorySegment f32(Object p, long n) { return dev((Long) p, n * 4); }

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
            default -> { /* not emulated: output stays as allocated */ }
        }
    }
}
