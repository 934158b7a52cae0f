package dev.infinityj.cpu;

import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link PackedLinear}: the documented element position (checked element by element here, from the
 * formula, not from the code's loops), and unpack ∘ pack = identity, on K below, at and across the
 * K block size and odd panel counts, for every dtype and a strided source view.
 */
class PackedLinearTest {
    @Test
    void layoutAndRoundTrip() {
        Random r = new Random(5);
        try (CpuThreads pool = new CpuThreads(2)) {
            for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16})
                for (int[] nk : new int[][] {{16, 1}, {48, 255}, {32, Gemm.KC}, {80, Gemm.KC + 1}, {16, 2 * Gemm.KC + 77}}) {
                    int n = nk[0], k = nk[1];
                    float[] v = new float[n * (k + 3)];
                    for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
                    Tensor w = Tensor.ofFloats(v, n, k + 3).to(dt).slice(1, 2, k + 2);   // a strided view
                    Tensor p = PackedLinear.pack(pool, w);
                    assertArrayEquals(new long[] {n / 16, k, 16}, p.shape());
                    float[] plain = w.contiguous().toFloatArray(), packed = p.toFloatArray();
                    for (int row = 0; row < n; row++)
                        for (int col = 0; col < k; col++) {
                            int b = col - col % Gemm.KC, kc = Math.min(Gemm.KC, k - b);
                            int j = row % 16, slot = dt == DType.BF16 ? (j < 8 ? 2 * j : 2 * (j - 8) + 1) : j;   // BF16: c0, c8, c1, c9, …
                            int at = b * n + (row / 16) * kc * 16 + (col % Gemm.KC) * 16 + slot;
                            assertEquals(plain[row * k + col], packed[at], dt + " " + n + "x" + k + " (" + row + "," + col + ")");
                        }
                    Tensor back = PackedLinear.unpack(p);
                    assertArrayEquals(new long[] {n, k}, back.shape());
                    assertArrayEquals(plain, back.toFloatArray(), dt + " round trip " + n + "x" + k);
                }
        }
    }
}
