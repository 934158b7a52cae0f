package dev.infinityj.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fixture tests' elementwise comparison: max |expected − actual| (in double) within an absolute tolerance. */
public final class Close {
    private Close() {}

    /** Asserts equal lengths and max |diff| ≤ tol (NaN fails), naming {@code what} and the worst index; returns the max |diff|. */
    public static double assertClose(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs((double) expected[i] - actual[i]);
            if (!(d <= worst)) { worst = d; at = i; }
        }
        assertTrue(worst <= tol, what + ": max |diff| " + worst + " at " + at + " > " + tol);
        return worst;
    }
}
