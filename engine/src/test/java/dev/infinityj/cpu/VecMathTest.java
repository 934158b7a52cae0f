package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VecMath.exp against Math.exp (double), its scalar twin lane by lane, and hsum against a double sum. */
class VecMathTest {
    @Test
    void expIsAccurateAndTheScalarTwinMatchesEveryLane() {
        int l = VecMath.L;
        float[] x = new float[l], y = new float[l];
        double worst = 0;
        for (int i = 0; i < 200_003; i++) {
            float v = -87f + 175f * i / 200_003f;
            x[i % l] = v;
            if (i % l == l - 1) {
                VecMath.exp(FloatVector.fromArray(VecMath.S, x, 0)).intoArray(y, 0);
                for (int k = 0; k < l; k++) {
                    assertEquals(Float.floatToIntBits(VecMath.exp(x[k])), Float.floatToIntBits(y[k]), "lane " + k + " at x=" + x[k]);
                    worst = Math.max(worst, Math.abs(y[k] - Math.exp(x[k])) / Math.exp(x[k]));
                }
            }
        }
        assertTrue(worst < 2.5e-7, "max relative error " + worst);
        assertEquals(0f, VecMath.exp(-1000f), 1e-37f);   // clamped: tiny, not NaN
        assertTrue(VecMath.exp(1000f) > 1e38f && Float.isFinite(VecMath.exp(1000f)));
        assertEquals(1f, VecMath.exp(0f));
    }

    @Test
    void hsumIsTheLaneSum() {
        float[] a = KernelTestSupport.random(3, VecMath.L, 100);
        double ref = 0;
        for (float v : a) ref += v;
        assertEquals(ref, VecMath.hsum(FloatVector.fromArray(VecMath.S, a, 0)), 1e-4);
    }
}
