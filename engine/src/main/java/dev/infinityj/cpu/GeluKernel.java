package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * GELU over o[oo, oo+n) ← gelu(x[xo, xo+n)), both forms written without cancellation so small
 * negative outputs keep ~1e-6 relative accuracy:
 * tanh form 0.5·z·(1+tanh u) = z / (1 + e^(−2u)), u = √(2/π)(z + 0.044715 z³);
 * erf form 0.5·z·erfc(−z/√2) with the Numerical Recipes erfc (fractional error &lt; 1.2e-7).
 * {@link VecMath#exp} (deterministic; the scalar tail is its bit-identical twin). References:
 * {@code NaiveBackend.geluTanh/geluErf} (double tanh / series erf).
 */
public final class GeluKernel {
    private GeluKernel() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final float K0 = (float) Math.sqrt(2 / Math.PI), K1 = 0.044715f, RSQRT2 = (float) (1 / Math.sqrt(2));

    public static void tanhForm(MemorySegment x, long xo, MemorySegment o, long oo, long n) {
        long p = 0;
        for (; p <= n - L; p += L) {
            FloatVector z = FloatVector.fromMemorySegment(S, x, (xo + p) * 4, LE);
            FloatVector u = z.mul(z).mul(K1).fma(z, z).mul(-2f * K0);      // −2u
            z.div(VecMath.exp(u).add(1f)).intoMemorySegment(o, (oo + p) * 4, LE);
        }
        for (; p < n; p++) {
            float z = x.getAtIndex(F, xo + p);
            float u = Math.fma(z * z * K1, z, z) * (-2f * K0);
            o.setAtIndex(F, oo + p, z / (VecMath.exp(u) + 1f));
        }
    }

    public static void erfForm(MemorySegment x, long xo, MemorySegment o, long oo, long n) {
        long p = 0;
        for (; p <= n - L; p += L) {
            FloatVector z = FloatVector.fromMemorySegment(S, x, (xo + p) * 4, LE);
            FloatVector a = z.abs().mul(RSQRT2);
            FloatVector t = a.fma(0.5f, 1f);
            t = FloatVector.broadcast(S, 1f).div(t);
            FloatVector poly = t.fma(0.17087277f, -0.82215223f);
            poly = poly.fma(t, FloatVector.broadcast(S, 1.48851587f));
            poly = poly.fma(t, FloatVector.broadcast(S, -1.13520398f));
            poly = poly.fma(t, FloatVector.broadcast(S, 0.27886807f));
            poly = poly.fma(t, FloatVector.broadcast(S, -0.18628806f));
            poly = poly.fma(t, FloatVector.broadcast(S, 0.09678418f));
            poly = poly.fma(t, FloatVector.broadcast(S, 0.37409196f));
            poly = poly.fma(t, FloatVector.broadcast(S, 1.00002368f));
            poly = poly.fma(t, FloatVector.broadcast(S, -1.26551223f));
            FloatVector y = t.mul(VecMath.exp(a.neg().fma(a, poly))); // erfc(a)
            VectorMask<Float> pos = z.compare(VectorOperators.GE, 0f);
            FloatVector e = y.blend(y.neg().add(2f), pos);                            // erfc(−z/√2)
            z.mul(0.5f).mul(e).intoMemorySegment(o, (oo + p) * 4, LE);
        }
        for (; p < n; p++) o.setAtIndex(F, oo + p, erfScalar(x.getAtIndex(F, xo + p)));
    }

    static float erfScalar(float z) {
        float a = Math.abs(z) * RSQRT2;
        float t = 1f / Math.fma(a, 0.5f, 1f);
        float poly = Math.fma(t, 0.17087277f, -0.82215223f);
        poly = Math.fma(poly, t, 1.48851587f);
        poly = Math.fma(poly, t, -1.13520398f);
        poly = Math.fma(poly, t, 0.27886807f);
        poly = Math.fma(poly, t, -0.18628806f);
        poly = Math.fma(poly, t, 0.09678418f);
        poly = Math.fma(poly, t, 0.37409196f);
        poly = Math.fma(poly, t, 1.00002368f);
        poly = Math.fma(poly, t, -1.26551223f);
        float y = t * VecMath.exp(Math.fma(-a, a, poly));
        return z * 0.5f * (z >= 0 ? 2f - y : y);
    }
}
