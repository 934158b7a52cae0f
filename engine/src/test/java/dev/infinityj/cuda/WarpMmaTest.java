package dev.infinityj.cuda;

import dev.infinityj.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The warp emulator against a plain 16×8×16 product of bf16-rounded matrices. The fragments here are
 * packed register by register as the PTX ISA tables list them (a separate spelling of the layout from
 * the per-element formulas in WarpMma), so this checks that the emulator implements that layout;
 * whether the layout matches the hardware rests on the cited ISA section, not on this test.
 */
class WarpMmaTest {
    static float bf(Random r) { return WarpMma.round((float) r.nextGaussian()); }

    @Test
    void mmaMatchesThePlainProductUnderTheIsaLayout() {
        Random r = new Random(3);
        for (int trial = 0; trial < 20; trial++) {
            float[][] a = new float[16][16], b = new float[16][8], c = new float[16][8];
            for (float[] row : a) for (int j = 0; j < 16; j++) row[j] = bf(r);
            for (float[] row : b) for (int j = 0; j < 8; j++) row[j] = bf(r);
            for (float[] row : c) for (int j = 0; j < 8; j++) row[j] = (float) r.nextGaussian();
            int[][] af = new int[32][4], bfr = new int[32][2];
            float[][] cf = new float[32][4];
            for (int lane = 0; lane < 32; lane++) {
                int g = lane >> 2, t = lane & 3;
                af[lane][0] = WarpMma.pack(a[g][2 * t], a[g][2 * t + 1]);          // a0, a1
                af[lane][1] = WarpMma.pack(a[g + 8][2 * t], a[g + 8][2 * t + 1]);  // a2, a3
                af[lane][2] = WarpMma.pack(a[g][2 * t + 8], a[g][2 * t + 9]);      // a4, a5
                af[lane][3] = WarpMma.pack(a[g + 8][2 * t + 8], a[g + 8][2 * t + 9]); // a6, a7
                bfr[lane][0] = WarpMma.pack(b[2 * t][g], b[2 * t + 1][g]);         // b0, b1
                bfr[lane][1] = WarpMma.pack(b[2 * t + 8][g], b[2 * t + 9][g]);     // b2, b3
                cf[lane] = new float[] {c[g][2 * t], c[g][2 * t + 1], c[g + 8][2 * t], c[g + 8][2 * t + 1]};
            }
            WarpMma.mma16816(af, bfr, cf);
            for (int lane = 0; lane < 32; lane++) {
                int g = lane >> 2, t = lane & 3;
                for (int i = 0; i < 4; i++) {
                    int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
                    double want = c[row][col];
                    for (int kk = 0; kk < 16; kk++) want += (double) a[row][kk] * b[kk][col];
                    assertEquals(want, cf[lane][i], 1e-5 * (1 + Math.abs(want)), "lane " + lane + " c" + i);
                }
            }
        }
    }

    @Test
    void packRoundsToNearestEvenWithLoInTheLowHalf() {
        int w = WarpMma.pack(1.0f, -2.0f);
        assertEquals(1.0f, DType.bf16ToF32((short) w));
        assertEquals(-2.0f, DType.bf16ToF32((short) (w >>> 16)));
        // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to even (1); 1 + 3·2^-9 rounds up
        assertEquals(1.0f, WarpMma.round(1f + 0x1p-8f));
        assertEquals(1f + 0x1p-7f, WarpMma.round(1f + 3 * 0x1p-9f));
    }

    @Test
    void shflXorExchangesWithinTheQuad() {
        float[] v = new float[32];
        for (int i = 0; i < 32; i++) v[i] = i;
        float[] one = WarpMma.shflXor(v, 1), two = WarpMma.shflXor(v, 2);
        assertEquals(1f, one[0]);
        assertEquals(6f, one[7]);
        assertEquals(2f, two[0]);
        assertEquals(29f, two[31]);
    }
}
