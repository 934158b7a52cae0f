package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The GEMM micro-kernel: a 5×16 tile of C from a packed A panel ({@code [k][5]}) and a packed B
 * panel ({@code [k][16]}), ten 8-lane accumulators. On AVX2 (16 ymm registers) this is the largest
 * tile that C2 keeps entirely in registers: 10 accumulators + 2 B vectors + broadcasts; 12
 * accumulators (6×16, 4×24) spill one to the stack inside the k loop and run at half speed
 * (toolchain probe notes, §2). Keep this method small and alone: the JIT compiles it
 * as one unit and its register allocation is what the whole GEMM's speed rests on.
 */
final class GemmKernel5x16 {
    private GemmKernel5x16() {}

    static final int MR = 5, NR = 16;
    private static final VectorSpecies<Float> S = Simd.F;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /**
     * C[0..5, 0..16] (+)= A·B over {@code kc} steps. {@code a[ao + 5p + i]} is A(i, p);
     * {@code b[bo + 16p + j]} is B(p, j). C row i starts at byte {@code co + i·ldc} of {@code c}
     * (a native segment). {@code add}: C += result, else C = result.
     */
    static void run(int kc, float[] a, int ao, float[] b, int bo, MemorySegment c, long co, long ldc, boolean add) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
                c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
        // Pointer-increment form on purpose: with indices written as ao + 5p, C2 (UseAVX=2) hoists all
        // five broadcasts ahead of the FMAs, needs 17 registers and spills an accumulator (42 vs
        // 104 GFLOPS measured); with running offsets it interleaves them and nothing spills.
        int ai = ao, bi = bo, end = ao + 5 * kc;
        for (; ai < end; ai += 5, bi += 16) {
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
        }
        store(c, co, add, c00, c01);
        store(c, co + ldc, add, c10, c11);
        store(c, co + 2 * ldc, add, c20, c21);
        store(c, co + 3 * ldc, add, c30, c31);
        store(c, co + 4 * ldc, add, c40, c41);
    }

    private static void store(MemorySegment c, long off, boolean add, FloatVector v0, FloatVector v1) {
        if (add) {
            v0 = v0.add(FloatVector.fromMemorySegment(S, c, off, LE));
            v1 = v1.add(FloatVector.fromMemorySegment(S, c, off + 32, LE));
        }
        v0.intoMemorySegment(c, off, LE);
        v1.intoMemorySegment(c, off + 32, LE);
    }
}
