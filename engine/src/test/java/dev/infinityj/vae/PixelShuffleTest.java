package dev.infinityj.vae;

import dev.infinityj.model.BitCodes;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Spec §4.6 index rule, inverse pairs, and consistency of the bit and code layouts. */
class PixelShuffleTest {

    @Test
    void followsTheSpecIndexRuleAndInverts() {
        int c = 3, h = 2, w = 3;
        float[] x = new float[4 * c * h * w];
        for (int i = 0; i < x.length; i++) x[i] = i;
        float[] s = PixelShuffle.shuffle(x, 4 * c, h, w);
        for (int ch = 0; ch < c; ch++)
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    for (int y = 0; y < h; y++)
                        for (int q = 0; q < w; q++)
                            assertEquals(x[((ch * 4 + dy * 2 + dx) * h + y) * w + q], s[(ch * 2 * h + 2 * y + dy) * 2 * w + 2 * q + dx]);
        assertArrayEquals(x, PixelShuffle.unshuffle(s, c, 2 * h, 2 * w));
    }

    @Test
    void bitLayoutsAgreeWithCodeLayouts() {
        int d = 14, h = 3, w = 2;
        byte[] tokens = new byte[h * w * 4 * d];
        Random r = new Random(1);
        for (int i = 0; i < tokens.length; i++) tokens[i] = (byte) r.nextInt(2);
        byte[] latentBits = PixelShuffle.tokensToBits(tokens, h, w, d);
        assertArrayEquals(tokens, PixelShuffle.bitsToTokens(latentBits, 2 * h, 2 * w, d));
        // tokens as a [4d, h, w] map, shuffled, equal the latent bits' map [d, 2h, 2w]
        float[] tokMap = BitCodes.bitsToCodes(tokens, h, w, 4 * d);
        float[] latMap = BitCodes.bitsToCodes(latentBits, 2 * h, 2 * w, d);
        float[] shuffled = PixelShuffle.shuffle(tokMap, 4 * d, h, w);
        for (int i = 0; i < shuffled.length; i++) assertEquals(Math.signum(latMap[i]), Math.signum(shuffled[i]));
    }
}
