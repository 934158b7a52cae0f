package dev.infinityj.backend;

import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * The plain backend: scalar loops, single-threaded, correct and slow. It is the reference the fast
 * backends are tested against ({@link CpuBackend} overrides its ops one by one with Vector API
 * kernels; the CUDA backend is compared with it too), and the fallback for ops no fast backend
 * has a kernel for yet.
 */
public class NaiveBackend implements Backend {

    @Override public String name() { return "naive"; }

    @Override public Tensor allocate(DType dtype, long... shape) { return Tensor.allocate(dtype, shape); }

    @Override public Tensor upload(Tensor host) { return host; }

    @Override public Tensor download(Tensor t) { return t; }

    static Tensor f32(Tensor t, String what) {
        if (t.dtype() != DType.F32) throw new ShapeException(what + ": expected F32 activations, got " + t.describe());
        return t.contiguous();
    }

    static long rows(Tensor t) { return t.numel() / t.dim(-1); }

    static long[] withLast(long[] shape, long last) {
        long[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias) {
        x = f32(x, "linear input");
        if (w.rank() != 2) throw new ShapeException("linear weight must be [out, in], got " + w.describe());
        long k = x.dim(-1), n = w.dim(0);
        if (w.dim(1) != k) throw new ShapeException("linear: input has " + k + " features, weight " + w.describe() + " expects " + w.dim(1));
        long m = rows(x);
        Tensor wf = w.to(DType.F32);
        Tensor out = allocate(DType.F32, withLast(x.shape(), n));
        MemorySegment xs = x.segment(), ws = wf.segment(), os = out.segment();
        MemorySegment bs = bias == null ? null : bias.to(DType.F32).segment();
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) {
                float acc = 0;
                for (long p = 0; p < k; p++) acc += xs.getAtIndex(F32_LE, i * k + p) * ws.getAtIndex(F32_LE, j * k + p);
                if (bs != null) acc += bs.getAtIndex(F32_LE, j);
                os.setAtIndex(F32_LE, i * n + j, acc);
            }
        return out;
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        a = f32(a, "matmul a"); b = f32(b, "matmul b");
        boolean r2 = a.rank() == 2;
        long bt = r2 ? 1 : a.dim(0);
        long m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        if (b.dim(-2) != k) throw new ShapeException("matmul: " + a.describe() + " · " + b.describe());
        Tensor out = r2 ? allocate(DType.F32, m, n) : allocate(DType.F32, bt, m, n);
        MemorySegment as = a.segment(), bs = b.segment(), os = out.segment();
        for (long z = 0; z < bt; z++)
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++) {
                    float acc = 0;
                    for (long p = 0; p < k; p++)
                        acc += as.getAtIndex(F32_LE, z * m * k + i * k + p) * bs.getAtIndex(F32_LE, z * k * n + p * n + j);
                    os.setAtIndex(F32_LE, z * m * n + i * n + j, acc);
                }
        return out;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        x = f32(x, "layerNorm");
        long c = x.dim(-1), r = rows(x);
        Tensor out = allocate(DType.F32, x.shape());
        MemorySegment xs = x.segment(), os = out.segment();
        float[] w = weight == null ? null : weight.toFloatArray(), b = bias == null ? null : bias.toFloatArray();
        for (long i = 0; i < r; i++) {
            double mean = 0, var = 0;
            for (long j = 0; j < c; j++) mean += xs.getAtIndex(F32_LE, i * c + j);
            mean /= c;
            for (long j = 0; j < c; j++) { double d = xs.getAtIndex(F32_LE, i * c + j) - mean; var += d * d; }
            var /= c;
            double inv = 1.0 / Math.sqrt(var + eps);
            for (long j = 0; j < c; j++) {
                float v = (float) ((xs.getAtIndex(F32_LE, i * c + j) - mean) * inv);
                if (w != null) v *= w[(int) j];
                if (b != null) v += b[(int) j];
                os.setAtIndex(F32_LE, i * c + j, v);
            }
        }
        return out;
    }

    @Override
    public Tensor adaLayerNorm(Tensor x, Tensor scale, Tensor shift, float eps) {
        Tensor n = layerNorm(x, null, null, eps);
        long c = x.dim(-1), r = rows(x);
        float[] sc = scale.toFloatArray(), sh = shift.toFloatArray();
        if (sc.length != c || sh.length != c) throw new ShapeException("adaLayerNorm: scale/shift must have " + c + " elements");
        MemorySegment ns = n.segment();
        for (long i = 0; i < r; i++)
            for (int j = 0; j < c; j++) {
                long at = i * c + j;
                ns.setAtIndex(F32_LE, at, ns.getAtIndex(F32_LE, at) * (1 + sc[j]) + sh[j]);
            }
        return n;
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        x = f32(x, "rmsNorm");
        long c = x.dim(-1), r = rows(x);
        Tensor out = allocate(DType.F32, x.shape());
        MemorySegment xs = x.segment(), os = out.segment();
        float[] w = weight == null ? null : weight.toFloatArray();
        for (long i = 0; i < r; i++) {
            double ss = 0;
            for (long j = 0; j < c; j++) { double v = xs.getAtIndex(F32_LE, i * c + j); ss += v * v; }
            double inv = 1.0 / Math.sqrt(ss / c + eps);
            for (long j = 0; j < c; j++) {
                float v = (float) (xs.getAtIndex(F32_LE, i * c + j) * inv);
                if (w != null) v *= w[(int) j];
                os.setAtIndex(F32_LE, i * c + j, v);
            }
        }
        return out;
    }

    @Override
    public Tensor softmax(Tensor x) {
        x = f32(x, "softmax");
        long c = x.dim(-1), r = rows(x);
        Tensor out = allocate(DType.F32, x.shape());
        MemorySegment xs = x.segment(), os = out.segment();
        for (long i = 0; i < r; i++) {
            float mx = Float.NEGATIVE_INFINITY;
            for (long j = 0; j < c; j++) mx = Math.max(mx, xs.getAtIndex(F32_LE, i * c + j));
            double sum = 0;
            for (long j = 0; j < c; j++) sum += Math.exp(xs.getAtIndex(F32_LE, i * c + j) - mx);
            for (long j = 0; j < c; j++) os.setAtIndex(F32_LE, i * c + j, (float) (Math.exp(xs.getAtIndex(F32_LE, i * c + j) - mx) / sum));
        }
        return out;
    }

    private interface F { float apply(float v); }

    private Tensor map(Tensor x, String what, F f) {
        x = f32(x, what);
        Tensor out = allocate(DType.F32, x.shape());
        MemorySegment xs = x.segment(), os = out.segment();
        long n = x.numel();
        for (long i = 0; i < n; i++) os.setAtIndex(F32_LE, i, f.apply(xs.getAtIndex(F32_LE, i)));
        return out;
    }

    @Override
    public Tensor geluTanh(Tensor x) {
        return map(x, "gelu", z -> (float) (0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)))));
    }

    @Override
    public Tensor geluErf(Tensor x) {
        return map(x, "gelu", z -> (float) (0.5 * z * (1 + erf(z / Math.sqrt(2)))));
    }

    /** erf to ~1e-7 relative (Abramowitz–Stegun 7.1.26 is too coarse; this uses a series/continued fraction split). */
    public static double erf(double x) {
        double ax = Math.abs(x);
        double r;
        if (ax < 2.5) {
            // Maclaurin series: converges fast for |x| < 2.5
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 60; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            // continued fraction for erfc
            double t = 0;
            for (int n = 60; n >= 1; n--) t = n / 2.0 / (ax + t);
            r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + t);
        }
        return x < 0 ? -r : r;
    }

    @Override
    public Tensor silu(Tensor x) {
        return map(x, "silu", z -> (float) (z / (1 + Math.exp(-z))));
    }

    private Tensor binary(Tensor a, Tensor b, boolean mul) {
        a = f32(a, "elementwise a"); b = f32(b, "elementwise b");
        long n = a.numel(), m = b.numel();
        long[] as = a.shape(), bs = b.shape();
        if (bs.length > as.length || !Arrays.equals(bs, Arrays.copyOfRange(as, as.length - bs.length, as.length)))
            throw new ShapeException("cannot broadcast " + b.describe() + " onto " + a.describe());
        Tensor out = allocate(DType.F32, as);
        MemorySegment x = a.segment(), y = b.segment(), o = out.segment();
        for (long i = 0; i < n; i++) {
            float u = x.getAtIndex(F32_LE, i), v = y.getAtIndex(F32_LE, i % m);
            o.setAtIndex(F32_LE, i, mul ? u * v : u + v);
        }
        return out;
    }

    @Override public Tensor add(Tensor a, Tensor b) { return binary(a, b, false); }

    @Override public Tensor mul(Tensor a, Tensor b) { return binary(a, b, true); }

    @Override public Tensor scale(Tensor a, float s) { return map(a, "scale", z -> z * s); }

    @Override
    public void addInPlace(Tensor acc, Tensor b) {
        if (!acc.isContiguous() || acc.dtype() != DType.F32) throw new ShapeException("addInPlace needs a contiguous F32 accumulator");
        b = f32(b, "addInPlace");
        if (acc.numel() != b.numel()) throw new ShapeException("addInPlace: " + acc.describe() + " += " + b.describe());
        MemorySegment x = acc.segment(), y = b.segment();
        for (long i = 0; i < acc.numel(); i++) x.setAtIndex(F32_LE, i, x.getAtIndex(F32_LE, i) + y.getAtIndex(F32_LE, i));
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, float scale) {
        return attentionLoops(q, k, v, null, scale, "attention");
    }

    @Override
    public Tensor attentionWithBias(Tensor q, Tensor k, Tensor v, Tensor bias, float scale) {
        if (bias.rank() != 3 || bias.dim(0) != q.dim(1) || bias.dim(1) != q.dim(0) || bias.dim(2) != k.dim(0))
            throw new ShapeException("attentionWithBias: bias " + bias.describe() + " must be [" + q.dim(1) + ", " + q.dim(0) + ", " + k.dim(0) + "]");
        return attentionLoops(q, k, v, f32(bias, "attention bias"), scale, "attentionWithBias");
    }

    /** softmax(scale · q kᵀ (+ bias[h])) v per head, in double; bias [H, Lq, Lk] or null. */
    private Tensor attentionLoops(Tensor q, Tensor k, Tensor v, Tensor bias, float scale, String what) {
        long lq = q.dim(0), h = q.dim(1), d = q.dim(2), lk = k.dim(0), dv = v.dim(2);
        if (k.dim(1) != h || k.dim(2) != d || v.dim(0) != lk || v.dim(1) != h)
            throw new ShapeException(what + ": q " + q.describe() + " k " + k.describe() + " v " + v.describe());
        q = f32(q, "attention q"); k = f32(k, "attention k"); v = f32(v, "attention v");
        Tensor out = allocate(DType.F32, lq, h, dv);
        MemorySegment qs = q.segment(), ks = k.segment(), vs = v.segment(), os = out.segment();
        MemorySegment bs = bias == null ? null : bias.segment();
        double[] s = new double[(int) lk];
        for (long i = 0; i < lq; i++)
            for (long hh = 0; hh < h; hh++) {
                double mx = Double.NEGATIVE_INFINITY;
                for (long j = 0; j < lk; j++) {
                    double acc = 0;
                    for (long p = 0; p < d; p++) acc += qs.getAtIndex(F32_LE, (i * h + hh) * d + p) * ks.getAtIndex(F32_LE, (j * h + hh) * d + p);
                    s[(int) j] = acc * scale + (bs == null ? 0 : bs.getAtIndex(F32_LE, (hh * lq + i) * lk + j));
                    mx = Math.max(mx, s[(int) j]);
                }
                double sum = 0;
                for (int j = 0; j < lk; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
                for (long p = 0; p < dv; p++) {
                    double acc = 0;
                    for (long j = 0; j < lk; j++) acc += s[(int) j] * vs.getAtIndex(F32_LE, (j * h + hh) * dv + p);
                    os.setAtIndex(F32_LE, (i * h + hh) * dv + p, (float) (acc / sum));
                }
            }
        return out;
    }

    @Override
    public Tensor relu(Tensor x) {
        return map(x, "relu", z -> Math.max(z, 0f));
    }

    @Override
    public void ropeInterleavedInPlace(Tensor x, Tensor cos, Tensor sin) {
        if (!x.isContiguous() || x.dtype() != DType.F32) throw new ShapeException("rope needs contiguous F32 [L,H,D]");
        long l = x.dim(0), h = x.dim(1), d = x.dim(2);
        if (cos.dim(0) != l || cos.dim(1) != d / 2 || sin.dim(0) != l || sin.dim(1) != d / 2)
            throw new ShapeException("rope: tables " + cos.describe() + " do not match x " + x.describe());
        MemorySegment xs = x.segment();
        float[] c = cos.toFloatArray(), s = sin.toFloatArray();
        for (long t = 0; t < l; t++)
            for (long hh = 0; hh < h; hh++)
                for (long p = 0; p < d / 2; p++) {
                    long at = (t * h + hh) * d + 2 * p;
                    float x0 = xs.getAtIndex(F32_LE, at), x1 = xs.getAtIndex(F32_LE, at + 1);
                    float cc = c[(int) (t * (d / 2) + p)], ss = s[(int) (t * (d / 2) + p)];
                    xs.setAtIndex(F32_LE, at, x0 * cc - x1 * ss);
                    xs.setAtIndex(F32_LE, at + 1, x0 * ss + x1 * cc);
                }
    }

    /** Element offsets of the first element of every last-dim row of t, in row-major order. */
    static long[] rowOffsets(Tensor t) {
        long[] shape = t.shape(), st = t.strides();
        int r = shape.length - 1;
        long n = 1;
        for (int i = 0; i < r; i++) n *= shape[i];
        long[] out = new long[Math.toIntExact(n)];
        long[] idx = new long[Math.max(r, 0)];
        for (int i = 0; i < out.length; i++) {
            long e = t.offset();
            for (int k = 0; k < r; k++) e += idx[k] * st[k];
            out[i] = e;
            for (int k = r - 1; k >= 0; k--) { if (++idx[k] < shape[k]) break; idx[k] = 0; }
        }
        return out;
    }

    @Override
    public Tensor headL2Normalize(Tensor x, Tensor headScale, float eps) {
        if (x.rank() != 3) throw new ShapeException("headL2Normalize: x must be [L, H, D], got " + x.describe());
        if (x.dtype() != DType.F32 || x.strides()[2] != 1) x = f32(x, "headL2Normalize");
        long l = x.dim(0), h = x.dim(1), d = x.dim(2);
        float[] hs = headScale == null ? null : headScale.toFloatArray();
        if (hs != null && hs.length != h) throw new ShapeException("headL2Normalize: headScale has " + hs.length + " entries for " + h + " heads");
        Tensor out = allocate(DType.F32, l, h, d);
        MemorySegment xs = x.storage(), os = out.segment();
        long[] rows = rowOffsets(x); // strided [L, H] rows of D contiguous floats (e.g. q of a packed qkv)
        for (int r = 0; r < rows.length; r++) {
            long base = rows[r];
            double ss = 0;
            for (long p = 0; p < d; p++) { double v = xs.getAtIndex(F32_LE, base + p); ss += v * v; }
            float inv = 1f / Math.max((float) Math.sqrt(ss), eps);
            float m = hs == null ? 1f : hs[(int) (r % h)];
            for (long p = 0; p < d; p++) os.setAtIndex(F32_LE, r * d + p, xs.getAtIndex(F32_LE, base + p) * inv * m);
        }
        return out;
    }

    @Override
    public void copyInto(Tensor dst, Tensor src) {
        if (!Arrays.equals(dst.shape(), src.shape()))
            throw new ShapeException("copyInto: " + src.describe() + " into " + dst.describe());
        if (dst.dtype() != DType.F32) throw new ShapeException("copyInto: destination must be F32, got " + dst.describe());
        if (dst.numel() == 0) return;
        if (src.dtype() != DType.F32 || (src.rank() > 0 && src.strides()[src.rank() - 1] != 1)) src = src.to(DType.F32);
        if (dst.rank() == 0 || dst.strides()[dst.rank() - 1] != 1) {
            float[] v = src.toFloatArray();
            long[] shape = dst.shape(), st = dst.strides(), idx = new long[shape.length];
            for (int i = 0; i < v.length; i++) {
                long e = dst.offset();
                for (int k = 0; k < idx.length; k++) e += idx[k] * st[k];
                dst.storage().setAtIndex(F32_LE, e, v[i]);
                for (int k = shape.length - 1; k >= 0; k--) { if (++idx[k] < shape[k]) break; idx[k] = 0; }
            }
            return;
        }
        // both have a unit-stride last dim: bulk-copy row by row (KV-cache writes, stacking batch rows)
        long c = dst.dim(-1);
        long[] d = rowOffsets(dst), s2 = rowOffsets(src);
        for (int r = 0; r < d.length; r++)
            MemorySegment.copy(src.storage(), s2[r] * 4, dst.storage(), d[r] * 4, c * 4);
    }

    @Override
    public Tensor interpolate(Tensor x, int outH, int outW, Interpolation mode) {
        return InterpolationReference.interpolate(f32(x, "interpolate"), outH, outW, mode);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding) {
        x = f32(x, "conv2d");
        long c = x.dim(0), hi = x.dim(1), wi = x.dim(2);
        long o = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        if (w.dim(1) != c) throw new ShapeException("conv2d: input has " + c + " channels, weight " + w.describe());
        long ho = (hi + 2L * padding - kh) / stride + 1, wo = (wi + 2L * padding - kw) / stride + 1;
        Tensor out = allocate(DType.F32, o, ho, wo);
        float[] wf = w.toFloatArray(), bf = bias == null ? null : bias.toFloatArray();
        MemorySegment xs = x.segment(), os = out.segment();
        for (long oc = 0; oc < o; oc++)
            for (long y = 0; y < ho; y++)
                for (long xx = 0; xx < wo; xx++) {
                    float acc = bf == null ? 0 : bf[(int) oc];
                    for (long ic = 0; ic < c; ic++)
                        for (long dy = 0; dy < kh; dy++) {
                            long iy = y * stride - padding + dy;
                            if (iy < 0 || iy >= hi) continue;
                            for (long dx = 0; dx < kw; dx++) {
                                long ix = xx * stride - padding + dx;
                                if (ix < 0 || ix >= wi) continue;
                                acc += xs.getAtIndex(F32_LE, (ic * hi + iy) * wi + ix) * wf[(int) (((oc * c + ic) * kh + dy) * kw + dx)];
                            }
                        }
                    os.setAtIndex(F32_LE, (oc * ho + y) * wo + xx, acc);
                }
        return out;
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps) {
        x = f32(x, "groupNorm");
        long c = x.dim(0), hw = x.numel() / c;
        if (c % groups != 0) throw new ShapeException("groupNorm: " + c + " channels not divisible by " + groups + " groups");
        long cg = c / groups;
        Tensor out = allocate(DType.F32, x.shape());
        MemorySegment xs = x.segment(), os = out.segment();
        float[] w = weight == null ? null : weight.toFloatArray(), b = bias == null ? null : bias.toFloatArray();
        for (long g = 0; g < groups; g++) {
            long base = g * cg * hw, n = cg * hw;
            double mean = 0, var = 0;
            for (long i = 0; i < n; i++) mean += xs.getAtIndex(F32_LE, base + i);
            mean /= n;
            for (long i = 0; i < n; i++) { double dd = xs.getAtIndex(F32_LE, base + i) - mean; var += dd * dd; }
            var /= n;
            double inv = 1 / Math.sqrt(var + eps);
            for (long i = 0; i < n; i++) {
                int ch = (int) (g * cg + i / hw);
                float v = (float) ((xs.getAtIndex(F32_LE, base + i) - mean) * inv);
                if (w != null) v *= w[ch];
                if (b != null) v += b[ch];
                os.setAtIndex(F32_LE, base + i, v);
            }
        }
        return out;
    }

    @Override
    public Tensor groupNormStats(Tensor x, int groups, float eps) { return GroupNormReference.stats(x, groups, eps); }

    @Override
    public Tensor groupNormApply(Tensor x, int groups, Tensor stats, Tensor weight, Tensor bias, boolean silu) {
        return GroupNormReference.apply(x, groups, stats, weight, bias, silu);
    }
}
