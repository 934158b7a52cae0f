package dev.infinityj.backend;

import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** attentionWithBias against a float64 scalar reference, and relu against its definition. */
class AttentionWithBiasTest {
    private final Backend be = new CpuBackend();

    private static float[] random(SplittableRandom r, int n, double amp) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * amp);
        return a;
    }

    @Test
    void matchesFloat64Reference() {
        int lq = 5, lk = 7, h = 3, d = 4, dv = 6;
        float scale = 0.7f;
        SplittableRandom r = new SplittableRandom(11);
        float[] q = random(r, lq * h * d, 2), k = random(r, lk * h * d, 2), v = random(r, lk * h * dv, 1), b = random(r, h * lq * lk, 3);
        float[] got = be.attentionWithBias(Tensor.ofFloats(q, lq, h, d), Tensor.ofFloats(k, lk, h, d),
                Tensor.ofFloats(v, lk, h, dv), Tensor.ofFloats(b, h, lq, lk), scale).toFloatArray();
        for (int i = 0; i < lq; i++)
            for (int hh = 0; hh < h; hh++) {
                double[] s = new double[lk];
                double mx = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < lk; j++) {
                    double acc = 0;
                    for (int p = 0; p < d; p++) acc += (double) q[(i * h + hh) * d + p] * k[(j * h + hh) * d + p];
                    s[j] = scale * acc + b[(hh * lq + i) * lk + j];
                    mx = Math.max(mx, s[j]);
                }
                for (int j = 0; j < lk; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
                for (int p = 0; p < dv; p++) {
                    double acc = 0;
                    for (int j = 0; j < lk; j++) acc += s[j] / sum * v[(j * h + hh) * dv + p];
                    assertEquals(acc, got[(i * h + hh) * dv + p], 1e-5, "o[" + i + "," + hh + "," + p + "]");
                }
            }
    }

    @Test
    void zeroBiasEqualsPlainAttention() {
        int l = 6, h = 2, d = 8;
        SplittableRandom r = new SplittableRandom(3);
        Tensor q = Tensor.ofFloats(random(r, l * h * d, 1), l, h, d), k = Tensor.ofFloats(random(r, l * h * d, 1), l, h, d),
                v = Tensor.ofFloats(random(r, l * h * d, 1), l, h, d);
        float[] a = be.attention(q, k, v, 0.25f).toFloatArray();
        float[] b = be.attentionWithBias(q, k, v, Tensor.allocate(dev.infinityj.tensor.DType.F32, h, l, l), 0.25f).toFloatArray();
        for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-6);
    }

    @Test
    void reluIsMaxWithZero() {
        float[] x = {-2f, -0f, 0f, 1.5f, Float.NaN, Float.NEGATIVE_INFINITY};
        float[] y = be.relu(Tensor.ofFloats(x, x.length)).toFloatArray();
        for (int i = 0; i < x.length; i++)
            assertEquals(Float.isNaN(x[i]) ? Float.NaN : (x[i] > 0 ? x[i] : 0f), y[i], 0f, "relu(" + x[i] + ")");
    }
}
