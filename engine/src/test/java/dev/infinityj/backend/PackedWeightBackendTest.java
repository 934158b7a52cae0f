package dev.infinityj.backend;

import dev.infinityj.cpu.CpuThreads;
import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A weight that arrives already packed (from a converted file) gives every backend the same
 * linear as the plain weight: the naive reference (which unpacks it in linearWeight, the default)
 * and the CPU backend (which uses it as it is), bit for bit.
 */
class PackedWeightBackendTest {
    private static final CpuBackend CPU = new CpuBackend(2);
    private static final CpuThreads POOL = new CpuThreads(1);

    @AfterAll
    static void stop() { CPU.close(); POOL.close(); }

    private static Tensor random(Random r, DType dt, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.ofFloats(v, shape).to(dt);
    }

    private static void sameBits(Tensor a, Tensor b, String what) {
        assertArrayEquals(a.shape(), b.shape(), what);
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        for (int i = 0; i < x.length; i++)
            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) fail(what + ": differs at " + i + ": " + x[i] + " vs " + y[i]);
    }

    @Test
    void naiveAndCpuLinearOnAPackedWeightEqualThePlainOne() {
        Random r = new Random(11);
        NaiveBackend naive = new NaiveBackend();
        for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16})
            for (int[] s : new int[][]{{1, 37, 48}, {5, 130, 16}, {33, 64, 160}}) { // M, K, N
                int m = s[0], k = s[1], n = s[2];
                Tensor x = random(r, DType.F32, m, k), w = random(r, dt, n, k), b = random(r, DType.F32, n);
                Tensor packed = PackedLinear.pack(POOL, w);
                String what = dt + " " + m + "x" + k + "x" + n;

                Tensor nw = naive.linearWeight(packed);
                assertArrayEquals(new long[]{n, k}, nw.shape(), what + ": the naive backend gets [N, K]");
                sameBits(naive.linear(x, w, b), naive.linear(x, nw, b), what + " naive");

                assertSame(packed, CPU.linearWeight(packed), what + ": the CPU backend keeps a packed weight as it is");
                sameBits(CPU.linear(x, CPU.linearWeight(w), b), CPU.linear(x, CPU.linearWeight(packed), b), what + " cpu");
            }
    }
}
