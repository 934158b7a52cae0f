package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.infinityj.cpu.KernelTestSupport.assertBitEqual;
import static dev.infinityj.cpu.KernelTestSupport.assertClose;
import static dev.infinityj.cpu.KernelTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * CpuBackend.attention / attentionWithBias (FlashAttention kernel) against a float64 softmax(q kᵀ) v
 * written here, on odd sizes (query blocks with leftovers, D and Dv not multiples of the vector
 * width, Lq ≠ Lk, Lq = 1, Lk = 1), strided views (packed qkv, KV-cache rows), and 1 vs 2 threads.
 */
class FlashAttentionTest {
    static final CpuBackend ONE = new CpuBackend(1), TWO = new CpuBackend(2);

    @AfterAll
    static void close() { ONE.close(); TWO.close(); }

    /** float64 reference from whatever views q, k, v (and bias [H,Lq,Lk] or null) are. */
    static double[] reference(Tensor q, Tensor k, Tensor v, Tensor bias, double scale) {
        int lq = (int) q.dim(0), h = (int) q.dim(1), d = (int) q.dim(2), lk = (int) k.dim(0), dv = (int) v.dim(2);
        float[] qa = q.toFloatArray(), ka = k.toFloatArray(), va = v.toFloatArray();
        float[] ba = bias == null ? null : bias.toFloatArray();
        double[] out = new double[lq * h * dv];
        double[] s = new double[lk];
        for (int i = 0; i < lq; i++)
            for (int hh = 0; hh < h; hh++) {
                double mx = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < lk; j++) {
                    double acc = 0;
                    for (int p = 0; p < d; p++) acc += (double) qa[(i * h + hh) * d + p] * ka[(j * h + hh) * d + p];
                    s[j] = acc * scale + (ba == null ? 0 : ba[(hh * lq + i) * lk + j]);
                    mx = Math.max(mx, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < lk; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
                for (int p = 0; p < dv; p++) {
                    double acc = 0;
                    for (int j = 0; j < lk; j++) acc += s[j] * va[(j * h + hh) * dv + p];
                    out[(i * h + hh) * dv + p] = acc / sum;
                }
            }
        return out;
    }

    @ParameterizedTest
    @CsvSource({
            "1, 1, 1, 4, 4",
            "1, 521, 2, 16, 16",
            "7, 97, 3, 13, 11",
            "37, 257, 2, 64, 64",
            "5, 1, 2, 8, 24",
            "64, 130, 2, 40, 40",
            "33, 70, 1, 7, 3",
            "16, 521, 2, 128, 128",
            "1, 97, 2, 128, 72",
            "3, 11, 1, 40, 40",
            "9, 130, 2, 36, 100",
            "100, 1, 2, 7, 5",
            "129, 200, 3, 128, 128",
            "517, 70, 2, 16, 24"})
    void contiguousMatchesFloat64(int lq, int lk, int h, int d, int dv) {
        Tensor q = tensor(1, 1.5, lq, h, d), k = tensor(2, 1.5, lk, h, d), v = tensor(3, 1, lk, h, dv);
        float scale = (float) (1 / Math.sqrt(d));
        double[] ref = reference(q, k, v, null, scale);
        assertClose("attention " + lq + "x" + lk, ref, ONE.attention(q, k, v, scale).toFloatArray(), 1e-5, 1e-5);
        assertClose("attention 2 threads", ref, TWO.attention(q, k, v, scale).toFloatArray(), 1e-5, 1e-5);
    }

    @Test
    void largeScoresExerciseTheOnlineMaxAcrossKeyBlocks() {
        // scores span ±60: the running max changes between key blocks and the rescaling must be exact
        int lq = 9, lk = 300, h = 2, d = 12;
        Tensor q = tensor(4, 4, lq, h, d), k = tensor(5, 4, lk, h, d), v = tensor(6, 1, lk, h, d);
        assertClose("sharp attention", reference(q, k, v, null, 1), ONE.attention(q, k, v, 1f).toFloatArray(), 2e-5, 2e-5);
    }

    @Test
    void stridedViewsOfPackedQkvAndKvCacheRows() {
        int l = 11, h = 3, d = 20, cacheLen = 50, start = 17;
        Tensor qkv = tensor(7, 1, l, 3 * h * d);
        Tensor q = qkv.reshape(l, 3, h, d).permute(1, 0, 2, 3).get(0);      // strided [l, h, d]
        Tensor cacheK = tensor(8, 1, cacheLen, h, d), cacheV = tensor(9, 1, cacheLen, h, d);
        Tensor k = cacheK.slice(0, 0, start + l), v = cacheV.slice(0, 0, start + l);
        double[] ref = reference(q, k, v, null, 1);
        assertClose("strided attention", ref, ONE.attention(q, k, v, 1f).toFloatArray(), 1e-5, 1e-5);
        // v as the third part of the packed projection too (row stride 3·h·d, head stride d)
        Tensor vp = qkv.reshape(l, 3, h, d).permute(1, 0, 2, 3).get(2), kp = qkv.reshape(l, 3, h, d).permute(1, 0, 2, 3).get(1);
        assertClose("packed qkv", reference(q, kp, vp, null, 0.3), TWO.attention(q, kp, vp, 0.3f).toFloatArray(), 1e-5, 1e-5);
        // a unit-stride last dim is not required: a transposed view is copied first
        Tensor kt = tensor(10, 1, d, h, start + l).permute(2, 1, 0);
        assertClose("non-unit last stride", reference(q, kt, v, null, 1), ONE.attention(q, kt, v, 1f).toFloatArray(), 1e-5, 1e-5);
    }

    @Test
    void manyQueriesOnStridedCacheRows() {
        // ≥ 2·QB queries: K is transposed up front; its rows come from a strided cache slice
        int l = 70, h = 2, d = 24, cacheLen = 200, used = 131;
        Tensor qkv = tensor(19, 1, l, 3 * h * d);
        Tensor q = qkv.reshape(l, 3, h, d).permute(1, 0, 2, 3).get(0);
        Tensor k = tensor(20, 1, cacheLen, h, d).slice(0, 0, used), v = tensor(21, 1, cacheLen, h, d).slice(0, 0, used);
        double[] ref = reference(q, k, v, null, 1);
        assertClose("transposed path", ref, ONE.attention(q, k, v, 1f).toFloatArray(), 1e-5, 1e-5);
        assertBitEqual("transposed path threads", ONE.attention(q, k, v, 1f).toFloatArray(), TWO.attention(q, k, v, 1f).toFloatArray());
    }

    @ParameterizedTest
    @CsvSource({"1, 1, 2, 4, 4", "7, 13, 3, 8, 5", "40, 97, 2, 64, 64", "33, 33, 4, 9, 9", "65, 70, 2, 24, 24"})
    void withBiasMatchesFloat64(int lq, int lk, int h, int d, int dv) {
        Tensor q = tensor(11, 1, lq, h, d), k = tensor(12, 1, lk, h, d), v = tensor(13, 1, lk, h, dv);
        Tensor bias = tensor(14, 4, h, lq, lk);
        double[] ref = reference(q, k, v, bias, 1);
        assertClose("attentionWithBias", ref, ONE.attentionWithBias(q, k, v, bias, 1f).toFloatArray(), 1e-5, 1e-5);
        assertClose("attentionWithBias 2 threads", ref, TWO.attentionWithBias(q, k, v, bias, 1f).toFloatArray(), 1e-5, 1e-5);
    }

    @Test
    void threadCountDoesNotChangeBits() {
        int lq = 70, lk = 300, h = 4, d = 64;
        Tensor q = tensor(15, 1, lq, h, d), k = tensor(16, 1, lk, h, d), v = tensor(17, 1, lk, h, d), b = tensor(18, 1, h, lq, lk);
        assertBitEqual("attention", ONE.attention(q, k, v, 0.125f).toFloatArray(), TWO.attention(q, k, v, 0.125f).toFloatArray());
        assertBitEqual("attentionWithBias", ONE.attentionWithBias(q, k, v, b, 1f).toFloatArray(), TWO.attentionWithBias(q, k, v, b, 1f).toFloatArray());
        Tensor ql = tensor(22, 1, 520, 2, 32), kl = tensor(23, 1, 100, 2, 32), vl = tensor(24, 1, 100, 2, 32);
        assertBitEqual("attention, large query blocks", ONE.attention(ql, kl, vl, 1f).toFloatArray(), TWO.attention(ql, kl, vl, 1f).toFloatArray());
    }

    @Test
    void mismatchedShapesAreTyped() {
        Tensor q = tensor(1, 1, 3, 2, 8), k = tensor(2, 1, 5, 2, 8), v = tensor(3, 1, 4, 2, 8);
        assertThrows(ShapeException.class, () -> ONE.attention(q, k, v, 1f));
        assertThrows(ShapeException.class, () -> ONE.attentionWithBias(q, k, k, tensor(4, 1, 2, 3, 4), 1f));
    }
}
