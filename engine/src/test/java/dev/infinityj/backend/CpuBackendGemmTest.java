package dev.infinityj.backend;

import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * CpuBackend's GEMM-based ops (linear, matmul, conv2d) against float64 references written here,
 * on odd sizes; conv2d with 3×3 pad 1, 1×1, stride 2, odd H/W/channels and row-band views; and
 * 1 vs 2 threads bit for bit. Tolerance (K+3)·2⁻²⁴·Σ|terms|·1.5, K the reduction length (see GemmTest).
 */
class CpuBackendGemmTest {
    private static final CpuBackend ONE = new CpuBackend(1), TWO = new CpuBackend(2);

    @AfterAll
    static void stop() { ONE.close(); TWO.close(); }

    private static Tensor random(Random r, DType dt, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.ofFloats(v, shape).to(dt);
    }

    private static void close(double exact, double mag, long k, float got, String what) {
        double tol = 1.5 * (k + 3) * Math.scalb(1.0, -24) * mag + 1e-30;
        if (Math.abs(got - exact) > tol) fail(what + ": got " + got + ", float64 " + exact + ", tolerance " + tol);
    }

    private static void sameBits(Tensor a, Tensor b, String what) {
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        assertEquals(x.length, y.length, what);
        for (int i = 0; i < x.length; i++)
            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) fail(what + ": threads differ at " + i);
    }

    @Test
    void linearAllWeightTypesWithLeadingDims() {
        Random r = new Random(3);
        int[][] shapes = {{2, 3, 97, 33}, {1, 17, 257, 7}, {3, 41, 130, 70}, {1, 1, 5, 1}};  // leading a, b; K; N
        for (int[] s : shapes)
            for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16})
                for (boolean withBias : new boolean[] {false, true}) {
                    int a0 = s[0], a1 = s[1], k = s[2], n = s[3];
                    Tensor x = random(r, DType.F32, a0, a1, k), w = random(r, dt, n, k);
                    Tensor b = withBias ? random(r, DType.BF16, n) : null;
                    Tensor y = ONE.linear(x, w, b);
                    assertArrayEquals(new long[] {a0, a1, n}, y.shape());
                    sameBits(y, TWO.linear(x, w, b), "linear");
                    double[] xv = x.toDoubleArray(), wv = w.toDoubleArray();
                    double[] bv = b == null ? null : b.toDoubleArray();
                    float[] got = y.toFloatArray();
                    for (int i = 0; i < a0 * a1; i++)
                        for (int j = 0; j < n; j++) {
                            double e = bv == null ? 0 : bv[j], mag = Math.abs(e);
                            for (int p = 0; p < k; p++) { double t = xv[i * k + p] * wv[j * k + p]; e += t; mag += Math.abs(t); }
                            close(e, mag, k, got[i * n + j], "linear " + dt + " " + java.util.Arrays.toString(s));
                        }
                }
    }

    /**
     * Weights packed by linearWeight (16-row panels): every M from 1 (the small-M range, where the
     * unpacked weight streams instead) to 200, K across the packed K block, against float64; 1 vs 2
     * threads bit for bit; a strided
     * source view packs like its contiguous copy; rows not a multiple of 16 stay unpacked.
     */
    @Test
    void packedLinearWeights() {
        Random r = new Random(11);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16})
            for (int[] s : new int[][] {{1, 97, 48}, {2, 33, 16}, {9, 130, 64}, {65, 257, 32}, {200, 300, 80}, {17, 1100, 32}}) {
                int m = s[0], k = s[1], n = s[2];
                Tensor x = random(r, DType.F32, m, k), w = random(r, dt, n, k), b = random(r, DType.F32, n);
                Tensor packed = ONE.linearWeight(w);
                assertEquals(3, packed.rank(), "packed " + java.util.Arrays.toString(packed.shape()));
                Tensor y = ONE.linear(x, packed, b);
                assertArrayEquals(new long[] {m, n}, y.shape());
                sameBits(y, TWO.linear(x, TWO.linearWeight(w), b), "packed linear, 1 vs 2 threads");
                double[] xv = x.toDoubleArray(), wv = w.toDoubleArray(), bv = b.toDoubleArray();
                float[] got = y.toFloatArray();
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double e = bv[j], mag = Math.abs(e);
                        for (int p = 0; p < k; p++) { double t = xv[i * k + p] * wv[j * k + p]; e += t; mag += Math.abs(t); }
                        close(e, mag, k, got[i * n + j], "packed linear " + dt + " " + java.util.Arrays.toString(s));
                    }
            }
        Tensor wide = random(r, DType.BF16, 32, 90), view = wide.slice(1, 5, 77);   // rows 90 apart, 72 columns
        Tensor x = random(r, DType.F32, 70, 72);
        sameBits(ONE.linear(x, ONE.linearWeight(view), null), ONE.linear(x, ONE.linearWeight(view.contiguous()), null), "strided source");
        Tensor odd = random(r, DType.BF16, 40, 8);
        assertEquals(2, ONE.linearWeight(odd).rank(), "40 rows is not a multiple of 16: left unpacked");
    }

    @Test
    void linearOnStridedWeightView() {
        // a column slice of a wider weight: rows of w are not contiguous with each other
        Random r = new Random(4);
        Tensor big = random(r, DType.BF16, 23, 40), w = big.slice(1, 3, 40 - 6);   // [23, 31]
        Tensor x = random(r, DType.F32, 9, 31);
        float[] got = ONE.linear(x, w, null).toFloatArray();
        double[] xv = x.toDoubleArray(), wv = w.toDoubleArray();
        for (int i = 0; i < 9; i++)
            for (int j = 0; j < 23; j++) {
                double e = 0, mag = 0;
                for (int p = 0; p < 31; p++) { e += xv[i * 31 + p] * wv[j * 31 + p]; mag += Math.abs(xv[i * 31 + p] * wv[j * 31 + p]); }
                close(e, mag, 31, got[i * 23 + j], "strided weight");
            }
    }

    @Test
    void batchedMatmul() {
        Random r = new Random(5);
        for (int[] s : new int[][] {{3, 7, 97, 33}, {1, 130, 19, 257}, {2, 1, 1, 1}}) {
            int bt = s[0], m = s[1], k = s[2], n = s[3];
            Tensor a = random(r, DType.F32, bt, m, k), b = random(r, DType.F32, bt, k, n);
            Tensor y = ONE.matmul(a, b);
            sameBits(y, TWO.matmul(a, b), "matmul");
            double[] av = a.toDoubleArray(), bv = b.toDoubleArray();
            float[] got = y.toFloatArray();
            for (int z = 0; z < bt; z++)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double e = 0, mag = 0;
                        for (int p = 0; p < k; p++) {
                            double t = av[(z * m + i) * k + p] * bv[(z * k + p) * n + j];
                            e += t; mag += Math.abs(t);
                        }
                        close(e, mag, k, got[(z * m + i) * n + j], "matmul");
                    }
        }
        // rank 2
        Tensor a = random(r, DType.F32, 6, 11), b = random(r, DType.F32, 11, 18);
        float[] got = ONE.matmul(a, b).toFloatArray(), ref = new NaiveBackend().matmul(a, b).toFloatArray();
        for (int i = 0; i < got.length; i++) assertEquals(ref[i], got[i], 1e-4f * (1 + Math.abs(ref[i])));
    }

    /** float64 conv of x [C,H,W] (as doubles) with w [O,C,kh,kw]. */
    private static void checkConv(Tensor x, Tensor w, Tensor bias, int stride, int pad, String what) {
        Tensor y = ONE.conv2d(x, w, bias, stride, pad);
        sameBits(y, TWO.conv2d(x, w, bias, stride, pad), what);
        int c = (int) x.dim(0), h = (int) x.dim(1), wi = (int) x.dim(2);
        int o = (int) w.dim(0), kh = (int) w.dim(2), kw = (int) w.dim(3);
        int ho = (h + 2 * pad - kh) / stride + 1, wo = (wi + 2 * pad - kw) / stride + 1;
        assertArrayEquals(new long[] {o, ho, wo}, y.shape(), what);
        double[] xv = x.contiguous().toDoubleArray(), wv = w.toDoubleArray();
        double[] bv = bias == null ? null : bias.toDoubleArray();
        float[] got = y.toFloatArray();
        long k = (long) c * kh * kw;
        for (int oc = 0; oc < o; oc++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double e = bv == null ? 0 : bv[oc], mag = Math.abs(e);
                    for (int ic = 0; ic < c; ic++)
                        for (int dy = 0; dy < kh; dy++)
                            for (int dx = 0; dx < kw; dx++) {
                                int iy = oy * stride - pad + dy, ix = ox * stride - pad + dx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wi) continue;
                                double t = xv[(ic * h + iy) * wi + ix] * wv[((oc * c + ic) * kh + dy) * kw + dx];
                                e += t; mag += Math.abs(t);
                            }
                    close(e, mag, k, got[(oc * ho + oy) * wo + ox], what + " at (" + oc + "," + oy + "," + ox + ")");
                }
    }

    @Test
    void conv3x3Pad1OddSizes() {
        Random r = new Random(6);
        // W = 37: panels of 16 pixels both inside one output row (vector path, with left/right
        // padding columns) and straddling rows (general path)
        checkConv(random(r, DType.F32, 5, 13, 37), random(r, DType.F32, 7, 5, 3, 3), random(r, DType.F32, 7), 1, 1, "3x3 pad1");
        checkConv(random(r, DType.F32, 3, 9, 16), random(r, DType.BF16, 11, 3, 3, 3), null, 1, 1, "3x3 pad1 W=16 bf16 w");
        checkConv(random(r, DType.F32, 33, 6, 64), random(r, DType.F32, 3, 33, 3, 3), random(r, DType.F32, 3), 1, 1, "3x3 K=297 O=3");
        checkConv(random(r, DType.F32, 2, 1, 1), random(r, DType.F32, 3, 2, 3, 3), null, 1, 1, "1x1 map");
    }

    @Test
    void conv1x1AndStride2() {
        Random r = new Random(7);
        checkConv(random(r, DType.F32, 19, 7, 23), random(r, DType.F32, 9, 19, 1, 1), random(r, DType.F32, 9), 1, 0, "1x1");
        checkConv(random(r, DType.F32, 6, 17, 35), random(r, DType.F32, 5, 6, 3, 3), random(r, DType.F32, 5), 2, 0, "3x3 stride 2");
        checkConv(random(r, DType.F32, 4, 16, 40), random(r, DType.F32, 5, 4, 3, 3), null, 2, 1, "3x3 stride 2 pad 1");
        checkConv(random(r, DType.F32, 3, 11, 21), random(r, DType.F32, 2, 3, 1, 1), null, 2, 0, "1x1 stride 2");
    }

    @Test
    void convOnRowBandViewsReadsInPlace() {
        Random r = new Random(8);
        Tensor x = random(r, DType.F32, 6, 20, 33);
        Tensor band = x.slice(1, 4, 15);   // rows 4..14 of every channel: channel stride 20·33, not 11·33
        Tensor w3 = random(r, DType.F32, 4, 6, 3, 3), w1 = random(r, DType.F32, 4, 6, 1, 1), b = random(r, DType.F32, 4);
        checkConv(band, w3, b, 1, 1, "band 3x3");
        checkConv(band, w1, b, 1, 0, "band 1x1");
        // and equal to the conv of the copied band
        sameBits(ONE.conv2d(band, w3, b, 1, 1), ONE.conv2d(band.contiguous(), w3, b, 1, 1), "band view vs copy");
    }

    @Test
    void agreesWithNaiveBackend() {
        Random r = new Random(9);
        NaiveBackend nb = new NaiveBackend();
        Tensor x = random(r, DType.F32, 8, 12, 29), w = random(r, DType.F32, 10, 8, 3, 3), b = random(r, DType.F32, 10);
        float[] fast = ONE.conv2d(x, w, b, 1, 1).toFloatArray(), ref = nb.conv2d(x, w, b, 1, 1).toFloatArray();
        for (int i = 0; i < ref.length; i++) assertEquals(ref[i], fast[i], 1e-4f * (1 + Math.abs(ref[i])));
        Tensor xl = random(r, DType.F32, 5, 77), wl = random(r, DType.BF16, 31, 77), bl = random(r, DType.F32, 31);
        float[] fl = ONE.linear(xl, wl, bl).toFloatArray(), rl = nb.linear(xl, wl, bl).toFloatArray();
        for (int i = 0; i < rl.length; i++) assertEquals(rl[i], fl[i], 1e-4f * (1 + Math.abs(rl[i])));
    }
}
