package dev.infinityj.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both GEMM micro-kernels, whichever one this machine's {@link Gemm} uses: each tile against a
 * float64 reference from the packed panels (tolerance (kc+2)·2⁻²⁴·Σ|ab|, as in GemmTest), with and
 * without accumulation into C; and the two kernels against each other bit for bit (same per-element
 * FMA order, so the choice by register count cannot change results between machines).
 */
class GemmKernelTest {
    /** The 512-bit 8×32 kernel equals two 8×16 tiles bit for bit (each element: the same FMA chain, one add into C). */
    @Test
    void zmmKernelEqualsTwo8x16Tiles() {
        Random r = new Random(13);
        try (Arena arena = Arena.ofConfined()) {
            for (int kc : new int[] {1, 7, 256}) {
                float[] a = new float[8 * kc], b32 = new float[32 * kc], lo = new float[16 * kc], hi = new float[16 * kc];
                for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
                for (int p = 0; p < kc; p++)
                    for (int j = 0; j < 32; j++) {
                        float v = (float) r.nextGaussian();
                        b32[32 * p + j] = v;
                        if (j < 16) lo[16 * p + j] = v; else hi[16 * p + j - 16] = v;
                    }
                for (boolean add : new boolean[] {false, true}) {
                    MemorySegment c1 = arena.allocate(8 * 160L, 64), c2 = arena.allocate(8 * 160L, 64);
                    for (int i = 0; i < 8 * 40; i++) { float v = (float) r.nextGaussian(); c1.setAtIndex(F32_LE, i, v); c2.setAtIndex(F32_LE, i, v); }
                    GemmKernel8x32.run(kc, a, 0, b32, 0, new float[256], c1, 0, 160, add);
                    GemmKernel8x16.run(kc, a, 0, lo, 0, new float[128], c2, 0, 160, add);
                    GemmKernel8x16.run(kc, a, 0, hi, 0, new float[128], c2, 64, 160, add);
                    for (int i = 0; i < 8 * 40; i++)
                        assertEquals(Float.floatToRawIntBits(c2.getAtIndex(F32_LE, i)), Float.floatToRawIntBits(c1.getAtIndex(F32_LE, i)),
                                "kc=" + kc + " add=" + add + " element " + i + (i % 40 >= 32 ? " (outside the tile)" : ""));
                }
            }
        }
    }

    /** The BF16 kernel reading interleaved packed panels (PackedLinear) equals the float kernel bit for bit. */
    @Test
    void bf16PanelKernelEqualsFloatKernel() {
        Random r = new Random(9);
        try (Arena arena = Arena.ofConfined()) {
            for (int kc : new int[] {1, 5, 256}) {
                float[] a = new float[8 * kc], b = new float[16 * kc];
                MemorySegment packed = arena.allocate(32L * kc + 32, 32);
                for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
                for (int p = 0; p < kc; p++)
                    for (int j = 0; j < 16; j++) {
                        short h = dev.infinityj.tensor.DType.f32ToBf16((float) r.nextGaussian());
                        b[16 * p + j] = dev.infinityj.tensor.DType.bf16ToF32(h);
                        packed.set(dev.infinityj.tensor.Tensor.I16_LE, 32 + 32L * p + 2L * PackedLinear.slot(dev.infinityj.tensor.DType.BF16, j), h);
                    }
                for (boolean add : new boolean[] {false, true}) {
                    MemorySegment c1 = arena.allocate(8 * 64L, 64), c2 = arena.allocate(8 * 64L, 64);
                    for (int i = 0; i < 128; i++) { float v = (float) r.nextGaussian(); c1.setAtIndex(F32_LE, i, v); c2.setAtIndex(F32_LE, i, v); }
                    GemmKernel8x16.run(kc, a, 0, b, 0, new float[128], c1, 0, 64, add);
                    GemmKernel8x16.runBf16(kc, a, 0, packed, 32, new float[128], c2, 0, 64, add);
                    for (int i = 0; i < 128; i++)
                        assertEquals(Float.floatToRawIntBits(c1.getAtIndex(F32_LE, i)), Float.floatToRawIntBits(c2.getAtIndex(F32_LE, i)),
                                "kc=" + kc + " add=" + add + " element " + i);
                }
            }
        }
    }

    @Test
    void bothKernelsMatchFloat64AndEachOther() {
        Random r = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            for (int kc : new int[] {1, 3, 17, 256}) {
                float[] a8 = new float[8 * kc], a5 = new float[5 * kc], b = new float[16 * kc];
                for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
                for (int p = 0; p < kc; p++)
                    for (int i = 0; i < 8; i++) {
                        a8[8 * p + i] = (float) r.nextGaussian();
                        if (i < 5) a5[5 * p + i] = a8[8 * p + i];
                    }
                long ldc = 4L * 24;   // C wider than the tile: the kernels must touch only 16 columns
                float[] c0 = new float[8 * 24];
                for (int i = 0; i < c0.length; i++) c0[i] = (float) r.nextGaussian();
                for (boolean add : new boolean[] {false, true}) {
                    MemorySegment c8 = arena.allocate(8 * ldc, 64), c5 = arena.allocate(8 * ldc, 64);
                    MemorySegment.copy(c0, 0, c8, F32_LE, 0, c0.length);
                    MemorySegment.copy(c0, 0, c5, F32_LE, 0, c0.length);
                    GemmKernel8x16.run(kc, a8, 0, b, 0, new float[128], c8, 0, ldc, add);
                    GemmKernel5x16.run(kc, a5, 0, b, 0, c5, 0, ldc, add);
                    for (int i = 0; i < 8; i++)
                        for (int j = 0; j < 24; j++) {
                            long o = i * ldc + 4L * j;
                            float got8 = c8.get(F32_LE, o);
                            if (j >= 16) { assertEquals(c0[24 * i + j], got8, "column " + j + " outside the tile was written"); continue; }
                            double exact = add ? c0[24 * i + j] : 0, mag = Math.abs(exact);
                            for (int p = 0; p < kc; p++) { double t = (double) a8[8 * p + i] * b[16 * p + j]; exact += t; mag += Math.abs(t); }
                            double tol = 1.5 * (kc + 2) * 0x1p-24 * mag + 1e-30;
                            assertTrue(Math.abs(got8 - exact) <= tol, "8x16 kc=" + kc + " add=" + add + " (" + i + "," + j + "): " + got8 + " vs " + exact);
                            if (i < 5) assertEquals(Float.floatToRawIntBits(c5.get(F32_LE, o)), Float.floatToRawIntBits(got8),
                                    "5x16 and 8x16 differ at kc=" + kc + " add=" + add + " (" + i + "," + j + ")");
                        }
                }
            }
        }
    }
}
