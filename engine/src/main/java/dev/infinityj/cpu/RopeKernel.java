package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Interleaved RoPE of one token's [H, D] row in place: (x0, x1) ← (x0·c − x1·s, x0·s + x1·c) per pair.
 * Vector form x·cc + swap(x)·ss with cc = (c, c), ss = (−s, s) per pair: the same two products and
 * one add per lane as the scalar reference ({@code NaiveBackend.ropeInterleavedInPlace}), so the
 * results are bit-identical.
 */
public final class RopeKernel {
    private RopeKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final VectorShuffle<Float> SWAP = VectorShuffle.fromOp(S, i -> i ^ 1);

    /**
     * Token row at element offset {@code off}: {@code h} heads of {@code d} floats; cos/sin rows of
     * d/2 floats at {@code tOff} in {@code cos}/{@code sin}; {@code cc}, {@code ss} are scratch of d floats.
     */
    public static void token(MemorySegment x, long off, int h, int d, float[] cos, float[] sin, int tOff, float[] cc, float[] ss) {
        for (int p = 0; p < d / 2; p++) {
            float c = cos[tOff + p], s = sin[tOff + p];
            cc[2 * p] = c; cc[2 * p + 1] = c;
            ss[2 * p] = -s; ss[2 * p + 1] = s;
        }
        for (int hh = 0; hh < h; hh++) {
            long base = off + (long) hh * d;
            int p = 0;
            for (; p <= d - L; p += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, (base + p) * 4, LE);
                FloatVector a = v.mul(FloatVector.fromArray(S, cc, p));
                FloatVector b = v.rearrange(SWAP).mul(FloatVector.fromArray(S, ss, p));
                a.add(b).intoMemorySegment(x, (base + p) * 4, LE);
            }
            for (; p + 1 < d; p += 2) {
                float x0 = x.getAtIndex(F, base + p), x1 = x.getAtIndex(F, base + p + 1);
                float c = cc[p], s = ss[p + 1];
                x.setAtIndex(F, base + p, x0 * c - x1 * s);
                x.setAtIndex(F, base + p + 1, x0 * s + x1 * c);
            }
        }
    }
}
