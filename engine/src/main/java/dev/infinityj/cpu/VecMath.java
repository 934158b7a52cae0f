package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Deterministic vector math for the kernels. The Vector API's own {@code lanewise(EXP)} and
 * {@code reduceLanes(ADD)} give different bits when the JIT intrinsifies them (SVML, tree
 * reduction) than in the interpreter/C1 fallback (Math.exp per lane, sequential sum), so results
 * would depend on JIT timing — and with it on thread count and run. These replacements use only
 * IEEE-exact lane operations (add, mul, fma, shuffles, bit casts), so every execution mode gives
 * the same bits, and the scalar twins give the same bits as a vector lane.
 */
public final class VecMath {
    private VecMath() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    private static final VectorShuffle<Float>[] HSUM = hsumShuffles();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] hsumShuffles() {
        int steps = Integer.numberOfTrailingZeros(L);
        VectorShuffle<Float>[] s = new VectorShuffle[steps];
        for (int k = 0; k < steps; k++) {
            int bit = L >> (k + 1);
            s[k] = VectorShuffle.fromOp(S, i -> i ^ bit);
        }
        return s;
    }

    /** Sum of the lanes as a fixed butterfly tree (lane i pairs with i ^ L/2, then i ^ L/4, ...). */
    public static float hsum(FloatVector v) {
        for (VectorShuffle<Float> sh : HSUM) v = v.add(v.rearrange(sh));
        return v.lane(0);
    }

    // Cephes expf: e^x = 2^n · e^r, n = round(x·log2 e), r = x − n·ln 2 (two-part), degree-6 polynomial.
    static final float LO = -87f, HI = 88f, LOG2E = 1.44269504088896341f, MAGIC = 12582912f; // 1.5·2^23
    static final float C1 = 0.693359375f, C2 = -2.12194440e-4f;
    static final float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f,
            P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    /**
     * e^x per lane, relative error ≈ 1e-7; arguments are clamped to [−87, 88] (so e^x for x &lt; −87
     * is 1.6e-38 rather than smaller, and x &gt; 88 gives 1.65e38 rather than overflowing).
     */
    public static FloatVector exp(FloatVector x) {
        x = x.max(LO).min(HI);
        FloatVector n = x.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, MAGIC)).sub(MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(S, -C1), x);
        r = n.fma(FloatVector.broadcast(S, -C2), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    /** The scalar twin of {@link #exp(FloatVector)}: the same operations, the same bits. */
    public static float exp(float x) {
        x = Math.min(Math.max(x, LO), HI);
        float n = Math.fma(x, LOG2E, MAGIC) - MAGIC;
        float r = Math.fma(n, -C1, x);
        r = Math.fma(n, -C2, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = p * (r * r) + r + 1f;
        return y * Float.intBitsToFloat(((int) n + 127) << 23);
    }
}
