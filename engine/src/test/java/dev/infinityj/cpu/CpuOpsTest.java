package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.backend.InterpolationReference;
import dev.infinityj.backend.Interpolation;
import dev.infinityj.backend.NaiveBackend;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;

import static dev.infinityj.cpu.KernelTestSupport.assertBitEqual;
import static dev.infinityj.cpu.KernelTestSupport.assertClose;
import static dev.infinityj.cpu.KernelTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Every CpuBackend op except linear/matmul/conv2d/attention against float64 formulas written here
 * (or, for interpolation, bit-exactly against InterpolationReference, the PyTorch-exact scalar
 * loops), on odd sizes, and 1 vs 2 threads bit-identical on inputs large enough to be split.
 */
class CpuOpsTest {
    static final CpuBackend ONE = new CpuBackend(1), TWO = new CpuBackend(2);

    @AfterAll
    static void close() { ONE.close(); TWO.close(); }

    static double[] d(Tensor t) { return t.toDoubleArray(); }

    /** Row-wise float64 reference: f(row) → output row. */
    interface RowRef { double[] apply(double[] row, int r); }

    static double[] rows(Tensor x, RowRef f) {
        int c = (int) x.dim(-1), n = (int) (x.numel() / Math.max(1, c));
        double[] a = d(x), out = new double[a.length];
        for (int r = 0; r < n; r++) {
            double[] row = java.util.Arrays.copyOfRange(a, r * c, r * c + c);
            System.arraycopy(f.apply(row, r), 0, out, r * c, c);
        }
        return out;
    }

    static double[] layerNormRef(Tensor x, float[] w, float[] b, double eps) {
        return rows(x, (row, r) -> {
            double m = 0, v = 0;
            for (double e : row) m += e;
            m /= row.length;
            for (double e : row) v += (e - m) * (e - m);
            v /= row.length;
            double[] o = new double[row.length];
            for (int j = 0; j < row.length; j++)
                o[j] = (row[j] - m) / Math.sqrt(v + eps) * (w == null ? 1 : w[j]) + (b == null ? 0 : b[j]);
            return o;
        });
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "7, 97", "3, 1025", "257, 129", "5, 8"})
    void layerNormWithAndWithoutAffine(int r, int c) {
        Tensor x = tensor(1, 3, r, c);
        // shifted rows: the mean is large against the spread (catches one-pass variance)
        Tensor xs = ONE.add(x, shift(c, 40f));
        float[] w = KernelTestSupport.random(2, c, 2), b = KernelTestSupport.random(3, c, 1);
        Tensor wt = Tensor.ofFloats(w, c), bt = Tensor.ofFloats(b, c);
        for (CpuBackend be : new CpuBackend[]{ONE, TWO}) {
            assertClose("layerNorm affine", layerNormRef(x, w, b, 1e-6), be.layerNorm(x, wt, bt, 1e-6f).toFloatArray(), 2e-6, 2e-6);
            assertClose("layerNorm plain", layerNormRef(x, null, null, 1e-5), be.layerNorm(x, null, null, 1e-5f).toFloatArray(), 2e-6, 2e-6);
            assertClose("layerNorm shifted", layerNormRef(xs, null, null, 1e-6), be.layerNorm(xs, null, null, 1e-6f).toFloatArray(), 2e-5, 2e-5);
        }
        if ((long) r * c > 32768)
            assertBitEqual("layerNorm threads", ONE.layerNorm(x, wt, bt, 1e-6f).toFloatArray(), TWO.layerNorm(x, wt, bt, 1e-6f).toFloatArray());
    }

    static Tensor shift(int c, float v) {
        float[] a = new float[c];
        java.util.Arrays.fill(a, v);
        return Tensor.ofFloats(a, c);
    }

    @Test
    void adaLayerNormTakesStridedScaleAndShift() {
        int r = 9, c = 97;
        Tensor x = tensor(4, 2, r, c);
        Tensor mod = tensor(5, 0.5, 2, c).transpose(0, 1);          // [c, 2] strided: column 0 scale, column 1 shift
        Tensor scale = mod.transpose(0, 1).get(0), shiftT = mod.transpose(0, 1).get(1);
        float[] sc = scale.toFloatArray(), sh = shiftT.toFloatArray(), w = new float[c];
        for (int j = 0; j < c; j++) w[j] = 1 + sc[j];
        double[] ref = layerNormRef(x, w, sh, 1e-6);
        assertClose("adaLayerNorm", ref, ONE.adaLayerNorm(x, scale, shiftT, 1e-6f).toFloatArray(), 2e-6, 2e-6);
        assertThrows(ShapeException.class, () -> ONE.adaLayerNorm(x, tensor(1, 1, c - 1), shiftT, 1e-6f));
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "7, 97", "300, 257"})
    void rmsNormAndSoftmax(int r, int c) {
        Tensor x = tensor(6, 4, r, c);
        float[] w = KernelTestSupport.random(7, c, 2);
        double[] rms = rows(x, (row, i) -> {
            double ss = 0;
            for (double e : row) ss += e * e;
            double[] o = new double[row.length];
            for (int j = 0; j < row.length; j++) o[j] = row[j] / Math.sqrt(ss / row.length + 1e-6) * w[j];
            return o;
        });
        double[] sm = rows(x, (row, i) -> {
            double mx = Double.NEGATIVE_INFINITY, s = 0;
            for (double e : row) mx = Math.max(mx, e);
            double[] o = new double[row.length];
            for (int j = 0; j < row.length; j++) { o[j] = Math.exp(row[j] - mx); s += o[j]; }
            for (int j = 0; j < row.length; j++) o[j] /= s;
            return o;
        });
        for (CpuBackend be : new CpuBackend[]{ONE, TWO}) {
            assertClose("rmsNorm", rms, be.rmsNorm(x, Tensor.ofFloats(w, c), 1e-6f).toFloatArray(), 2e-6, 1e-7);
            assertClose("softmax", sm, be.softmax(x).toFloatArray(), 2e-6, 1e-12);
        }
        assertBitEqual("softmax threads", ONE.softmax(x).toFloatArray(), TWO.softmax(x).toFloatArray());
        assertBitEqual("rmsNorm threads", ONE.rmsNorm(x, null, 1e-6f).toFloatArray(), TWO.rmsNorm(x, null, 1e-6f).toFloatArray());
    }

    static void checkMap(String what, Function<CpuBackend, Function<Tensor, Tensor>> op, DoubleUnaryOperator ref, double rtol, double atol) {
        for (int n : new int[]{1, 7, 97, 1025, 40_001}) {
            Tensor x = tensor(n, 8, n);
            double[] a = d(x), r = new double[n];
            for (int i = 0; i < n; i++) r[i] = ref.applyAsDouble(a[i]);
            float[] one = op.apply(ONE).apply(x).toFloatArray();
            assertClose(what + " n=" + n, r, one, rtol, atol);
            assertBitEqual(what + " threads n=" + n, one, op.apply(TWO).apply(x).toFloatArray());
        }
        // extremes stay finite and right-signed
        Tensor e = Tensor.ofFloats(new float[]{-100f, -30f, 0f, 30f, 100f, -0f, 1e-30f}, 7);
        double[] ea = d(e), er = new double[7];
        for (int i = 0; i < 7; i++) er[i] = ref.applyAsDouble(ea[i]);
        assertClose(what + " extremes", er, op.apply(ONE).apply(e).toFloatArray(), rtol, 1e-30);
    }

    static final double SQ2PI = Math.sqrt(2 / Math.PI);

    @Test
    void geluTanh() {
        checkMap("geluTanh", be -> be::geluTanh, z -> 0.5 * z * (1 + Math.tanh(SQ2PI * (z + 0.044715 * z * z * z))), 2e-6, 1e-12);
    }

    @Test
    void geluErf() {
        checkMap("geluErf", be -> be::geluErf, z -> 0.5 * z * (1 + NaiveBackend.erf(z / Math.sqrt(2))), 3e-6, 1e-12);
    }

    @Test
    void siluAndRelu() {
        checkMap("silu", be -> be::silu, z -> z / (1 + Math.exp(-z)), 2e-6, 1e-35);
        checkMap("relu", be -> be::relu, z -> Math.max(z, 0), 0, 0);
        checkMap("scale", be -> x -> be.scale(x, -0.37f), z -> z * (double) -0.37f, 1e-7, 0);
    }

    @Test
    void addMulWithSuffixBroadcastAndAddInPlace() {
        Tensor a = tensor(8, 2, 5, 7, 97), same = tensor(9, 2, 5, 7, 97), row = tensor(10, 2, 97), plane = tensor(11, 2, 7, 97);
        Tensor big = tensor(12, 2, 401, 97), bigRow = tensor(13, 2, 97);
        for (Tensor[] p : new Tensor[][]{{a, same}, {a, row}, {a, plane}, {big, bigRow}, {big, tensor(14, 1, 401, 97)}}) {
            double[] x = d(p[0]), y = d(p[1]), add = new double[x.length], mul = new double[x.length];
            for (int i = 0; i < x.length; i++) { add[i] = x[i] + y[i % y.length]; mul[i] = x[i] * y[i % y.length]; }
            for (CpuBackend be : new CpuBackend[]{ONE, TWO}) {
                assertClose("add " + p[1].describe(), add, be.add(p[0], p[1]).toFloatArray(), 1e-7, 1e-7);
                assertClose("mul " + p[1].describe(), mul, be.mul(p[0], p[1]).toFloatArray(), 1e-7, 1e-12);
            }
        }
        assertThrows(ShapeException.class, () -> ONE.add(a, tensor(1, 1, 96)));
        assertThrows(ShapeException.class, () -> ONE.mul(row, a));
        Tensor acc = tensor(15, 1, 40_001), b = tensor(16, 1, 40_001);
        double[] ref = d(acc), bb = d(b);
        for (int i = 0; i < ref.length; i++) ref[i] += bb[i];
        TWO.addInPlace(acc, b);
        assertClose("addInPlace", ref, acc.toFloatArray(), 1e-7, 1e-7);
        assertThrows(ShapeException.class, () -> ONE.addInPlace(tensor(1, 1, 4, 2).transpose(0, 1), tensor(2, 1, 2, 4)));
    }

    @ParameterizedTest
    @CsvSource({"7, 3, 10", "97, 2, 24", "5, 1, 2", "300, 4, 64"})
    void ropeInterleaved(int l, int h, int dd) {
        Tensor x = tensor(17, 2, l, h, dd), cos = tensor(18, 1, l, dd / 2), sin = tensor(19, 1, l, dd / 2);
        double[] xa = d(x), c = d(cos), s = d(sin), ref = xa.clone();
        for (int t = 0; t < l; t++)
            for (int j = 0; j < h; j++)
                for (int p = 0; p < dd / 2; p++) {
                    int at = (t * h + j) * dd + 2 * p;
                    double cc = c[t * dd / 2 + p], ss = s[t * dd / 2 + p];
                    ref[at] = xa[at] * cc - xa[at + 1] * ss;
                    ref[at + 1] = xa[at] * ss + xa[at + 1] * cc;
                }
        Tensor a = tensor(17, 2, l, h, dd), b = tensor(17, 2, l, h, dd), n = tensor(17, 2, l, h, dd);
        ONE.ropeInterleavedInPlace(a, cos, sin);
        TWO.ropeInterleavedInPlace(b, cos, sin);
        new NaiveBackend().ropeInterleavedInPlace(n, cos, sin);
        assertClose("rope", ref, a.toFloatArray(), 1e-6, 1e-6);
        assertBitEqual("rope threads", a.toFloatArray(), b.toFloatArray());
        assertBitEqual("rope vs scalar loop", a.toFloatArray(), n.toFloatArray());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 13, 128})
    void headL2NormalizeOnPackedQkv(int dd) {
        int l = 300, h = 3;
        Tensor qkv = tensor(20, 2, l, 3 * h * dd);
        Tensor q = qkv.reshape(l, 3, h, dd).permute(1, 0, 2, 3).get(0);
        float[] hs = {2f, 0.5f, 7f};
        double[] qa = d(q), ref = new double[qa.length];
        for (int r = 0; r < l * h; r++) {
            double ss = 0;
            for (int p = 0; p < dd; p++) ss += qa[r * dd + p] * qa[r * dd + p];
            for (int p = 0; p < dd; p++) ref[r * dd + p] = qa[r * dd + p] / Math.max(Math.sqrt(ss), 1e-12) * hs[r % h];
        }
        Tensor hst = Tensor.ofFloats(hs, h);
        float[] one = ONE.headL2Normalize(q, hst, 1e-12f).toFloatArray();
        assertClose("headL2Normalize", ref, one, 1e-6, 1e-7);
        assertBitEqual("headL2Normalize threads", one, TWO.headL2Normalize(q, hst, 1e-12f).toFloatArray());
    }

    @Test
    void copyIntoStridedCacheRows() {
        int cap = 700, h = 4, dd = 17, start = 123, l = 500;
        Tensor cache = Tensor.allocate(DType.F32, cap, h, dd);
        Tensor packed = tensor(21, 1, l, 2 * h * dd);
        Tensor v = packed.reshape(l, 2, h, dd).permute(1, 0, 2, 3).get(1);      // strided source
        TWO.copyInto(cache.slice(0, start, start + l), v);
        float[] c = cache.toFloatArray(), p = packed.toFloatArray();
        double[] ref = new double[c.length];
        for (int t = 0; t < l; t++)
            for (int j = 0; j < h * dd; j++) ref[(start + t) * h * dd + j] = p[t * 2 * h * dd + h * dd + j];
        assertClose("copyInto", ref, c, 0, 0);
    }

    @Test
    void groupNormStatsApplyAndBands() {
        for (long[] shape : new long[][]{{12, 37, 41}, {8, 129, 131}, {4, 1, 1}}) {
            int c = (int) shape[0], groups = 4, hw = (int) (shape[1] * shape[2]), cg = c / groups;
            Tensor x = tensor(22, 3, shape);
            Tensor xs = ONE.add(x, shiftMap(shape, 20f));
            float[] w = KernelTestSupport.random(23, c, 2), b = KernelTestSupport.random(24, c, 1);
            Tensor wt = Tensor.ofFloats(w, c), bt = Tensor.ofFloats(b, c);
            for (Tensor in : new Tensor[]{x, xs}) {
                double[] a = d(in), ref = new double[a.length], refSilu = new double[a.length];
                for (int g = 0; g < groups; g++) {
                    int n = cg * hw;
                    double m = 0, v = 0;
                    for (int i = 0; i < n; i++) m += a[g * n + i];
                    m /= n;
                    for (int i = 0; i < n; i++) v += (a[g * n + i] - m) * (a[g * n + i] - m);
                    v /= n;
                    for (int i = 0; i < n; i++) {
                        int ch = g * cg + i / hw;
                        double y = (a[g * n + i] - m) / Math.sqrt(v + 1e-6) * w[ch] + b[ch];
                        ref[g * n + i] = y;
                        refSilu[g * n + i] = y / (1 + Math.exp(-y));
                    }
                }
                for (CpuBackend be : new CpuBackend[]{ONE, TWO}) {
                    assertClose("groupNorm " + in.describe(), ref, be.groupNorm(in, groups, wt, bt, 1e-6f).toFloatArray(), 1e-5, 1e-5);
                    Tensor st = be.groupNormStats(in, groups, 1e-6f);
                    assertClose("groupNormApply+silu", refSilu, be.groupNormApply(in, groups, st, wt, bt, true).toFloatArray(), 1e-5, 1e-5);
                }
                Tensor s1 = ONE.groupNormStats(in, groups, 1e-6f), s2 = TWO.groupNormStats(in, groups, 1e-6f);
                assertBitEqual("groupNormStats threads", s1.toFloatArray(), s2.toFloatArray());
                assertBitEqual("groupNormApply threads", ONE.groupNormApply(in, groups, s1, wt, bt, true).toFloatArray(),
                        TWO.groupNormApply(in, groups, s1, wt, bt, true).toFloatArray());
                // a band of rows with the whole map's statistics = the same rows of the whole map
                if (shape[1] > 3) {
                    Tensor whole = TWO.groupNormApply(in, groups, s1, wt, bt, true);
                    Tensor band = TWO.groupNormApply(in.slice(1, 2, 3 + 1), groups, s1, wt, bt, true);
                    assertBitEqual("band", whole.slice(1, 2, 3 + 1).contiguous().toFloatArray(), band.toFloatArray());
                }
            }
        }
        assertThrows(ShapeException.class, () -> ONE.groupNormStats(tensor(1, 1, 6, 2, 2), 4, 1e-6f));
    }

    static Tensor shiftMap(long[] shape, float v) {
        float[] a = new float[(int) Tensor.numel(shape)];
        java.util.Arrays.fill(a, v);
        return Tensor.ofFloats(a, shape);
    }

    @ParameterizedTest
    @CsvSource({
            "NEAREST, 3, 7, 9, 14, 18", "NEAREST, 5, 33, 129, 66, 258", "NEAREST, 2, 7, 9, 5, 13", "NEAREST_EXACT, 3, 7, 9, 11, 4",
            "BILINEAR, 5, 7, 9, 13, 17", "BILINEAR, 4, 64, 64, 23, 37", "BILINEAR, 32, 16, 16, 64, 64",
            "AREA, 4, 16, 16, 7, 5", "AREA, 32, 64, 64, 13, 13", "AREA, 2, 7, 5, 16, 16", "BICUBIC, 2, 9, 7, 16, 5"})
    void interpolateIsBitExactWithTheReference(Interpolation mode, int c, int ih, int iw, int oh, int ow) {
        Tensor x = tensor(25, 3, c, ih, iw);
        float[] ref = InterpolationReference.interpolate(x, oh, ow, mode).toFloatArray();
        assertBitEqual(mode + " 1 thread", ref, ONE.interpolate(x, oh, ow, mode).toFloatArray());
        assertBitEqual(mode + " 2 threads", ref, TWO.interpolate(x, oh, ow, mode).toFloatArray());
    }

    @Test
    void nearestTimesTwoIsPlainDuplication() {
        // independent of the reference: out[c, y, x] = in[c, y/2, x/2]
        int c = 3, ih = 11, iw = 37;
        Tensor x = tensor(26, 1, c, ih, iw);
        float[] in = x.toFloatArray(), out = TWO.interpolate(x, 2 * ih, 2 * iw, Interpolation.NEAREST).toFloatArray();
        double[] ref = new double[out.length];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < 2 * ih; y++)
                for (int xx = 0; xx < 2 * iw; xx++) ref[(ch * 2 * ih + y) * 2 * iw + xx] = in[(ch * ih + y / 2) * iw + xx / 2];
        assertClose("nearest x2", ref, out, 0, 0);
    }
}
