package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The one-line element-wise ops over element ranges: add, mul, scale, relu (o may alias a).
 * References: {@code NaiveBackend.add/mul/scale/relu/addInPlace}.
 */
public final class ElementwiseKernels {
    private ElementwiseKernels() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    public static void add(MemorySegment a, long ao, MemorySegment b, long bo, MemorySegment o, long oo, long n) {
        long p = 0;
        for (; p <= n - L; p += L)
            FloatVector.fromMemorySegment(S, a, (ao + p) * 4, LE).add(FloatVector.fromMemorySegment(S, b, (bo + p) * 4, LE))
                    .intoMemorySegment(o, (oo + p) * 4, LE);
        for (; p < n; p++) o.setAtIndex(F, oo + p, a.getAtIndex(F, ao + p) + b.getAtIndex(F, bo + p));
    }

    public static void mul(MemorySegment a, long ao, MemorySegment b, long bo, MemorySegment o, long oo, long n) {
        long p = 0;
        for (; p <= n - L; p += L)
            FloatVector.fromMemorySegment(S, a, (ao + p) * 4, LE).mul(FloatVector.fromMemorySegment(S, b, (bo + p) * 4, LE))
                    .intoMemorySegment(o, (oo + p) * 4, LE);
        for (; p < n; p++) o.setAtIndex(F, oo + p, a.getAtIndex(F, ao + p) * b.getAtIndex(F, bo + p));
    }

    public static void scale(MemorySegment a, long ao, float s, MemorySegment o, long oo, long n) {
        long p = 0;
        for (; p <= n - L; p += L)
            FloatVector.fromMemorySegment(S, a, (ao + p) * 4, LE).mul(s).intoMemorySegment(o, (oo + p) * 4, LE);
        for (; p < n; p++) o.setAtIndex(F, oo + p, a.getAtIndex(F, ao + p) * s);
    }

    public static void relu(MemorySegment a, long ao, MemorySegment o, long oo, long n) {
        long p = 0;
        for (; p <= n - L; p += L)
            FloatVector.fromMemorySegment(S, a, (ao + p) * 4, LE).max(0f).intoMemorySegment(o, (oo + p) * 4, LE);
        for (; p < n; p++) o.setAtIndex(F, oo + p, Math.max(a.getAtIndex(F, ao + p), 0f));
    }
}
