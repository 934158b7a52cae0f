package dev.infinityj.cpu;

import java.lang.foreign.MemorySegment;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * The plain GEMM beside the fast one: the same contract as {@link Gemm#multiply} (without the
 * thread pool), scalar loops with one fp32 accumulator per element, k in order. For tests and
 * for reading; {@link Gemm} is the one to call.
 */
public final class GemmReference {
    private GemmReference() {}

    public static void multiply(int m, int n, int k, Mat a, Mat b, MemorySegment c, long cOff, long ldc,
                                float[] biasN, float[] biasM, boolean accumulate) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++)
                    s += GemmPack.read(a.seg(), a.offset(i, p), a.dtype()) * GemmPack.read(b.seg(), b.offset(p, j), b.dtype());
                long o = cOff + 4 * ((long) i * ldc + j);
                if (accumulate) s += c.get(F32_LE, o);
                if (biasN != null) s += biasN[j];
                if (biasM != null) s += biasM[i];
                c.set(F32_LE, o, s);
            }
    }
}
