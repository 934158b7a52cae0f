package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * An 8×32 GEMM micro-kernel on 512-bit vectors, for CPUs with two full-width AVX-512 FMA units
 * (Intel server cores; {@link Simd#ZMM_GEMM}): sixteen 16-lane accumulators, a packed A panel
 * {@code [k][8]} and a float B panel {@code [k][32]}. Measured on a 2-core Intel Xeon VM (AMX,
 * AVX-512), one core, kc 256: 158–164 GFLOPS against 110–114 for {@link GemmKernel8x16}; the
 * 256- and 512-bit kernels in one process kept both speeds (the shape-mixing slowdown noted in
 * {@link Simd} did not appear in this form: constant species, no shared generic code).
 *
 * <p>Same per-element arithmetic as the other kernels (an FMA chain over p in order, then one add
 * into C), so results are bit-identical to them. Accumulators leave through a float[] tile, as in
 * {@link GemmKernel8x16}, to keep C2 from boxing them.
 */
final class GemmKernel8x32 {
    private GemmKernel8x32() {}

    static final int MR = 8, NR = 32;
    private static final VectorSpecies<Float> Z = FloatVector.SPECIES_512;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** C[0..8, 0..32] (+)= A·B; {@code a[ao + 8p + i]} = A(i, p), {@code b[bo + 32p + j]} = B(p, j); tile: 256 floats. */
    static void run(int kc, float[] a, int ao, float[] b, int bo, float[] tile, MemorySegment c, long co, long ldc, boolean add) {
        accumulate(kc, a, ao, b, bo, tile);
        store(tile, c, co, ldc, add);
    }

    /** tile[32i + j] = Σ_p A(i, p)·B(p, j), p in order. */
    static void accumulate(int kc, float[] a, int ao, float[] b, int bo, float[] t) {
        FloatVector z = FloatVector.zero(Z);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z,
                c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        int ai = ao, bi = bo, end = ao + 8 * kc;
        for (; ai < end; ai += 8, bi += 32) {
            FloatVector b0 = FloatVector.fromArray(Z, b, bi);
            FloatVector b1 = FloatVector.fromArray(Z, b, bi + 16);
            FloatVector x = FloatVector.broadcast(Z, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(Z, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(Z, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(Z, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(Z, a[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(Z, a[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(Z, a[ai + 6]);
            c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(Z, a[ai + 7]);
            c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
        }
        c00.intoArray(t, 0); c01.intoArray(t, 16);
        c10.intoArray(t, 32); c11.intoArray(t, 48);
        c20.intoArray(t, 64); c21.intoArray(t, 80);
        c30.intoArray(t, 96); c31.intoArray(t, 112);
        c40.intoArray(t, 128); c41.intoArray(t, 144);
        c50.intoArray(t, 160); c51.intoArray(t, 176);
        c60.intoArray(t, 192); c61.intoArray(t, 208);
        c70.intoArray(t, 224); c71.intoArray(t, 240);
    }

    private static void store(float[] t, MemorySegment c, long co, long ldc, boolean add) {
        for (int i = 0; i < MR; i++, co += ldc) {
            FloatVector v0 = FloatVector.fromArray(Z, t, 32 * i), v1 = FloatVector.fromArray(Z, t, 32 * i + 16);
            if (add) {
                v0 = v0.add(FloatVector.fromMemorySegment(Z, c, co, LE));
                v1 = v1.add(FloatVector.fromMemorySegment(Z, c, co + 64, LE));
            }
            v0.intoMemorySegment(c, co, LE);
            v1.intoMemorySegment(c, co + 64, LE);
        }
    }
}
