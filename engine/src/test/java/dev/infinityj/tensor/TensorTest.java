package dev.infinityj.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TensorTest {
    @Test
    void bf16RoundTripIsRoundToNearestEven() {
        // 1 + 2^-8 lies exactly between two bf16 values (1 and 1+2^-7): ties go to even (1.0)
        assertEquals(1.0f, DType.bf16ToF32(DType.f32ToBf16(1f + 0x1p-8f)));
        // just above the tie rounds up
        assertEquals(1f + 0x1p-7f, DType.bf16ToF32(DType.f32ToBf16(1f + 0x1p-8f + 0x1p-20f)));
        assertTrue(Float.isNaN(DType.bf16ToF32(DType.f32ToBf16(Float.NaN))));
    }

    @Test
    void viewsShareStorageAndCopyWhenNotContiguous() {
        float[] v = new float[24];
        for (int i = 0; i < v.length; i++) v[i] = i;
        Tensor t = Tensor.ofFloats(v, 2, 3, 4);
        Tensor p = t.permute(2, 0, 1);
        assertFalse(p.isContiguous());
        assertEquals(t.getFloat(1, 2, 3), p.getFloat(3, 1, 2));
        Tensor c = p.contiguous();
        float[] a = c.toFloatArray();
        // element (k, i, j) of the permuted tensor is v[i*12 + j*4 + k]
        for (int k = 0; k < 4; k++) for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++)
            assertEquals(v[i * 12 + j * 4 + k], a[k * 6 + i * 3 + j]);
        Tensor s = t.slice(1, 1, 3);
        assertArrayEquals(new long[] {2, 2, 4}, s.shape());
        assertEquals(v[1 * 12 + 2 * 4 + 1], s.getFloat(1, 1, 1));
        assertEquals(v[12 + 4], t.get(1).getFloat(1, 0));
    }

    @Test
    void conversionsRoundTrip() {
        Tensor t = Tensor.ofFloats(new float[] {0.5f, -2f, 3.25f, 1e-3f}, 4);
        assertArrayEquals(t.toFloatArray(), t.to(DType.F16).to(DType.F32).toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {0.5f, -2f, 3.25f, DType.bf16ToF32(DType.f32ToBf16(1e-3f))},
                t.to(DType.BF16).toFloatArray());
    }
}
