package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The GEMM micro-kernel for machines with 32 vector registers (AVX-512, used here at 256 bits): an
 * 8×16 tile of C from a packed A panel ({@code [k][8]}) and a packed B panel ({@code [k][16]}),
 * sixteen 8-lane accumulators + 2 B vectors + a broadcast. Measured on a 2-vCPU Intel Xeon VM (AVX-512), one core,
 * kc 256: 109–114 GFLOPS against 93–97 for {@link GemmKernel5x16} (which stays the kernel for
 * AVX2's 16 registers, where this one spills and falls to ~66).
 *
 * <p>The accumulators go to a float[] tile and are added to C by a separate method: storing them
 * straight into the segment (16 fromMemorySegment/intoMemorySegment pairs) made the method big
 * enough that C2 hit NodeCountInliningCutoff, left the store helper out of line, boxed the
 * vectors and ran at 10 GFLOPS. Keep this method small and alone.
 */
final class GemmKernel8x16 {
    private GemmKernel8x16() {}

    static final int MR = 8, NR = 16;
    private static final VectorSpecies<Float> S = Simd.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /**
     * C[0..8, 0..16] (+)= A·B over {@code kc} steps. {@code a[ao + 8p + i]} is A(i, p);
     * {@code b[bo + 16p + j]} is B(p, j); {@code tile} is a 128-float scratch. C row i starts at
     * byte {@code co + i·ldc} of {@code c} (a native segment). {@code add}: C += result, else C = result.
     */
    static void run(int kc, float[] a, int ao, float[] b, int bo, float[] tile, MemorySegment c, long co, long ldc, boolean add) {
        accumulate(kc, a, ao, b, bo, tile);
        store(tile, c, co, ldc, add);
    }

    /** {@link #run} with B a packed BF16 weight panel at byte {@code bo} of {@code b} ({@link #accumulateBf16}). */
    static void runBf16(int kc, float[] a, int ao, MemorySegment b, long bo, float[] tile, MemorySegment c, long co, long ldc, boolean add) {
        accumulateBf16(kc, a, ao, b, bo, tile);
        store(tile, c, co, ldc, add);
    }

    /** tile[16i + j] = Σ_p A(i, p)·B(p, j), p in order. */
    static void accumulate(int kc, float[] a, int ao, float[] b, int bo, float[] t) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z,
                c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        int ai = ao, bi = bo, end = ao + 8 * kc;
        for (; ai < end; ai += 8, bi += 16) {
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + 8);
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(S, a[ai + 6]);
            c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(S, a[ai + 7]);
            c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
        }
        c00.intoArray(t, 0); c01.intoArray(t, 8);
        c10.intoArray(t, 16); c11.intoArray(t, 24);
        c20.intoArray(t, 32); c21.intoArray(t, 40);
        c30.intoArray(t, 48); c31.intoArray(t, 56);
        c40.intoArray(t, 64); c41.intoArray(t, 72);
        c50.intoArray(t, 80); c51.intoArray(t, 88);
        c60.intoArray(t, 96); c61.intoArray(t, 104);
        c70.intoArray(t, 112); c71.intoArray(t, 120);
    }

    /**
     * {@link #accumulate} with B read straight from a packed BF16 weight ({@link PackedLinear}: per
     * k, 16 values interleaved c0, c8, c1, c9, …): one 32-byte load, a shift and a mask give the two
     * B vectors exactly. The ALU ops run beside the FMAs (measured: same GFLOPS as the float panel),
     * and the weight stream is spread through the compute instead of stalling a separate widening
     * pass — at small M that pass waited on memory for a third of the time.
     */
    static void accumulateBf16(int kc, float[] a, int ao, MemorySegment b, long bo, float[] t) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z,
                c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        int ai = ao, end = ao + 8 * kc;
        long bi = bo;
        for (; ai < end; ai += 8, bi += 32) {
            IntVector v = IntVector.fromMemorySegment(I, b, bi, LE);
            FloatVector b0 = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector b1 = v.and(0xffff0000).reinterpretAsFloats();
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(S, a[ai + 6]);
            c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(S, a[ai + 7]);
            c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
        }
        c00.intoArray(t, 0); c01.intoArray(t, 8);
        c10.intoArray(t, 16); c11.intoArray(t, 24);
        c20.intoArray(t, 32); c21.intoArray(t, 40);
        c30.intoArray(t, 48); c31.intoArray(t, 56);
        c40.intoArray(t, 64); c41.intoArray(t, 72);
        c50.intoArray(t, 80); c51.intoArray(t, 88);
        c60.intoArray(t, 96); c61.intoArray(t, 104);
        c70.intoArray(t, 112); c71.intoArray(t, 120);
    }

    private static void store(float[] t, MemorySegment c, long co, long ldc, boolean add) {
        for (int i = 0; i < MR; i++, co += ldc) {
            FloatVector v0 = FloatVector.fromArray(S, t, 16 * i), v1 = FloatVector.fromArray(S, t, 16 * i + 8);
            if (add) {
                v0 = v0.add(FloatVector.fromMemorySegment(S, c, co, LE));
                v1 = v1.add(FloatVector.fromMemorySegment(S, c, co + 32, LE));
            }
            v0.intoMemorySegment(c, co, LE);
            v1.intoMemorySegment(c, co + 32, LE);
        }
    }
}
