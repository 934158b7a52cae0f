package dev.infinityj.backend;

import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** headL2Normalize and copyInto on strided views, against float64 scalar loops written here. */
class HeadNormCopyTest {
    private final Backend be = new CpuBackend();

    private static Tensor ramp(long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.sin(0.7 * i + 0.3) * (1 + i % 5);
        return Tensor.ofFloats(v, shape);
    }

    @Test
    void headL2NormalizeOnAPackedQkvView() {
        int l = 3, h = 2, d = 4;
        Tensor qkv = ramp(l, 3 * h * d);
        Tensor k = qkv.reshape(l, 3, h, d).permute(1, 0, 2, 3).get(1); // strided [l, h, d]
        Tensor scale = Tensor.ofFloats(new float[]{2f, 0.5f}, h);
        float[] out = be.headL2Normalize(k, scale, 1e-12f).toFloatArray();
        float[] all = qkv.toFloatArray();
        for (int t = 0; t < l; t++)
            for (int j = 0; j < h; j++) {
                double n = 0;
                for (int p = 0; p < d; p++) { double v = all[t * 3 * h * d + h * d + j * d + p]; n += v * v; }
                for (int p = 0; p < d; p++)
                    assertEquals(all[t * 3 * h * d + h * d + j * d + p] / Math.sqrt(n) * (j == 0 ? 2 : 0.5), out[(t * h + j) * d + p], 1e-6);
            }
        // a zero vector stays zero (eps guards the division)
        float[] z = be.headL2Normalize(Tensor.allocate(dev.infinityj.tensor.DType.F32, 1, 1, 4), null, 1e-12f).toFloatArray();
        for (float v : z) assertEquals(0f, v);
    }

    @Test
    void copyIntoRowsOfACacheAndFromStridedSources() {
        Tensor cache = Tensor.allocate(dev.infinityj.tensor.DType.F32, 5, 2, 3);
        Tensor src = ramp(2, 2, 3);
        be.copyInto(cache.slice(0, 2, 4), src);
        float[] c = cache.toFloatArray(), s = src.toFloatArray();
        for (int i = 0; i < c.length; i++) assertEquals(i >= 12 && i < 24 ? s[i - 12] : 0f, c[i]);
        Tensor packed = ramp(2, 12);
        Tensor v = packed.reshape(2, 2, 2, 3).permute(1, 0, 2, 3).get(1); // [2, 2, 3] strided
        be.copyInto(cache.slice(0, 0, 2), v);
        float[] p = packed.toFloatArray(), c2 = cache.toFloatArray();
        for (int t = 0; t < 2; t++) for (int j = 0; j < 6; j++) assertEquals(p[t * 12 + 6 + j], c2[t * 6 + j]);
        Tensor bf = src.to(dev.infinityj.tensor.DType.BF16);
        Tensor dst = Tensor.allocate(dev.infinityj.tensor.DType.F32, 2, 2, 3);
        be.copyInto(dst, bf);
        float[] d = dst.toFloatArray(), b = bf.toFloatArray();
        for (int i = 0; i < d.length; i++) assertEquals(b[i], d[i]);
    }
}
