package dev.infinityj.io;

import dev.infinityj.WeightFormatException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class RandomWeightSourceTest {
    private static Map<String, long[]> shapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("fc.weight", new long[] {300, 257});
        m.put("fc.bias", new long[] {300});
        m.put("norm.weight", new long[] {257});
        m.put("attn.zero_k_bias", new long[] {64});
        return m;
    }

    @Test
    void deterministicPerSeedAndWithinInitBounds() {
        RandomWeightSource a = RandomWeightSource.of("t", shapes(), DType.F32, 5);
        RandomWeightSource b = RandomWeightSource.of("t", shapes(), DType.F32, 5);
        RandomWeightSource c = RandomWeightSource.of("t", shapes(), DType.F32, 6);
        float[] wa = a.get("fc.weight").toFloatArray();
        assertArrayEquals(wa, b.get("fc.weight").toFloatArray());
        assertFalse(java.util.Arrays.equals(wa, c.get("fc.weight").toFloatArray()));
        double bound = 1 / Math.sqrt(257), sum = 0, sq = 0;
        for (float v : wa) { assertTrue(Math.abs(v) <= bound); sum += v; sq += v * v; }
        // uniform(±a): mean 0, variance a²/3
        assertEquals(0, sum / wa.length, 0.01 * bound);
        assertEquals(bound * bound / 3, sq / wa.length, 0.02 * bound * bound);
        for (float v : a.get("norm.weight").toFloatArray()) assertTrue(v >= 0.9f && v <= 1.1f);
        for (float v : a.get("attn.zero_k_bias").toFloatArray()) assertEquals(0f, v);
        assertThrows(WeightFormatException.class, () -> a.get("nope"));
    }

    @Test
    void bf16IsTheRoundedF32() {
        float[] f = RandomWeightSource.of("t", shapes(), DType.F32, 9).get("fc.weight").toFloatArray();
        Tensor h = RandomWeightSource.of("t", shapes(), DType.BF16, 9).get("fc.weight");
        assertEquals(DType.BF16, h.dtype());
        float[] g = h.toFloatArray();
        for (int i = 0; i < f.length; i++) assertEquals(DType.bf16ToF32(DType.f32ToBf16(f[i])), g[i]);
    }
}
