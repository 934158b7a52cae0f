package dev.infinityj.backend;

import dev.infinityj.ShapeException;
import dev.infinityj.cpu.ConvInput;
import dev.infinityj.cpu.CpuThreads;
import dev.infinityj.cpu.ElementwiseKernels;
import dev.infinityj.cpu.FlashAttention;
import dev.infinityj.cpu.GeluKernel;
import dev.infinityj.cpu.Gemm;
import dev.infinityj.cpu.GroupNormKernel;
import dev.infinityj.cpu.HeadL2NormKernel;
import dev.infinityj.cpu.InterpolateKernel;
import dev.infinityj.cpu.LayerNormKernel;
import dev.infinityj.cpu.Mat;
import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.cpu.RmsNormKernel;
import dev.infinityj.cpu.RopeKernel;
import dev.infinityj.cpu.SiluKernel;
import dev.infinityj.cpu.SoftmaxKernel;
import dev.infinityj.cpu.WinogradConv;
import dev.infinityj.cpu.WinogradWeights;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

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

    // ---------------------------------------------------------------------------------------------
    // Vector API kernels for every op except linear / matmul / conv2d (those live in the GEMM work).
    // Large inputs are split over the pool in chunks whose boundaries are multiples of 64 elements
    // (or whole rows), so each output element's arithmetic is the same for any thread count.
    // ---------------------------------------------------------------------------------------------

    /** Below this many elements an op runs on the calling thread (hand-off costs more than it saves). */
    static final long PAR_MIN = 1 << 15;

    private void forRange(long n, CpuThreads.RangeBody body) {
        if (n <= 0) return;
        if (n < PAR_MIN || pool.threads() == 1) { body.run(0, n); return; }
        long chunks = Math.max(1, Math.min(pool.threads() * 4L, n / (PAR_MIN / 4)));
        long step = ((n + chunks - 1) / chunks + 63) / 64 * 64;
        int tasks = (int) ((n + step - 1) / step);
        pool.parallelFor(tasks, t -> body.run(t * step, Math.min(n, (t + 1) * step)));
    }

    private void forRows(long rows, long rowLen, CpuThreads.RangeBody body) {
        if (rows <= 0) return;
        if (rows == 1 || rows * rowLen < PAR_MIN || pool.threads() == 1) { body.run(0, rows); return; }
        pool.parallelRange(rows, Math.max(1, PAR_MIN / 4 / Math.max(1, rowLen)), body);
    }

    /**
     * An op's output tensor, not zero-filled (recycled native memory, {@link Tensor#allocateUninitialized}):
     * only for ops whose kernels write every element.
     */
    private static Tensor output(DType dtype, long... shape) { return Tensor.allocateUninitialized(dtype, shape); }

    /** Not zero-filled: zeroing the 2B model's KV cache and stacked rows was ~2 % of a generation. */
    @Override
    public Tensor allocateForWrite(DType dtype, long... shape) { return output(dtype, shape); }

    private static float[] vector(Tensor t, long n, String what) {
        if (t == null) return null;
        float[] v = t.toFloatArray();
        if (v.length != n) throw new ShapeException(what + ": expected " + n + " elements, got " + t.describe());
        return v;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        x = f32(x, "layerNorm");
        int c = Math.toIntExact(x.dim(-1));
        return normRows(x, vector(weight, c, "layerNorm weight"), vector(bias, c, "layerNorm bias"), eps);
    }

    private Tensor normRows(Tensor x, float[] w, float[] b, float eps) {
        int c = Math.toIntExact(x.dim(-1));
        Tensor out = output(DType.F32, x.shape());
        if (c == 0) return out;
        MemorySegment xs = x.segment(), os = out.segment();
        forRows(rows(x), c, (r0, r1) -> {
            for (long i = r0; i < r1; i++) LayerNormKernel.row(xs, i * c, os, i * c, c, w, b, eps);
        });
        return out;
    }

    @Override
    public Tensor adaLayerNorm(Tensor x, Tensor scale, Tensor shift, float eps) {
        x = f32(x, "adaLayerNorm");
        int c = Math.toIntExact(x.dim(-1));
        float[] w = vector(scale, c, "adaLayerNorm scale"), b = vector(shift, c, "adaLayerNorm shift");
        for (int j = 0; j < c; j++) w[j] = 1 + w[j];
        return normRows(x, w, b, eps);
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        x = f32(x, "rmsNorm");
        int c = Math.toIntExact(x.dim(-1));
        float[] w = vector(weight, c, "rmsNorm weight");
        Tensor out = output(DType.F32, x.shape());
        if (c == 0) return out;
        MemorySegment xs = x.segment(), os = out.segment();
        forRows(rows(x), c, (r0, r1) -> {
            for (long i = r0; i < r1; i++) RmsNormKernel.row(xs, i * c, os, i * c, c, w, eps);
        });
        return out;
    }

    @Override
    public Tensor softmax(Tensor x) {
        x = f32(x, "softmax");
        int c = Math.toIntExact(x.dim(-1));
        Tensor out = output(DType.F32, x.shape());
        if (c == 0) return out;
        MemorySegment xs = x.segment(), os = out.segment();
        forRows(rows(x), c, (r0, r1) -> {
            for (long i = r0; i < r1; i++) SoftmaxKernel.row(xs, i * c, os, i * c, c);
        });
        return out;
    }

    private interface RangeKernel { void run(MemorySegment x, long xo, MemorySegment o, long oo, long n); }

    private Tensor map(Tensor x, String what, RangeKernel k) {
        x = f32(x, what);
        Tensor out = output(DType.F32, x.shape());
        MemorySegment xs = x.segment(), os = out.segment();
        forRange(x.numel(), (f, t) -> k.run(xs, f, os, f, t - f));
        return out;
    }

    @Override public Tensor geluTanh(Tensor x) { return map(x, "geluTanh", GeluKernel::tanhForm); }

    @Override public Tensor geluErf(Tensor x) { return map(x, "geluErf", GeluKernel::erfForm); }

    @Override public Tensor silu(Tensor x) { return map(x, "silu", SiluKernel::run); }

    @Override public Tensor relu(Tensor x) { return map(x, "relu", ElementwiseKernels::relu); }

    @Override public Tensor scale(Tensor a, float s) {
        return map(a, "scale", (x, xo, o, oo, n) -> ElementwiseKernels.scale(x, xo, s, o, oo, n));
    }

    @Override public Tensor add(Tensor a, Tensor b) { return broadcast(a, b, false); }

    @Override public Tensor mul(Tensor a, Tensor b) { return broadcast(a, b, true); }

    private Tensor broadcast(Tensor a, Tensor b, boolean mul) {
        a = f32(a, mul ? "mul a" : "add a"); b = f32(b, mul ? "mul b" : "add b");
        long[] as = a.shape(), bs = b.shape();
        if (bs.length > as.length || !Arrays.equals(bs, Arrays.copyOfRange(as, as.length - bs.length, as.length)))
            throw new ShapeException("cannot broadcast " + b.describe() + " onto " + a.describe());
        Tensor out = output(DType.F32, as);
        long n = a.numel(), m = b.numel();
        if (n == 0) return out;
        MemorySegment x = a.segment(), y = b.segment(), o = out.segment();
        if (m == n) {
            forRange(n, (f, t) -> {
                if (mul) ElementwiseKernels.mul(x, f, y, f, o, f, t - f);
                else ElementwiseKernels.add(x, f, y, f, o, f, t - f);
            });
        } else {
            forRows(n / m, m, (r0, r1) -> {
                for (long r = r0; r < r1; r++) {
                    if (mul) ElementwiseKernels.mul(x, r * m, y, 0, o, r * m, m);
                    else ElementwiseKernels.add(x, r * m, y, 0, o, r * m, m);
                }
            });
        }
        return out;
    }

    @Override
    public void addInPlace(Tensor acc, Tensor b) {
        if (!acc.isContiguous() || acc.dtype() != DType.F32) throw new ShapeException("addInPlace needs a contiguous F32 accumulator, got " + acc.describe());
        b = f32(b, "addInPlace");
        if (acc.numel() != b.numel()) throw new ShapeException("addInPlace: " + acc.describe() + " += " + b.describe());
        if (acc.numel() == 0) return;
        MemorySegment x = acc.segment(), y = b.segment();
        forRange(acc.numel(), (f, t) -> ElementwiseKernels.add(x, f, y, f, x, f, t - f));
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, float scale) { return flash(q, k, v, null, scale, "attention"); }

    @Override
    public Tensor attentionWithBias(Tensor q, Tensor k, Tensor v, Tensor bias, float scale) {
        if (bias == null) throw new ShapeException("attentionWithBias: bias must not be null");
        return flash(q, k, v, bias, scale, "attentionWithBias");
    }

    private Tensor flash(Tensor q, Tensor k, Tensor v, Tensor bias, float scale, String what) {
        if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3)
            throw new ShapeException(what + ": expected q [Lq,H,D], k [Lk,H,D], v [Lk,H,Dv], got " + q.describe() + ", " + k.describe() + ", " + v.describe());
        long lq = q.dim(0), h = q.dim(1), d = q.dim(2), lk = k.dim(0), dv = v.dim(2);
        if (k.dim(1) != h || k.dim(2) != d || v.dim(0) != lk || v.dim(1) != h)
            throw new ShapeException(what + ": q " + q.describe() + " k " + k.describe() + " v " + v.describe());
        q = unitRows(q, what + " q"); k = unitRows(k, what + " k"); v = unitRows(v, what + " v");
        MemorySegment bs = null;
        if (bias != null) {
            if (bias.rank() != 3 || bias.dim(0) != h || bias.dim(1) != lq || bias.dim(2) != lk)
                throw new ShapeException(what + ": bias " + bias.describe() + " must be [" + h + ", " + lq + ", " + lk + "]");
            bs = f32(bias, what + " bias").segment();
        }
        Tensor out = allocate(DType.F32, lq, h, dv);
        if (lq == 0 || h == 0 || dv == 0) return out;
        FlashAttention.run(pool, operand(q), operand(k), operand(v), bs, out.segment(),
                Math.toIntExact(lq), Math.toIntExact(lk), Math.toIntExact(h), Math.toIntExact(d), Math.toIntExact(dv), scale);
        return out;
    }

    /** F32 with a unit-stride last dim (any row/head strides): the layout the attention kernel reads. */
    private static Tensor unitRows(Tensor t, String what) {
        if (t.dtype() != DType.F32) throw new ShapeException(what + ": expected F32 activations, got " + t.describe());
        return t.strides()[2] == 1 || t.dim(2) <= 1 ? t : t.contiguous();
    }

    private static FlashAttention.Operand operand(Tensor t) {
        long[] st = t.strides();
        return new FlashAttention.Operand(t.storage(), t.offset(), st[0], st[1]);
    }

    @Override
    public void ropeInterleavedInPlace(Tensor x, Tensor cos, Tensor sin) {
        if (!x.isContiguous() || x.dtype() != DType.F32 || x.rank() != 3) throw new ShapeException("rope needs contiguous F32 [L,H,D], got " + x.describe());
        int l = Math.toIntExact(x.dim(0)), h = Math.toIntExact(x.dim(1)), d = Math.toIntExact(x.dim(2));
        if (cos.dim(0) != l || cos.dim(1) != d / 2 || sin.dim(0) != l || sin.dim(1) != d / 2)
            throw new ShapeException("rope: tables " + cos.describe() + " do not match x " + x.describe());
        if (d % 2 != 0 || x.numel() == 0) { super.ropeInterleavedInPlace(x, cos, sin); return; }
        float[] c = cos.toFloatArray(), s = sin.toFloatArray();
        MemorySegment xs = x.segment();
        forRows(l, (long) h * d, (t0, t1) -> {
            float[] cc = new float[d], ss = new float[d];
            for (long t = t0; t < t1; t++) RopeKernel.token(xs, t * h * d, h, d, c, s, (int) t * (d / 2), cc, ss);
        });
    }

    @Override
    public Tensor headL2Normalize(Tensor x, Tensor headScale, float eps) {
        if (x.rank() != 3) throw new ShapeException("headL2Normalize: x must be [L, H, D], got " + x.describe());
        if (x.dtype() != DType.F32 || x.strides()[2] != 1) x = f32(x, "headL2Normalize");
        long l = x.dim(0), h = x.dim(1);
        int d = Math.toIntExact(x.dim(2));
        float[] hs = headScale == null ? null : vector(headScale, h, "headL2Normalize headScale");
        Tensor out = output(DType.F32, l, h, d);
        if (out.numel() == 0) return out;
        MemorySegment xs = x.storage(), os = out.segment();
        long[] rows = rowOffsets(x);
        forRows(rows.length, d, (r0, r1) -> {
            for (long r = r0; r < r1; r++)
                HeadL2NormKernel.row(xs, rows[(int) r], os, r * d, d, hs == null ? 1f : hs[(int) (r % h)], eps);
        });
        return out;
    }

    @Override
    public void copyInto(Tensor dst, Tensor src) {
        if (dst.numel() < PAR_MIN || dst.rank() == 0 || dst.strides()[dst.rank() - 1] != 1
                || src.dtype() != DType.F32 || src.strides()[src.rank() - 1] != 1 || dst.dtype() != DType.F32
                || !Arrays.equals(dst.shape(), src.shape())) {
            super.copyInto(dst, src);
            return;
        }
        long c = dst.dim(-1);
        long[] d = rowOffsets(dst), s = rowOffsets(src);
        MemorySegment ds = dst.storage(), ss = src.storage();
        forRows(d.length, c, (r0, r1) -> {
            for (int r = (int) r0; r < r1; r++) MemorySegment.copy(ss, s[r] * 4, ds, d[r] * 4, c * 4);
        });
    }

    @Override
    public Tensor interpolate(Tensor x, int outH, int outW, Interpolation mode) {
        if (mode == Interpolation.BICUBIC) return super.interpolate(x, outH, outW, mode);
        x = f32(x, "interpolate");
        if (x.rank() != 3) throw new ShapeException("interpolate: expected a [C, H, W] map, got " + x.describe());
        int c = Math.toIntExact(x.dim(0)), ih = Math.toIntExact(x.dim(1)), iw = Math.toIntExact(x.dim(2));
        Tensor out = allocate(DType.F32, c, outH, outW);
        if (out.numel() == 0) return out;
        MemorySegment xs = x.segment(), os = out.segment();
        long inPlane = (long) ih * iw, outPlane = (long) outH * outW;
        switch (mode) {
            case NEAREST, NEAREST_EXACT -> {
                boolean exact = mode == Interpolation.NEAREST_EXACT;
                int[] sy = InterpolateKernel.nearestIndex(ih, outH, exact), sx = InterpolateKernel.nearestIndex(iw, outW, exact);
                boolean dup2 = InterpolateKernel.isDup2(sx, iw);
                forRows(c, outPlane, (c0, c1) -> {
                    for (long ch = c0; ch < c1; ch++)
                        for (int y = 0; y < outH; y++) {
                            long oo = ch * outPlane + (long) y * outW;
                            if (y > 0 && sy[y] == sy[y - 1]) MemorySegment.copy(os, (oo - outW) * 4, os, oo * 4, outW * 4L);
                            else InterpolateKernel.nearestRow(xs, ch * inPlane + (long) sy[y] * iw, os, oo, sx, dup2);
                        }
                });
            }
            case BILINEAR -> {
                InterpolateKernel.Linear ty = InterpolateKernel.Linear.of(ih, outH), tx = InterpolateKernel.Linear.of(iw, outW);
                forRows(c, outPlane, (c0, c1) -> {
                    for (long ch = c0; ch < c1; ch++)
                        for (int y = 0; y < outH; y++)
                            InterpolateKernel.bilinearRow(xs, ch * inPlane + (long) ty.i0()[y] * iw, ch * inPlane + (long) ty.i1()[y] * iw,
                                    ty.hi()[y], ty.lo()[y], os, ch * outPlane + (long) y * outW, tx);
                });
            }
            case AREA -> {
                int[][] yb = InterpolateKernel.areaBounds(ih, outH), xb = InterpolateKernel.areaBounds(iw, outW);
                forRows(c, outPlane, (c0, c1) -> {
                    for (long ch = c0; ch < c1; ch++)
                        for (int y = 0; y < outH; y++)
                            InterpolateKernel.areaRow(xs, ch * inPlane, iw, yb[0][y], yb[1][y], xb, os, ch * outPlane + (long) y * outW);
                });
            }
            default -> throw new IllegalStateException("unreachable: " + mode);
        }
        return out;
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps) {
        return groupNormApply(x, groups, groupNormStats(x, groups, eps), weight, bias, false);
    }

    @Override
    public Tensor groupNormStats(Tensor x, int groups, float eps) {
        x = f32(x, "groupNormStats");
        long c = x.dim(0), hw = x.numel() / Math.max(1, c);
        if (groups <= 0 || c % groups != 0) throw new ShapeException("groupNormStats: " + c + " channels not divisible by " + groups + " groups");
        float[] st = new float[2 * groups];
        GroupNormKernel.stats(pool, x.segment(), groups, c / groups * hw, eps, st);
        return Tensor.ofFloats(st, groups, 2);
    }

    @Override
    public Tensor groupNormApply(Tensor x, int groups, Tensor stats, Tensor weight, Tensor bias, boolean silu) {
        x = f32(x, "groupNormApply");
        long c = x.dim(0), hw = x.numel() / Math.max(1, c);
        if (groups <= 0 || c % groups != 0 || stats.numel() != 2L * groups)
            throw new ShapeException("groupNormApply: " + c + " channels, " + groups + " groups, stats " + stats.describe() + " (expected [" + groups + ", 2])");
        long cg = c / groups;
        float[] st = stats.toFloatArray();
        float[] w = vector(weight, c, "groupNormApply weight"), b = vector(bias, c, "groupNormApply bias");
        Tensor out = allocate(DType.F32, x.shape());
        if (out.numel() == 0) return out;
        MemorySegment xs = x.segment(), os = out.segment();
        forRows(c, hw, (c0, c1) -> {
            for (long ch = c0; ch < c1; ch++) {
                int g = (int) (ch / cg);
                GroupNormKernel.apply(xs, ch * hw, os, ch * hw, hw, st[2 * g], st[2 * g + 1],
                        w == null ? 1f : w[(int) ch], b == null ? 0f : b[(int) ch], silu);
            }
        });
        return out;
    }
    // ---------------------------------------------------------------------------------------------

    // ---------------------------------------------------------------- GEMM-based ops (dev.infinityj.cpu.Gemm)

    /**
     * A weight already packed (a converted file's, {@link PackedLinear}) is returned unchanged: zero
     * copy, no load step. A plain one is packed into the GEMM's panel order (same dtype and bytes,
     * the original can then be dropped) when its rows are a multiple of 16; else returned as is.
     * {@code -Dinfinityj.packWeights=false} keeps every weight in its [N, K] layout (a packed one
     * is unpacked).
     */
    @Override
    public Tensor linearWeight(Tensor w) {
        if (PackedLinear.isPacked(w)) return PACK_WEIGHTS ? w : PackedLinear.unpack(pool, w);
        return PACK_WEIGHTS && PackedLinear.packable(w) ? PackedLinear.pack(pool, w) : w;
    }

    private static final boolean PACK_WEIGHTS = !"false".equals(System.getProperty("infinityj.packWeights"));

    /**
     * y = x·wᵀ + bias on {@link Gemm}; w [out, in] F32/BF16/F16 (any strides), read in place, or a
     * weight packed by {@link #linearWeight}.
     */
    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias) {
        x = f32(x, "linear input");
        if (PackedLinear.isPacked(w)) {
            long k = x.dim(-1), n = PackedLinear.outFeatures(w), m = rows(x);
            if (PackedLinear.inFeatures(w) != k)
                throw new ShapeException("linear: input has " + k + " features, packed weight [" + n + ", " + PackedLinear.inFeatures(w) + "] expects " + PackedLinear.inFeatures(w));
            float[] b = biasOf(bias, n, "linear");
            Tensor out = output(DType.F32, withLast(x.shape(), n));
            Gemm.multiply(pool, toInt(m), toInt(n), toInt(k), Mat.rowMajor(x.storage(), x.byteOffset(), DType.F32, k),
                    PackedLinear.view(w), out.storage(), out.byteOffset(), n, b, null, false);
            return out;
        }
        if (w.rank() != 2) throw new ShapeException("linear weight must be [out, in], got " + w.describe());
        long k = x.dim(-1), n = w.dim(0), m = rows(x);
        if (w.dim(1) != k) throw new ShapeException("linear: input has " + k + " features, weight " + w.describe() + " expects " + w.dim(1));
        float[] b = biasOf(bias, n, "linear");
        Tensor out = output(DType.F32, withLast(x.shape(), n));
        Gemm.multiply(pool, toInt(m), toInt(n), toInt(k), Mat.rowMajor(x.storage(), x.byteOffset(), DType.F32, k),
                Mat.transposeOf(w), out.storage(), out.byteOffset(), n, b, null, false);
        return out;
    }

    /** Batched a[B,M,K]·b[B,K,N] (rank 2: one batch), one {@link Gemm} per batch. */
    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        a = f32(a, "matmul a"); b = f32(b, "matmul b");
        boolean r2 = a.rank() == 2;
        if (a.rank() != b.rank() || (a.rank() != 2 && a.rank() != 3) || (!r2 && a.dim(0) != b.dim(0)))
            throw new ShapeException("matmul: expected [B,M,K]·[B,K,N] or [M,K]·[K,N], got " + a.describe() + " · " + b.describe());
        long bt = r2 ? 1 : a.dim(0), m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        if (b.dim(-2) != k) throw new ShapeException("matmul: " + a.describe() + " · " + b.describe());
        Tensor out = r2 ? output(DType.F32, m, n) : output(DType.F32, bt, m, n);
        for (long z = 0; z < bt; z++)
            Gemm.multiply(pool, toInt(m), toInt(n), toInt(k),
                    Mat.rowMajor(a.storage(), a.byteOffset() + 4 * z * m * k, DType.F32, k),
                    Mat.rowMajor(b.storage(), b.byteOffset() + 4 * z * k * n, DType.F32, n),
                    out.storage(), out.byteOffset() + 4 * z * m * n, n, null, null, false);
        return out;
    }

    /**
     * conv2d as an implicit GEMM: out[O, outH·outW] = w[O, C·kh·kw] · im2col(x), the column matrix
     * gathered panel by panel ({@link ConvInput}), never materialised. 1×1 stride-1 convs read x
     * directly as the [C, H·W] matrix. x may be a view whose rows are contiguous (row bands).
     * 3×3 stride-1 pad-1 convolutions of large enough maps go through Winograd F(4×4, 3×3)
     * instead ({@link WinogradConv}; transformed weights cached once per weight tensor by
     * {@link WinogradWeights}), see {@link ConvAlgorithm}.
     */
    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding) {
        if (x.dtype() != DType.F32) throw new ShapeException("conv2d: expected F32 activations, got " + x.describe());
        if (x.rank() != 3 || w.rank() != 4)
            throw new ShapeException("conv2d: expected x [C, H, W] and w [O, C, kh, kw], got " + x.describe() + ", " + w.describe());
        if (x.strides()[2] != 1) x = x.contiguous();
        int c = toInt(x.dim(0)), h = toInt(x.dim(1)), wi = toInt(x.dim(2));
        int o = toInt(w.dim(0)), kh = toInt(w.dim(2)), kw = toInt(w.dim(3));
        if (w.dim(1) != c) throw new ShapeException("conv2d: input has " + c + " channels, weight " + w.describe());
        ConvInput col = new ConvInput(x.storage(), x.byteOffset(), x.strides()[0], x.strides()[1], h, wi, kh, kw, stride, padding);
        int ho = ConvInput.outSize(h, kh, stride, padding), wo = ConvInput.outSize(wi, kw, stride, padding);
        float[] b = biasOf(bias, o, "conv2d");
        if (kh == 3 && kw == 3 && stride == 1 && padding == 1 && useWinograd(c, o, h, wi)) {
            Tensor out = output(DType.F32, o, h, wi);
            long[] xs = x.strides();
            WinogradConv.Transformed u = WinogradWeights.cached(w, pool);
            if (u == null) u = WinogradWeights.transform(w, pool);   // over the cache budget: for this call only
            WinogradConv.conv(pool, x.storage(), x.byteOffset(), xs[0], xs[1], c, h, wi, u, b, out.storage(), out.byteOffset());
            return out;
        }
        Tensor wc = w.contiguous();
        Tensor out = allocate(DType.F32, o, ho, wo);
        long k = (long) c * kh * kw;
        Mat a = Mat.rowMajor(wc.storage(), wc.byteOffset(), wc.dtype(), k);
        long[] xs = x.strides();
        boolean plain1x1 = kh == 1 && kw == 1 && stride == 1 && padding == 0 && xs[1] == wi;
        Gemm.multiply(pool, o, toInt((long) ho * wo), toInt(k), a,
                plain1x1 ? Mat.rowMajor(x.storage(), x.byteOffset(), DType.F32, xs[0]) : col,
                out.storage(), out.byteOffset(), (long) ho * wo, null, b, false);
        return out;
    }

    /** How {@link #conv2d} computes 3×3 stride-1 pad-1 convolutions. */
    public enum ConvAlgorithm {
        /** Winograd where it was measured to pay ({@link #winogradPays}), else implicit GEMM. */
        AUTO,
        /** Always Winograd F(4×4, 3×3) ({@link WinogradConv}); for tests and benchmarks. */
        WINOGRAD,
        /** Always the implicit GEMM ({@link ConvInput}). */
        IMPLICIT_GEMM
    }

    private volatile ConvAlgorithm convAlgorithm = ConvAlgorithm.AUTO;

    /** Sets the 3×3 convolution algorithm (default {@link ConvAlgorithm#AUTO}); returns this. */
    public CpuBackend convAlgorithm(ConvAlgorithm a) { convAlgorithm = a; return this; }

    private boolean useWinograd(int c, int o, int h, int w) {
        return switch (convAlgorithm) {
            case WINOGRAD -> true;
            case IMPLICIT_GEMM -> false;
            case AUTO -> winogradPays(c, o, h, w);
        };
    }

    /** Where Winograd F(4×4, 3×3) beats the implicit GEMM (measured with ConvBench, bench/RESULTS.md). */
    public static boolean winogradPays(int c, int o, int h, int w) {
        return c >= 32 && o >= 32 && (long) h * w >= 1024;
    }

    private static float[] biasOf(Tensor bias, long n, String op) {
        if (bias == null) return null;
        if (bias.numel() != n) throw new ShapeException(op + ": bias " + bias.describe() + " does not match " + n + " outputs");
        return bias.toFloatArray();
    }

    private static int toInt(long v) {
        if (v > Integer.MAX_VALUE) throw new ShapeException("GEMM dimension too large: " + v);
        return (int) v;
    }

    // ---------------------------------------------------------------- end of GEMM-based ops

    @Override
    public void close() { pool.close(); }
}
