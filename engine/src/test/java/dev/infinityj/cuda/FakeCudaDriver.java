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
        grid = new int[] {(Integer) a[1], (Integer) a[2], (Integer) a[3]};
        emulate(k, v);
    }

    private MemorySegment f32(Object p, long n) { return dev((Long) p, n * 4); }

    private int[] grid;

    private float rf(Object p, long i) { return dev((Long) p + i * 4, 4).get(ValueLayout.JAVA_FLOAT, 0); }
    private void wf(Object p, long i, float x) { dev((Long) p + i * 4, 4).set(ValueLayout.JAVA_FLOAT, 0, x); }
    private static boolean nul(Object p) { return (Long) p == 0; }
    private static long L(Object o) { return (Long) o; }
    private static int I(Object o) { return (Integer) o; }
    private static float F(Object o) { return (Float) o; }

    /** A weight element of the GEMM kernels: F32, BF16 or F16 by kernel name. */
    private float weight(String k, Object p, long i) {
        if (k.endsWith("_f32")) return rf(p, i);
        short h = dev((Long) p + i * 2, 2).get(ValueLayout.JAVA_SHORT, 0);
        return k.endsWith("_bf16") ? DType.bf16ToF32(h) : Float.float16ToFloat(h);
    }

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
            case "gemm_xwT_f32", "gemm_xwT_bf16", "gemm_xwT_f16" -> {
                int M = I(v[4]), N = I(v[5]), K = I(v[6]);
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        float acc = 0;
                        for (int q = 0; q < K; q++) acc += rf(v[0], (long) m * K + q) * weight(k, v[1], (long) n * K + q);
                        wf(v[3], (long) m * N + n, acc + (nul(v[2]) ? 0f : rf(v[2], n)));
                    }
            }
            case "bmm_f32" -> {
                int M = I(v[3]), N = I(v[4]), K = I(v[5]);
                for (int z = 0; z < grid[2]; z++)
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < N; n++) {
                            float acc = 0;
                            for (int q = 0; q < K; q++) acc += rf(v[0], (long) z * M * K + (long) m * K + q) * rf(v[1], (long) z * K * N + (long) q * N + n);
                            wf(v[2], (long) z * M * N + (long) m * N + n, acc);
                        }
            }
            case "layer_norm_f32" -> {
                long rows = L(v[6]); int cols = I(v[7]); float eps = F(v[8]);
                for (long r = 0; r < rows; r++) {
                    double s = 0, var = 0;
                    for (int j = 0; j < cols; j++) s += rf(v[0], r * cols + j);
                    double mean = s / cols;
                    for (int j = 0; j < cols; j++) { double d = rf(v[0], r * cols + j) - mean; var += d * d; }
                    double inv = 1.0 / Math.sqrt(var / cols + eps);
                    for (int j = 0; j < cols; j++) {
                        float o = (float) ((rf(v[0], r * cols + j) - mean) * inv);
                        if (!nul(v[2])) o *= rf(v[2], j);
                        if (!nul(v[3])) o += rf(v[3], j);
                        if (!nul(v[4])) o = o * (1f + rf(v[4], j)) + rf(v[5], j);
                        wf(v[1], r * cols + j, o);
                    }
                }
            }
            case "rms_norm_f32" -> {
                long rows = L(v[3]); int cols = I(v[4]); float eps = F(v[5]);
                for (long r = 0; r < rows; r++) {
                    double s = 0;
                    for (int j = 0; j < cols; j++) { double x = rf(v[0], r * cols + j); s += x * x; }
                    double inv = 1.0 / Math.sqrt(s / cols + eps);
                    for (int j = 0; j < cols; j++) {
                        float o = (float) (rf(v[0], r * cols + j) * inv);
                        if (!nul(v[2])) o *= rf(v[2], j);
                        wf(v[1], r * cols + j, o);
                    }
                }
            }
            case "softmax_f32" -> {
                long rows = L(v[2]); int cols = I(v[3]);
                for (long r = 0; r < rows; r++) {
                    float m = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < cols; j++) m = Math.max(m, rf(v[0], r * cols + j));
                    double s = 0;
                    for (int j = 0; j < cols; j++) s += Math.exp(rf(v[0], r * cols + j) - m);
                    for (int j = 0; j < cols; j++) wf(v[1], r * cols + j, (float) (Math.exp(rf(v[0], r * cols + j) - m) / s));
                }
            }
            case "head_l2_normalize_f32" -> {
                long Lr = L(v[3]); int H = I(v[4]), D = I(v[5]); long sL = L(v[6]), sH = L(v[7]); float eps = F(v[8]);
                for (long row = 0; row < Lr * H; row++) {
                    long l = row / H; int h = (int) (row % H);
                    long base = l * sL + h * sH;
                    double ss = 0;
                    for (int p = 0; p < D; p++) { double x = rf(v[0], base + p); ss += x * x; }
                    float inv = 1f / Math.max((float) Math.sqrt(ss), eps), m = nul(v[2]) ? 1f : rf(v[2], h);
                    for (int p = 0; p < D; p++) wf(v[1], row * D + p, rf(v[0], base + p) * inv * m);
                }
            }
            case "group_norm_stats_f32" -> {
                int groups = I(v[2]); long per = L(v[3]); float eps = F(v[4]);
                for (int g = 0; g < groups; g++) {
                    double s = 0, var = 0;
                    for (long i = 0; i < per; i++) s += rf(v[0], g * per + i);
                    double mean = s / per;
                    for (long i = 0; i < per; i++) { double d = rf(v[0], g * per + i) - mean; var += d * d; }
                    wf(v[1], 2L * g, (float) mean);
                    wf(v[1], 2L * g + 1, (float) (1.0 / Math.sqrt(var / per + eps)));
                }
            }
            case "group_norm_apply_f32" -> {
                int C = I(v[5]), groups = I(v[7]), silu = I(v[8]); long HW = L(v[6]);
                int cg = C / groups;
                for (long i = 0; i < C * HW; i++) {
                    int c = (int) (i / HW), g = c / cg;
                    float x = (rf(v[0], i) - rf(v[2], 2L * g)) * rf(v[2], 2L * g + 1);
                    if (!nul(v[3])) x *= rf(v[3], c);
                    if (!nul(v[4])) x += rf(v[4], c);
                    if (silu != 0) x = x / (1f + (float) Math.exp(-x));
                    wf(v[1], i, x);
                }
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
                int C = I(v[4]), H = I(v[5]), W = I(v[6]), O = I(v[7]), kh = I(v[8]), kw = I(v[9]), st = I(v[10]), pad = I(v[11]), Ho = I(v[12]), Wo = I(v[13]);
                for (long i = 0; i < (long) O * Ho * Wo; i++) {
                    int ox = (int) (i % Wo), oy = (int) ((i / Wo) % Ho);
                    long oc = i / ((long) Ho * Wo);
                    float acc = nul(v[2]) ? 0f : rf(v[2], oc);
                    for (int ic = 0; ic < C; ic++)
                        for (int dy = 0; dy < kh; dy++) {
                            int iy = oy * st - pad + dy;
                            if (iy < 0 || iy >= H) continue;
                            for (int dx = 0; dx < kw; dx++) {
                                int ix = ox * st - pad + dx;
                                if (ix < 0 || ix >= W) continue;
                                acc += rf(v[0], ((long) ic * H + iy) * W + ix) * rf(v[1], ((oc * C + ic) * kh + dy) * kw + dx);
                            }
                        }
                    wf(v[3], i, acc);
                }
            }
            case "attention_f32" -> {
                int Lq = I(v[5]), Lk = I(v[6]), H = I(v[7]), D = I(v[8]), Dv = I(v[9]);
                long qsL = L(v[10]), qsH = L(v[11]), ksL = L(v[12]), ksH = L(v[13]), vsL = L(v[14]), vsH = L(v[15]);
                float scale = F(v[16]);
                for (int i = 0; i < Lq; i++)
                    for (int h = 0; h < H; h++) {
                        float m = Float.NEGATIVE_INFINITY, sum = 0;
                        float[] acc = new float[Dv];
                        for (int j = 0; j < Lk; j++) {
                            float d = 0;
                            for (int p = 0; p < D; p++) d += rf(v[0], i * qsL + h * qsH + p) * rf(v[1], j * ksL + h * ksH + p);
                            float s = d * scale;
                            if (!nul(v[3])) s += rf(v[3], ((long) h * Lq + i) * Lk + j);
                            float mn = Math.max(m, s), corr = (float) Math.exp(m - mn), e = (float) Math.exp(s - mn);
                            sum = sum * corr + e;
                            for (int p = 0; p < Dv; p++) acc[p] = acc[p] * corr + e * rf(v[2], j * vsL + h * vsH + p);
                            m = mn;
                        }
                        for (int p = 0; p < Dv; p++) wf(v[4], ((long) i * H + h) * Dv + p, acc[p] / sum);
                    }
            }
            case "flash_attention_f32", "flash_attention_bf16" -> flashAttention(k.endsWith("bf16"), v);
            case "flash_attention_mma_bf16" -> MmaAttentionEmulation.run(this, grid, v);
            case "conv2d_igemm_f32", "conv2d_igemm_bf16" -> convImplicitGemm(k, v);
            default -> { return false; }
        }
        return true;
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
        for (int by = 0; by < grid[1]; by++)
            for (int bx = 0; bx < grid[0]; bx++) {
                int o0 = by * BM;
                long p0 = (long) bx * BN;
                float[][][] acc = new float[T][4][4];
                float[][] as = new float[BK][BM], bs = new float[BK][BN];
                for (int k0 = 0; k0 < K; k0 += BK) {
                    for (int t = 0; t < T; t++)
                        for (int u = 0; u < BM * BK / T; u++) {
                            int e = t + u * T, kk = e % BK, m = e / BK, o = o0 + m, kx = k0 + kk;
                            as[kk][m] = o < O && kx < K ? weight(k, v[1], (long) o * K + kx) : 0f;
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
                                if (iy >= 0 && iy < H && ix >= 0 && ix < W) val = rf(v[0], ((long) c * H + iy) * W + ix);
                            }
                            bs[kk][n] = val;
                        }
                    for (int t = 0; t < T; t++) {
                        int tx = t & 15, ty = t >> 4;
                        for (int kk = 0; kk < BK; kk++)
                            for (int i = 0; i < 4; i++)
                                for (int j = 0; j < 4; j++) acc[t][i][j] += as[kk][ty + 16 * i] * bs[kk][tx + 16 * j];
                    }
                }
                for (int t = 0; t < T; t++) {
                    int tx = t & 15, ty = t >> 4;
                    for (int i = 0; i < 4; i++) {
                        int o = o0 + ty + 16 * i;
                        if (o >= O) continue;
                        for (int j = 0; j < 4; j++) {
                            long p = p0 + tx + 16 * j;
                            if (p < P) wf(v[3], (long) o * P + p, acc[t][i][j] + (nul(v[2]) ? 0f : rf(v[2], o)));
                        }
                    }
                }
            }
    }

    /** An activation element: F32, or BF16 widened as fa_ld does. */
    private float act16(boolean bf16, Object p, long i) {
        return bf16 ? DType.bf16ToF32(dev((Long) p + i * 2, 2).get(ValueLayout.JAVA_SHORT, 0)) : rf(p, i);
    }

    /**
     * flash_attention.cu transcribed block by block and thread by thread (tile sizes, the quad layout of
     * rows and columns, the masked tail tile, the probability hand-over between the four lanes of a row,
     * the fused cosine factors), so a wrong index in that structure shows up against NaiveBackend here.
     */
    private void flashAttention(boolean bf16, Object[] v) {
        final int BQ = Kernels.FLASH_BLOCK_Q, BK = 16, T = Kernels.FLASH_THREADS, MAXD = Kernels.FLASH_MAX_HEAD_DIM;
        int Lq = I(v[6]), Lk = I(v[7]), H = I(v[8]), D = I(v[9]), Dv = I(v[10]);
        long qsL = L(v[11]), qsH = L(v[12]), ksL = L(v[13]), ksH = L(v[14]), vsL = L(v[15]), vsH = L(v[16]);
        float scale = F(v[17]), eps = F(v[19]);
        int flags = I(v[18]);
        if (D > MAXD || Dv > MAXD) throw new IllegalStateException("flash_attention launched with D=" + D + ", Dv=" + Dv);
        if (grid[0] != (Lq + BQ - 1) / BQ || grid[1] != H) throw new IllegalStateException("flash_attention grid " + java.util.Arrays.toString(grid));
        for (int bx = 0; bx < grid[0]; bx++)
            for (int h = 0; h < H; h++) {
                int i0 = bx * BQ;
                float[][] qs = new float[BQ][D], kvs = new float[BK][Math.max(D, Dv)];
                for (int rr = 0; rr < BQ; rr++) for (int d = 0; d < D; d++)
                    qs[rr][d] = i0 + rr < Lq ? act16(bf16, v[0], (i0 + rr) * qsL + h * qsH + d) : 0f;
                float[] qf = new float[T], m = new float[T], l = new float[T];
                float[][] acc = new float[T][MAXD / 4], s = new float[T][BK / 4];
                for (int t = 0; t < T; t++) {
                    int r = t >> 2;
                    qf[t] = scale;
                    if ((flags & 1) != 0) {
                        float ss = 0;
                        for (int d = 0; d < D; d++) ss += qs[r][d] * qs[r][d]; // the quad sum, in another order
                        qf[t] = scale * (1f / Math.max((float) Math.sqrt(ss), eps)) * (nul(v[4]) ? 1f : rf(v[4], h));
                    }
                    m[t] = Float.NEGATIVE_INFINITY;
                }
                float[] kinv = new float[BK];
                for (int j0 = 0; j0 < Lk; j0 += BK) {
                    for (int c = 0; c < BK; c++) for (int d = 0; d < D; d++)
                        kvs[c][d] = j0 + c < Lk ? act16(bf16, v[1], (j0 + c) * ksL + h * ksH + d) : 0f;
                    if ((flags & 2) != 0)
                        for (int c = 0; c < BK; c++) {
                            float ss = 0;
                            for (int d = 0; d < D; d++) ss += kvs[c][d] * kvs[c][d];
                            kinv[c] = 1f / Math.max((float) Math.sqrt(ss), eps);
                        }
                    float[] tmax = new float[T];
                    for (int t = 0; t < T; t++) {
                        int r = t >> 2, g = t & 3, i = i0 + r;
                        tmax[t] = Float.NEGATIVE_INFINITY;
                        for (int c = 0; c < BK / 4; c++) {
                            float dot = 0;
                            for (int d = 0; d < D; d++) dot += qs[r][d] * kvs[g + 4 * c][d];
                            int j = j0 + g + 4 * c;
                            float x = dot * qf[t];
                            if ((flags & 2) != 0) x *= kinv[g + 4 * c];
                            if (!nul(v[3]) && i < Lq && j < Lk) x += rf(v[3], ((long) h * Lq + i) * Lk + j);
                            s[t][c] = j < Lk ? x : Float.NEGATIVE_INFINITY;
                            tmax[t] = Math.max(tmax[t], s[t][c]);
                        }
                    }
                    for (int t = 0; t < T; t++) {
                        int q0 = t & ~3;
                        float rowMax = Math.max(Math.max(tmax[q0], tmax[q0 + 1]), Math.max(tmax[q0 + 2], tmax[q0 + 3]));
                        float mNew = Math.max(m[t], rowMax);
                        float corr = mNew == Float.NEGATIVE_INFINITY ? 1f : (float) Math.exp(m[t] - mNew);
                        for (int c = 0; c < BK / 4; c++) s[t][c] = mNew == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(s[t][c] - mNew);
                        m[t] = mNew;
                        l[t] *= corr;
                        for (int j = 0; j < MAXD / 4; j++) acc[t][j] *= corr;
                    }
                    for (int t = 0; t < T; t++) {
                        int q0 = t & ~3;
                        for (int u = 0; u < 4; u++) for (int c = 0; c < BK / 4; c++) l[t] += s[q0 + u][c];
                    }
                    for (int c = 0; c < BK; c++) for (int d = 0; d < Dv; d++)
                        kvs[c][d] = j0 + c < Lk ? act16(bf16, v[2], (j0 + c) * vsL + h * vsH + d) : 0f;
                    for (int t = 0; t < T; t++) {
                        int g = t & 3, q0 = t & ~3;
                        for (int kk = 0; kk < BK; kk++) {
                            float p = s[q0 + (kk & 3)][kk >> 2];
                            for (int j = 0; j < MAXD / 4; j++) if (g + 4 * j < Dv) acc[t][j] += p * kvs[kk][g + 4 * j];
                        }
                    }
                }
                for (int t = 0; t < T; t++) {
                    int r = t >> 2, g = t & 3, i = i0 + r;
                    if (i >= Lq) continue;
                    for (int j = 0; j < MAXD / 4; j++)
                        if (g + 4 * j < Dv) wf(v[5], ((long) i * H + h) * Dv + g + 4 * j, acc[t][j] / l[t]);
                }
            }
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
