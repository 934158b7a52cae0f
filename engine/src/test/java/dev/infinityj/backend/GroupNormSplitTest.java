package dev.infinityj.backend;

import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** groupNormStats + groupNormApply against a float64 GroupNorm(+SiLU), and band-wise application against the whole map. */
class GroupNormSplitTest {

    @Test
    void matchesFloat64ReferenceAndBandsAreExact() {
        int c = 48, h = 7, w = 5, groups = 24;
        Random r = new Random(11);
        float[] x = new float[c * h * w], wt = new float[c], bs = new float[c];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * 3 + 1);
        for (int i = 0; i < c; i++) { wt[i] = 1 + 0.3f * (float) r.nextGaussian(); bs[i] = 0.2f * (float) r.nextGaussian(); }
        Tensor xt = Tensor.ofFloats(x, c, h, w), wtt = Tensor.ofFloats(wt, c), bst = Tensor.ofFloats(bs, c);
        Backend be = new CpuBackend();
        Tensor st = be.groupNormStats(xt, groups, 1e-6f);
        for (boolean silu : new boolean[] {false, true}) {
            float[] got = be.groupNormApply(xt, groups, st, wtt, bst, silu).toFloatArray();
            int cg = c / groups, n = cg * h * w;
            for (int g = 0; g < groups; g++) {
                double m = 0, v = 0;
                for (int i = 0; i < n; i++) m += x[g * n + i];
                m /= n;
                for (int i = 0; i < n; i++) v += (x[g * n + i] - m) * (x[g * n + i] - m);
                v /= n;
                for (int i = 0; i < n; i++) {
                    int ch = g * cg + i / (h * w);
                    double y = (x[g * n + i] - m) / Math.sqrt(v + 1e-6) * wt[ch] + bs[ch];
                    if (silu) y = y / (1 + Math.exp(-y));
                    assertEquals(y, got[g * n + i], 1e-5 * (1 + Math.abs(y)));
                }
            }
            // rows [2, 5) normalised alone with the whole map's stats give the same values bit for bit
            float[] band = be.groupNormApply(xt.slice(1, 2, 5), groups, st, wtt, bst, silu).toFloatArray();
            for (int ch = 0; ch < c; ch++)
                for (int y = 2; y < 5; y++)
                    for (int q = 0; q < w; q++)
                        assertEquals(got[(ch * h + y) * w + q], band[(ch * 3 + y - 2) * w + q]);
        }
    }
}
