package dev.infinityj.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class PhiloxTest {
    /** Known-answer vectors of Random123 (kat_vectors, philox4x32 R=10). */
    @Test
    void knownAnswers() {
        int[] o = new int[4];
        Philox.block(0, 0, 0, 0, 0, 0, o);
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, o);
        Philox.block(-1, -1, -1, -1, -1, -1, o);
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, o);
        Philox.block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, o);
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}, o);
    }

    @Test
    void uniformIsInUnitIntervalAndRoughlyUniform() {
        int n = 200_000, below = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float u = Philox.uniform(42, 3, i);
            assertTrue(u >= 0f && u < 1f);
            sum += u;
            if (u < 0.25f) below++;
        }
        assertEquals(0.5, sum / n, 0.005);
        assertEquals(0.25, (double) below / n, 0.005);
    }

    @Test
    void samplerFollowsProbabilitiesAndTopP() {
        // p1 = sigmoid(l1 - l0); with l1 - l0 = ln 3, p1 = 0.75
        float l1 = (float) Math.log(3);
        assertEquals(0.75f, BitSampler.filteredP1(0f, l1, 900, 0.97), 1e-6f);
        // minority 0.02 <= 0.03: removed, bit becomes deterministic
        float big = (float) Math.log(49); // p1 = 0.98
        assertEquals(1f, BitSampler.filteredP1(0f, big, 900, 0.97));
        assertEquals(0f, BitSampler.filteredP1(big, 0f, 900, 0.97));
        assertEquals(0.98f, BitSampler.filteredP1(0f, big, 900, 0), 1e-6f);
        int rows = 100_000;
        float[] logits = new float[2 * rows];
        for (int r = 0; r < rows; r++) logits[2 * r + 1] = l1;
        byte[] bits = new byte[rows];
        BitSampler.sample(logits, rows, 900, 0.97, 7, 0, 0, bits);
        int ones = 0;
        for (byte b : bits) ones += b;
        assertEquals(0.75, (double) ones / rows, 0.006);
    }
}
