package dev.infinityj.cuda;

import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * AttentionKernel.MMA through the backend on {@link FakeCudaDriver}, whose launches of
 * flash_attention_mma_bf16 run the lane-level transcription {@link MmaAttentionEmulation}, against a
 * float64 reference of attention on the bf16-rounded inputs. Shapes cross the 64-query and 64-key tile
 * edges (Lq, Lk not multiples of 64, Lq ≠ Lk), several heads, D = Dv = 128, 64, 16 and D ≠ Dv, strided
 * q and KV-cache slices (F32, converted on the device), BF16 inputs passed as strided views (16-byte
 * and element loads), bias, fused cosine normalisation with and without k. Checks what the backend
 * passes and the kernel's indexing as transcribed; the kernel itself is unverified on hardware.
 *
 * <p>Tolerance. The kernel rounds each probability p (relative to the running row max) to bf16, relative
 * error |δ| ≤ u = 2⁻⁸, and divides by the sum of the same rounded values, so the output is
 * Σ w̃ⱼ vⱼ with w̃ⱼ = wⱼ(1+δⱼ)/(1+Σ wₖδₖ): Σ|w̃ⱼ − wⱼ| ≤ 2u/(1−u), hence
 * |O − O_ref| ≤ 2u/(1−u) · maxⱼ|vⱼ| per row. Scores are fp32 dot products of bf16 values (exact
 * products), adding relative errors ~1e-6 to the weights; 1e-5 · max|v| covers them. The scales are
 * chosen so the softmax is peaked: a wrong key, row or column index moves an output by far more.
 */
class MmaAttentionFakeDriverTest {
    static final double U = 0x1p-8, BOUND = 2 * U / (1 - U);

    FakeCudaDriver fake;
    CudaBackend be;
    static double worst; // largest error / bound seen, for the report

    @BeforeEach
    void open() throws ReflectiveOperationException {
        assumeTrue(CudaContext.kernelsMissingReason() == null, "CUDA kernels not in this build: " + CudaContext.kernelsMissingReason());
        fake = new FakeCudaDriver();
        be = new CudaBackend(fake.driver(), CudaBackend.Options.defaults().withCublas(false).withAttention(CudaBackend.AttentionKernel.MMA));
    }

    @AfterEach
    void close() {
        if (be != null) be.close();
        if (fake != null) assertEquals(List.of(), fake.errors, "errors inside the fake driver");
    }

    static Tensor rand(Random r, double sd, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (sd * r.nextGaussian());
        return Tensor.ofFloats(v, shape);
    }

    /** Host [L, H, D] values rounded to bf16, as the kernel sees them. */
    static double[][][] bf16(Tensor hostF32) {
        Tensor t = hostF32.to(DType.BF16).to(DType.F32).contiguous();
        int l = (int) t.dim(0), h = (int) t.dim(1), d = (int) t.dim(2);
        float[] x = t.toFloatArray();
        double[][][] out = new double[l][h][d];
        for (int i = 0; i < l; i++) for (int j = 0; j < h; j++) for (int e = 0; e < d; e++) out[i][j][e] = x[(i * h + j) * d + e];
        return out;
    }

    /** softmax(s) v in float64, s = (q·k)·scale·qf·kf + bias; qf, kf the cosine factors (1 without). */
    static double[][][] reference(double[][][] q, double[][][] k, double[][][] v, float[] bias, float[] qScale,
                                  boolean normQ, boolean normK, float eps, float scale) {
        int lq = q.length, lk = k.length, h = q[0].length, dv = v[0][0].length;
        double[][][] o = new double[lq][h][dv];
        for (int hh = 0; hh < h; hh++)
            for (int i = 0; i < lq; i++) {
                double qf = normQ ? (qScale == null ? 1 : qScale[hh]) / Math.max(norm(q[i][hh]), eps) : 1;
                double[] s = new double[lk];
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < lk; j++) {
                    double dot = 0;
                    for (int e = 0; e < q[i][hh].length; e++) dot += q[i][hh][e] * k[j][hh][e];
                    double kf = normK ? 1 / Math.max(norm(k[j][hh]), eps) : 1;
                    s[j] = dot * scale * qf * kf + (bias == null ? 0 : bias[(hh * lq + i) * lk + j]);
                    m = Math.max(m, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < lk; j++) sum += s[j] = Math.exp(s[j] - m);
                for (int j = 0; j < lk; j++) for (int e = 0; e < dv; e++) o[i][hh][e] += s[j] / sum * v[j][hh][e];
            }
        return o;
    }

    static double norm(double[] x) {
        double s = 0;
        for (double e : x) s += e * e;
        return Math.sqrt(s);
    }

    /** Every output within the bf16 bound of its row (max |v| over that head's keys). */
    static void within(Tensor got, double[][][] want, double[][][] v, String what) {
        float[] g = got.toFloatArray();
        int lq = want.length, h = want[0].length, dv = want[0][0].length;
        assertEquals((long) lq * h * dv, g.length, what);
        double worstHere = 0;
        for (int hh = 0; hh < h; hh++) {
            double vmax = 0;
            for (double[][] row : v) for (double e : row[hh]) vmax = Math.max(vmax, Math.abs(e));
            double tol = BOUND * vmax + 1e-5 * vmax;
            for (int i = 0; i < lq; i++)
                for (int e = 0; e < dv; e++) {
                    double err = Math.abs(g[(i * h + hh) * dv + e] - want[i][hh][e]);
                    assertTrue(err <= tol, what + ": O[" + i + "," + hh + "," + e + "] = " + g[(i * h + hh) * dv + e]
                            + ", reference " + want[i][hh][e] + ", error " + err + " > " + tol);
                    worstHere = Math.max(worstHere, err / tol);
                }
        }
        worst = Math.max(worst, worstHere);
        System.out.printf("MMA emulation %-50s max error %.3f of the bf16 bound%n", what, worstHere);
    }

    @Test
    void mmaKernelAgreesWithTheFloat64Reference() {
        Random r = new Random(11);
        int[][] shapes = {{70, 100, 2, 128, 128}, {130, 67, 3, 64, 64}, {5, 200, 2, 16, 16}, {33, 64, 1, 32, 48}};
        for (int[] sh : shapes) {
            int lq = sh[0], lk = sh[1], h = sh[2], d = sh[3], dv = sh[4];
            String what = "Lq " + lq + " Lk " + lk + " H " + h + " D " + d + " Dv " + dv;
            // q as one third of a packed qkv projection [Lq, 3, H, D]; k, v slices of a longer cache
            Tensor packed = rand(r, 1, lq, 3, h, d);
            Tensor qDev = be.upload(packed).permute(1, 0, 2, 3).get(0), qHost = packed.permute(1, 0, 2, 3).get(0);
            Tensor kc = rand(r, 1, lk + 5, h, d), vc = rand(r, 1, lk + 5, h, dv);
            Tensor kDev = be.upload(kc).slice(0, 0, lk), vDev = be.upload(vc).slice(0, 0, lk);
            double[][][] q = bf16(qHost), k = bf16(kc.slice(0, 0, lk)), v = bf16(vc.slice(0, 0, lk));
            float sharp = (float) (3 / Math.sqrt(d));

            within(be.attention(qDev, kDev, vDev, null, sharp, CudaBackend.AttentionKernel.MMA),
                    reference(q, k, v, null, null, false, false, 0, sharp), v, what);
            Tensor bias = rand(r, 3, h, lq, lk);
            within(be.attention(qDev, kDev, vDev, bias, 0.5f, CudaBackend.AttentionKernel.MMA),
                    reference(q, k, v, bias.toFloatArray(), null, false, false, 0, 0.5f), v, what + " bias");
            // every real score far below 0: the zero K rows of the padded tail (score 0) would dominate unless masked
            float[] low = bias.toFloatArray();
            for (int i = 0; i < low.length; i++) low[i] -= 30;
            Tensor lowBias = Tensor.ofFloats(low, h, lq, lk);
            within(be.attention(qDev, kDev, vDev, lowBias, 0.5f, CudaBackend.AttentionKernel.MMA),
                    reference(q, k, v, low, null, false, false, 0, 0.5f), v, what + " bias - 30");
            Tensor qs = rand(r, 2, h);
            float[] qsv = qs.toFloatArray();
            // around 40: Infinity's learned cosine scales go up to 100, and a peaked softmax makes index errors visible
            for (int i = 0; i < qsv.length; i++) qsv[i] += 40;
            qs = Tensor.ofFloats(qsv, h);
            within(be.cosineAttention(qDev, kDev, vDev, qs, true, 1e-12f, 1f, CudaBackend.AttentionKernel.MMA),
                    reference(q, k, v, null, qsv, true, true, 1e-12f, 1f), v, what + " cosine");
            within(be.cosineAttention(qDev, kDev, vDev, null, false, 1e-12f, 4f, CudaBackend.AttentionKernel.MMA),
                    reference(q, k, v, null, null, true, false, 1e-12f, 4f), v, what + " cosine q only, no qScale");
        }
        assertTrue(fake.launches.contains("flash_attention_mma_bf16"));
        assertFalse(fake.launches.contains("flash_attention_f32"), "MMA fell back although every head dim fits");
        System.out.printf("MMA emulation: worst error %.3f of the bf16 bound%n", worst);
    }

    /**
     * BF16 device inputs go to the kernel as they are: a packed [L, 3, H, D] view (16-byte loads) and a
     * view at an odd element offset with odd row stride (the element-by-element load path).
     */
    @Test
    void bf16ViewsPassAsTheyAreOnBothLoadPaths() {
        Random r = new Random(12);
        int lq = 67, h = 2, d = 64;
        Tensor packed = rand(r, 1, lq, 3, h, d).to(DType.BF16);
        Tensor pd = be.upload(packed);
        Tensor q = pd.permute(1, 0, 2, 3).get(0), k = pd.permute(1, 0, 2, 3).get(1).slice(0, 0, 50);
        int lk2 = (int) k.dim(0);
        // V: rows of h·d + 1 elements starting at element 1: misaligned base and odd strides
        Tensor vRaw = rand(r, 1, lk2, h * d + 1).to(DType.BF16);
        Tensor vDevRaw = be.upload(vRaw);
        Tensor v = new Tensor(DType.BF16, vDevRaw.storage(), 1, new long[] {lk2, h, d}, new long[] {h * d + 1, d, 1});
        double[][][] qh = bf16(packed.permute(1, 0, 2, 3).get(0).to(DType.F32)), kh = bf16(packed.permute(1, 0, 2, 3).get(1).slice(0, 0, lk2).to(DType.F32));
        double[][][] vh = bf16(new Tensor(DType.BF16, vRaw.storage(), 1, new long[] {lk2, h, d}, new long[] {h * d + 1, d, 1}).to(DType.F32));
        fake.launches.clear();
        float sc = (float) (3 / Math.sqrt(d));
        within(be.attention(q, k, v, null, sc, CudaBackend.AttentionKernel.MMA), reference(qh, kh, vh, null, null, false, false, 0, sc), vh,
                "bf16 views Lq " + lq + " Lk " + lk2);
        assertEquals(List.of("flash_attention_mma_bf16"), fake.launches, "bf16 views must reach the kernel without conversions");
    }

    @Test
    void unsupportedHeadDimsFallBack() {
        Random r = new Random(13);
        var ref = new dev.infinityj.backend.NaiveBackend();
        Tensor q = rand(r, 1, 9, 2, 24), k = rand(r, 1, 11, 2, 24), v = rand(r, 1, 11, 2, 24);
        Tensor got = be.attention(q, k, v, null, 0.3f, CudaBackend.AttentionKernel.MMA);
        float[] g = got.toFloatArray(), w = ref.attention(q, k, v, 0.3f).toFloatArray();
        for (int i = 0; i < g.length; i++) assertEquals(w[i], g[i], 1e-5, "D 24 via FUSED");
        assertEquals(List.of("flash_attention_f32"), fake.launches.stream().filter(n -> n.contains("attention")).toList());
        fake.launches.clear();
        Tensor q2 = rand(r, 1, 3, 1, 160), k2 = rand(r, 1, 5, 1, 160);
        be.attention(q2, k2, k2, null, 0.1f, CudaBackend.AttentionKernel.MMA);
        assertEquals(List.of("attention_f32"), fake.launches.stream().filter(n -> n.contains("attention")).toList());
    }

    @Test
    void mmaIsParsedFromTheProperty() {
        String old = System.getProperty("infinityj.cuda.attention");
        try {
            System.setProperty("infinityj.cuda.attention", "MMA");
            assertEquals(CudaBackend.AttentionKernel.MMA, CudaBackend.AttentionKernel.fromProperty());
            System.clearProperty("infinityj.cuda.attention");
            assertEquals(CudaBackend.AttentionKernel.FUSED, CudaBackend.AttentionKernel.fromProperty(), "MMA must not be the default yet");
        } finally {
            if (old == null) System.clearProperty("infinityj.cuda.attention"); else System.setProperty("infinityj.cuda.attention", old);
        }
    }
}
