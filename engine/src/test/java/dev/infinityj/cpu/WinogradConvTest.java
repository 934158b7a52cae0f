package dev.infinityj.cpu;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.backend.CpuBackend.ConvAlgorithm;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Winograd F(4×4, 3×3) convolution ({@link WinogradConv}, through CpuBackend.conv2d forced to
 * Winograd) against a float64 direct convolution written here: odd H/W (not multiples of 4),
 * channel counts not multiples of 8 or 16, BF16/F16 weights, row-band views, several tile chunks;
 * 1 vs 2 threads bit for bit; and the float64 scalar {@link WinogradConv#reference} against the
 * same direct convolution (checks the transform matrices independently of the vector code).
 *
 * <p>Tolerance: Winograd's rounding error is the direct conv's K·2⁻²⁴·Σ|terms| times a growth
 * factor from the transforms (entries up to 8 in Aᵀ, 5 in Bᵀ); {@code GROWTH} = 64 is about 4× the
 * largest ratio seen here (printed per shape), and ~100× below what a wrong tap or tile would give.
 */
class WinogradConvTest {
    private static final CpuBackend ONE = new CpuBackend(1).convAlgorithm(ConvAlgorithm.WINOGRAD);
    private static final CpuBackend TWO = new CpuBackend(2).convAlgorithm(ConvAlgorithm.WINOGRAD);
    private static final double GROWTH = 64;

    @AfterAll
    static void stop() { ONE.close(); TWO.close(); }

    private static Tensor random(Random r, DType dt, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.ofFloats(v, shape).to(dt);
    }

    private static void sameBits(Tensor a, Tensor b, String what) {
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        assertEquals(x.length, y.length, what);
        for (int i = 0; i < x.length; i++)
            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) fail(what + ": differ at " + i + ": " + x[i] + " vs " + y[i]);
    }

    /** Direct float64 3×3 pad-1 conv; returns {value, Σ|terms|} per output. */
    private static double[][] direct(double[] x, int c, int h, int w, double[] wt, int o, double[] bias) {
        double[] e = new double[o * h * w], mag = new double[o * h * w];
        for (int oc = 0; oc < o; oc++)
            for (int oy = 0; oy < h; oy++)
                for (int ox = 0; ox < w; ox++) {
                    double s = bias == null ? 0 : bias[oc], m = Math.abs(s);
                    for (int ic = 0; ic < c; ic++)
                        for (int dy = 0; dy < 3; dy++)
                            for (int dx = 0; dx < 3; dx++) {
                                int iy = oy - 1 + dy, ix = ox - 1 + dx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                double t = x[(ic * h + iy) * w + ix] * wt[((oc * c + ic) * 3 + dy) * 3 + dx];
                                s += t; m += Math.abs(t);
                            }
                    int i = (oc * h + oy) * w + ox;
                    e[i] = s; mag[i] = m;
                }
        return new double[][] {e, mag};
    }

    /** Checks y against the direct conv; returns the largest error / (K·2⁻²⁴·Σ|terms|). */
    private static double check(float[] y, double[][] ref, int c, String what) {
        double k = 9.0 * c + 3, worst = 0;
        for (int i = 0; i < y.length; i++) {
            double unit = k * Math.scalb(1.0, -24) * ref[1][i] + 1e-30;
            double ratio = Math.abs(y[i] - ref[0][i]) / unit;
            if (!(ratio <= GROWTH)) fail(what + " at " + i + ": got " + y[i] + ", float64 " + ref[0][i] + " (" + ratio + " units)");
            worst = Math.max(worst, ratio);
        }
        return worst;
    }

    private static void conv(Random r, int c, int o, int h, int w, DType wdt, boolean withBias) {
        String what = c + "→" + o + " " + h + "×" + w + " " + wdt + (withBias ? " +bias" : "");
        Tensor x = random(r, DType.F32, c, h, w), wt = random(r, wdt, o, c, 3, 3);
        Tensor b = withBias ? random(r, DType.F32, o) : null;
        Tensor y = ONE.conv2d(x, wt, b, 1, 1);
        assertArrayEquals(new long[] {o, h, w}, y.shape(), what);
        sameBits(y, TWO.conv2d(x, wt, b, 1, 1), what + " 1 vs 2 threads");
        double[][] ref = direct(x.toDoubleArray(), c, h, w, wt.toDoubleArray(), o, b == null ? null : b.toDoubleArray());
        double worst = check(y.toFloatArray(), ref, c, what);
        System.out.printf("Winograd %s: max error %.2f units of K·2⁻²⁴·Σ|terms|%n", what, worst);
    }

    @Test
    void oddSizesAgainstFloat64DirectConv() {
        Random r = new Random(11);
        conv(r, 1, 1, 1, 1, DType.F32, false);
        conv(r, 3, 5, 7, 9, DType.F32, true);
        conv(r, 17, 19, 13, 11, DType.F32, true);
        conv(r, 20, 24, 5, 4, DType.BF16, false);
        conv(r, 33, 40, 10, 21, DType.F16, true);
        conv(r, 48, 70, 30, 33, DType.F32, true);    // 9 tile columns: a full 8-tile block and a tail
        conv(r, 9, 6, 2, 67, DType.BF16, true);
    }

    @Test
    void rowBandViewsAndChannelViews() {
        Random r = new Random(12);
        Tensor x = random(r, DType.F32, 10, 23, 19);
        Tensor wt = random(r, DType.F32, 7, 6, 3, 3), b = random(r, DType.F32, 7);
        Tensor band = x.slice(1, 5, 16).slice(0, 2, 8);   // rows 5..15 of channels 2..7: strides 23·19 and 19
        Tensor y = ONE.conv2d(band, wt, b, 1, 1);
        sameBits(y, ONE.conv2d(band.contiguous(), wt, b, 1, 1), "band view vs copy");
        sameBits(y, TWO.conv2d(band, wt, b, 1, 1), "band 1 vs 2 threads");
        double[][] ref = direct(band.contiguous().toDoubleArray(), 6, 11, 19, wt.toDoubleArray(), 7, b.toDoubleArray());
        check(y.toFloatArray(), ref, 6, "band");
    }

    @Test
    void severalChunksGiveTheSameBits() {
        Random r = new Random(13);
        int c = 13, o = 21, h = 37, w = 45;
        Tensor x = random(r, DType.F32, c, h, w), wt = random(r, DType.F32, o, c, 3, 3), b = random(r, DType.F32, o);
        Tensor whole = ONE.conv2d(x, wt, b, 1, 1);
        try (Arena a = Arena.ofShared(); CpuThreads two = new CpuThreads(2)) {
            MemorySegment u = WinogradConv.transformWeights(wt, a, two);
            long perTile = (long) WinogradConv.POS * (c + o) * 4;
            for (long tiles : new long[] {1, 12, 25, 100}) {         // chunks of 1, 1, 2 and 8 tile rows (12 tiles per row)
                Tensor y = Tensor.allocate(DType.F32, o, h, w);
                WinogradConv.conv(two, x.storage(), x.byteOffset(), (long) h * w, w, c, h, w, u, o, b.toFloatArray(),
                        y.storage(), y.byteOffset(), tiles * perTile);
                sameBits(whole, y, "chunks of " + tiles + " tiles");
            }
        }
    }

    @Test
    void scalarReferenceMatchesDirectConv() {
        Random r = new Random(14);
        int c = 5, o = 4, h = 9, w = 14;
        double[] x = random(r, DType.F32, c, h, w).toDoubleArray(), wt = random(r, DType.F32, o, c, 3, 3).toDoubleArray();
        double[] b = {0.5, -1, 2, 0};
        double[] y = WinogradConv.reference(x, c, h, w, wt, o, b);
        double[][] ref = direct(x, c, h, w, wt, o, b);
        for (int i = 0; i < y.length; i++) assertEquals(ref[0][i], y[i], 1e-12 * (1 + ref[1][i]), "reference at " + i);
    }

    @Test
    void weightTransformWithinAFewUlpOfFloat64() {
        Random r = new Random(16);
        int o = 5, c = 19;
        Tensor wt = random(r, DType.BF16, o, c, 3, 3);
        float[] g = wt.toFloatArray();
        double[] t = new double[36];
        try (Arena a = Arena.ofShared()) {
            MemorySegment u = WinogradConv.transformWeights(wt, a, ONE.pool());
            for (int oc = 0; oc < o; oc++)
                for (int ci = 0; ci < c; ci++) {
                    int off = (oc * c + ci) * 9;
                    WinogradConv.transformFilter(g, off, t);
                    for (int xi = 0; xi < 36; xi++) {
                        float got = u.get(Tensor.F32_LE, 4L * ((long) xi * o * c + (long) oc * c + ci));
                        double mag = 0;                                  // Σ|G||g||G| bounds the rounding
                        for (int ka = 0; ka < 3; ka++)
                            for (int kb = 0; kb < 3; kb++)
                                mag += Math.abs(WinogradConv.G[xi / 6][ka] * g[off + 3 * ka + kb] * WinogradConv.G[xi % 6][kb]);
                        double tol = 8 * Math.scalb(1.0, -24) * mag;
                        assertTrue(Math.abs(got - t[xi]) <= tol, "U[" + xi + "][" + oc + "][" + ci + "] " + got + " vs " + t[xi]);
                    }
                }
        }
    }

    @Test
    void phaseSplitMatchesScalarLoop() {
        Random r = new Random(15);
        for (int pl : new int[] {8, 16, 72}) {
            float[] line = new float[4 * pl], a = new float[4 * pl + 3], b = new float[4 * pl + 3];
            for (int i = 0; i < line.length; i++) line[i] = (float) r.nextGaussian();
            WinogradConv.split4(line, a, 3, pl);
            WinogradConv.split4Reference(line, b, 3, pl);
            assertArrayEquals(b, a, "pl " + pl);
        }
    }

    @Test
    void autoUsesWinogradOnlyWhereItPays() {
        assertTrue(CpuBackend.winogradPays(128, 128, 256, 256));
        assertTrue(!CpuBackend.winogradPays(128, 3, 256, 256));
    }
}
