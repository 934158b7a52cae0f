package dev.infinityj.cpu;

import dev.infinityj.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static dev.infinityj.tensor.Tensor.I16_LE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link Gemm} against a float64 scalar reference computed in this test, on odd sizes (M not a
 * multiple of 5, N not of 16, K not of KC; both the packed and the small-M streaming paths), F32 /
 * BF16 / F16 weights in both B layouts, with and without biases and accumulation; 1 and 2 threads
 * must agree bit for bit.
 *
 * <p>Tolerance, from K: a dot product of K terms summed in fp32 (any blocking, FMA or not) is
 * within γ·Σ|aᵢbᵢ| of the exact value with γ = (K+2)·u, u = 2⁻²⁴ (Higham, recursive summation,
 * plus the bias and accumulate additions); we allow 1.5× that. Dropping or duplicating a single
 * term (the typical indexing bug) moves the result by ~Σ|ab|/K, far above it.
 */
class GemmTest {
    private static final CpuThreads ONE = new CpuThreads(1), TWO = new CpuThreads(2);
    private static final Arena ARENA = Arena.ofShared();

    @AfterAll
    static void stop() { ONE.close(); TWO.close(); }

    /** A random matrix rows×cols in {@code dtype}, row-major (or its transpose stored when {@code nk}). */
    static final class Operand {
        final double[][] v;      // the values actually stored (after rounding to dtype), logical [rows][cols]
        final Mat mat;

        Operand(int rows, int cols, DType dtype, boolean storedTransposed, Random r, int pad) {
            v = new double[rows][cols];
            int es = dtype.byteSize();
            long ld = (storedTransposed ? rows : cols) + pad;
            long n = ld * (storedTransposed ? cols : rows);
            MemorySegment s = ARENA.allocate(Math.max(1, n * es + 64), 64);
            long base = 16;  // deliberately not 32-byte aligned
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) {
                    float f = (float) (r.nextGaussian());
                    long idx = storedTransposed ? (long) j * ld + i : (long) i * ld + j;
                    long off = base + idx * es;
                    switch (dtype) {
                        case F32 -> { s.set(F32_LE, off, f); v[i][j] = f; }
                        case BF16 -> { short b = DType.f32ToBf16(f); s.set(I16_LE, off, b); v[i][j] = DType.bf16ToF32(b); }
                        default -> { short b = DType.f32ToF16(f); s.set(I16_LE, off, b); v[i][j] = DType.f16ToF32(b); }
                    }
                }
            mat = storedTransposed ? Mat.transposed(s, base, dtype, ld) : Mat.rowMajor(s, base, dtype, ld);
        }
    }

    private static float[] randomVector(int n, Random r) {
        float[] b = new float[n];
        for (int i = 0; i < n; i++) b[i] = (float) r.nextGaussian();
        return b;
    }

    /** Runs one case on 1 and 2 threads; checks both against float64 and against each other. */
    private static void check(int m, int n, int k, DType bType, boolean nk, boolean biasN, boolean biasM, boolean accumulate, long seed) {
        Random r = new Random(seed);
        Operand a = new Operand(m, k, DType.F32, false, r, 3);
        Operand b = new Operand(k, n, bType, nk, r, 5);
        float[] bn = biasN ? randomVector(n, r) : null, bm = biasM ? randomVector(m, r) : null;
        long ldc = n + 7, cOff = 4 * 3;
        long bytes = cOff + 4 * ldc * m + 64;
        float[] c0 = randomVector((int) (ldc * m), r);
        MemorySegment c1 = ARENA.allocate(bytes, 64), c2 = ARENA.allocate(bytes, 64);
        MemorySegment.copy(c0, 0, c1, F32_LE, cOff, c0.length);
        MemorySegment.copy(c0, 0, c2, F32_LE, cOff, c0.length);
        Gemm.multiply(ONE, m, n, k, a.mat, b.mat, c1, cOff, ldc, bn, bm, accumulate);
        Gemm.multiply(TWO, m, n, k, a.mat, b.mat, c2, cOff, ldc, bn, bm, accumulate);
        String what = m + "x" + n + "x" + k + " " + bType + (nk ? " [N,K]" : " [K,N]") + (biasN ? " biasN" : "") + (biasM ? " biasM" : "") + (accumulate ? " +=" : "");
        double u = Math.scalb(1.0, -24);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++) {
                long o = cOff + 4 * ((long) i * ldc + j);
                float g1 = c1.get(F32_LE, o), g2 = c2.get(F32_LE, o);
                if (Float.floatToRawIntBits(g1) != Float.floatToRawIntBits(g2))
                    fail(what + ": 1 and 2 threads differ at (" + i + "," + j + "): " + g1 + " vs " + g2);
                float before = c0[(int) ((long) i * ldc + j)];
                if (j >= n) { assertEquals(before, g1, 0f, what + ": wrote past column n at (" + i + "," + j + ")"); continue; }
                double exact = 0, mag = 0;
                for (int p = 0; p < k; p++) { double t = a.v[i][p] * b.v[p][j]; exact += t; mag += Math.abs(t); }
                if (accumulate) { exact += before; mag += Math.abs(before); }
                if (bn != null) { exact += bn[j]; mag += Math.abs(bn[j]); }
                if (bm != null) { exact += bm[i]; mag += Math.abs(bm[i]); }
                double tol = 1.5 * (k + 3) * u * mag + 1e-30;
                if (Math.abs(g1 - exact) > tol)
                    fail(what + ": C(" + i + "," + j + ") = " + g1 + ", float64 " + exact + ", tolerance " + tol);
            }
        // nothing written before the first row or after the last
        assertEquals(0f, c1.get(F32_LE, 0), what);
    }

    private static final int[][] SHAPES = {
            {1, 1, 1}, {1, 7, 97}, {7, 97, 257}, {97, 7, 1025}, {6, 33, 300}, {61, 257, 513},
            {16, 257, 97}, {17, 65, 1025}, {1025, 17, 31}, {257, 97, 257}, {2, 3, 1}, {11, 1025, 37}, {100, 48, 524},
    };

    @Test
    void f32WeightsBothLayouts() {
        long seed = 1;
        for (int[] s : SHAPES)
            for (boolean nk : new boolean[] {true, false})
                check(s[0], s[1], s[2], DType.F32, nk, nk, false, false, seed++);
    }

    @Test
    void bf16WeightsBothLayouts() {
        long seed = 100;
        for (int[] s : SHAPES)
            for (boolean nk : new boolean[] {true, false})
                check(s[0], s[1], s[2], DType.BF16, nk, !nk, nk, false, seed++);
    }

    @Test
    void f16WeightsBothLayouts() {
        long seed = 200;
        for (int[] s : SHAPES)
            for (boolean nk : new boolean[] {true, false})
                check(s[0], s[1], s[2], DType.F16, nk, true, false, false, seed++);
    }

    @Test
    void accumulateWithBothBiases() {
        long seed = 300;
        for (int[] s : new int[][] {{7, 97, 257}, {16, 33, 300}, {61, 257, 513}, {67, 33, 300}, {3, 5, 0}})
            for (boolean nk : new boolean[] {true, false})
                check(s[0], s[1], s[2], DType.BF16, nk, true, true, true, seed++);
    }

    @Test
    void aOperandInHalfPrecision() {
        // the conv path feeds BF16/F16 weights as A
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            Random r = new Random(t.ordinal());
            int m = 13, n = 37, k = 290;
            Operand a = new Operand(m, k, t, false, r, 1), b = new Operand(k, n, DType.F32, false, r, 0);
            MemorySegment c = ARENA.allocate(4L * m * n, 64);
            Gemm.multiply(TWO, m, n, k, a.mat, b.mat, c, 0, n, null, null, false);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double exact = 0, mag = 0;
                    for (int p = 0; p < k; p++) { exact += a.v[i][p] * b.v[p][j]; mag += Math.abs(a.v[i][p] * b.v[p][j]); }
                    assertEquals(exact, c.getAtIndex(F32_LE, (long) i * n + j), 1.5 * (k + 3) * Math.scalb(1.0, -24) * mag, t + " A");
                }
        }
    }

    @Test
    void referenceAgreesWithFloat64() {
        Random r = new Random(7);
        int m = 9, n = 21, k = 33;
        Operand a = new Operand(m, k, DType.F32, false, r, 0), b = new Operand(k, n, DType.BF16, true, r, 0);
        float[] bn = randomVector(n, r);
        MemorySegment c = ARENA.allocate(4L * m * n, 64);
        GemmReference.multiply(m, n, k, a.mat, b.mat, c, 0, n, bn, null, false);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double exact = bn[j], mag = Math.abs(bn[j]);
                for (int p = 0; p < k; p++) { exact += a.v[i][p] * b.v[p][j]; mag += Math.abs(a.v[i][p] * b.v[p][j]); }
                assertEquals(exact, c.getAtIndex(F32_LE, (long) i * n + j), 1.5 * (k + 3) * Math.scalb(1.0, -24) * mag);
            }
    }

    @Test
    void widenMatchesScalarConversionsForAllBitPatterns() {
        MemorySegment s = ARENA.allocate(2 * 65536, 64);
        for (int i = 0; i < 65536; i++) s.setAtIndex(I16_LE, i, (short) i);
        float[] f16 = new float[8], bf = new float[8];
        for (int i = 0; i < 65536; i += 8) {
            Widen.f16(s, 2L * i).intoArray(f16, 0);
            Widen.bf16(s, 2L * i).intoArray(bf, 0);
            for (int l = 0; l < 8; l++) {
                short h = (short) (i + l);
                // NaN payloads may differ (the scalar conversion quiets signalling NaNs); NaN must stay NaN
                if (Float.isNaN(f16[l]) && Float.isNaN(Float.float16ToFloat(h))) continue;
                if (Float.floatToRawIntBits(f16[l]) != Float.floatToRawIntBits(Float.float16ToFloat(h)))
                    fail("f16 0x" + Integer.toHexString(h & 0xffff) + ": " + f16[l] + " vs " + Float.float16ToFloat(h));
                assertEquals(Float.floatToRawIntBits(DType.bf16ToF32(h)), Float.floatToRawIntBits(bf[l]));
            }
        }
    }

    /** A packed once (PackedA) gives the same C bit for bit as A packed per call, on 1 and 2 threads, across K blocks and row-panel edges. */
    @Test
    void prePackedAEqualsPerCallPacking() {
        java.util.Random r = new java.util.Random(17);
        for (int[] s : new int[][] {{1, 3, 5}, {9, 40, 257}, {70, 33, 300}, {130, 64, 513}}) {
            int m = s[0], n = s[1], k = s[2];
            MemorySegment as = ARENA.allocate(4L * m * k, 64), bs = ARENA.allocate(4L * k * n, 64);
            for (long i = 0; i < (long) m * k; i++) as.setAtIndex(F32_LE, i, (float) r.nextGaussian());
            for (long i = 0; i < (long) k * n; i++) bs.setAtIndex(F32_LE, i, (float) r.nextGaussian());
            Mat a = Mat.rowMajor(as, 0, DType.F32, k), b = Mat.rowMajor(bs, 0, DType.F32, n);
            PackedA pa = PackedA.pack(a, m, k);
            for (CpuThreads pool : new CpuThreads[] {ONE, TWO}) {
                MemorySegment c1 = ARENA.allocate(4L * m * n, 64), c2 = ARENA.allocate(4L * m * n, 64);
                Gemm.multiply(pool, m, n, k, a, b, c1, 0, n, null, null, false);
                Gemm.multiply(pool, m, n, k, pa, b, c2, 0, n, null, null, false);
                for (long i = 0; i < (long) m * n; i++)
                    assertEquals(Float.floatToRawIntBits(c1.getAtIndex(F32_LE, i)), Float.floatToRawIntBits(c2.getAtIndex(F32_LE, i)),
                            m + "x" + n + "x" + k + " element " + i);
            }
        }
    }
}
