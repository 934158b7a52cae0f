package dev.infinityj.vae;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Algorithms 1 and 2 from the fixture's encoder output (vae-roundtrip, official code). */
class MultiScaleBsqFixtureTest {

    static int[][] grids(SafetensorsFile cs, String img) {
        long[] s = cs.get(img + ".input.scale_schedule").toLongArray();
        int[][] g = new int[s.length / 3][];
        for (int i = 0; i < g.length; i++) g[i] = new int[] {(int) s[3 * i + 1], (int) s[3 * i + 2]};
        return g;
    }

    /** Bits equal the reference except where the reference residual is within 1e-5 (relative to its token norm) of 0. */
    static void assertBits(byte[] got, Tensor ref, Tensor residual, int d, String what) {
        long[] want = ref.toLongArray();
        assertEquals(want.length, got.length, what);
        float[] r = residual == null ? null : residual.toFloatArray();
        int n = want.length / d;
        for (int i = 0; i < want.length; i++) {
            if (want[i] == got[i]) continue;
            int t = i / d, j = i % d;
            assertNotNull(r, what + ": bit " + i + " differs");
            double norm = 0;
            for (int k = 0; k < d; k++) norm += (double) r[k * n + t] * r[k * n + t];
            assertTrue(Math.abs(r[j * n + t]) / Math.sqrt(norm) < 1e-5, what + ": bit " + j + " of token " + t + " differs and its residual is not near 0");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sq", "wide"})
    void algorithm1MatchesReference(String img) {
        try (SafetensorsFile cs = SafetensorsFile.open(Fixtures.dir("vae-roundtrip").resolve("case.safetensors"))) {
            int[][] g = grids(cs, img);
            Tensor h = cs.get(img + ".enc.h");
            int d = (int) h.dim(1);
            MultiScaleBsq.Result res = new MultiScaleBsq(d).quantize(new CpuBackend(), h, g);
            for (int k = 0; k < g.length; k++) {
                String p = img + ".s%02d.".formatted(k);
                assertBits(res.bits().get(k), cs.get(p + "bits"), cs.get(p + "residual_in"), d, p + "bits");
            }
            double diff = VaeTestSupport.maxAbsDiff(res.fHat(), cs.get(img + ".enc.z"));
            assertTrue(diff <= 1e-5, "z max |diff| " + diff);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sq", "wide"})
    void algorithm2CleanGivesTeacherForcingInputs(String img) {
        try (SafetensorsFile cs = SafetensorsFile.open(Fixtures.dir("vae-roundtrip").resolve("case.safetensors"))) {
            int[][] g = grids(cs, img);
            Tensor h = cs.get(img + ".enc.h");
            int d = (int) h.dim(1);
            MultiScaleBsq.SelfCorrection sc = new MultiScaleBsq(d).selfCorrect(new CpuBackend(), h, g, MultiScaleBsq.noFlips());
            for (int k = 0; k < g.length; k++) {
                String p = img + ".s%02d.".formatted(k);
                assertBits(sc.labels().get(k), cs.get(p + "bits"), cs.get(p + "residual_in"), d, "clean labels " + p);
            }
            Tensor ref = cs.get(img + ".bsc_clean.x_BLC_wo_prefix");
            assertEquals(ref.dim(1), sc.inputs().dim(0));
            double diff = VaeTestSupport.maxAbsDiff(sc.inputs(), ref);
            assertTrue(diff <= 1e-5, "x_BLC max |diff| " + diff);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sq", "wide"})
    void algorithm2WithTheReferenceFlips(String img) {
        try (SafetensorsFile cs = SafetensorsFile.open(Fixtures.dir("vae-roundtrip").resolve("case.safetensors"))) {
            int[][] g = grids(cs, img);
            Tensor h = cs.get(img + ".enc.h");
            int d = (int) h.dim(1);
            // replay the official run's flips: flip mask = pred_bits != gt_bits at each scale
            MultiScaleBsq.BitFlips replay = (k, bits) -> {
                String p = img + ".bsc.s%02d.".formatted(k);
                long[] gt = cs.get(p + "gt_bits").toLongArray(), pred = cs.get(p + "pred_bits").toLongArray();
                byte[] out = bits.clone();
                for (int i = 0; i < out.length; i++) if (gt[i] != pred[i]) out[i] ^= 1;
                return out;
            };
            MultiScaleBsq.SelfCorrection sc = new MultiScaleBsq(d).selfCorrect(new CpuBackend(), h, g, replay);
            int flipped = 0;
            for (int k = 0; k < g.length; k++) {
                String p = img + ".bsc.s%02d.".formatted(k);
                assertBits(sc.labels().get(k), cs.get(p + "gt_bits"), null, d, "labels " + p);
                assertBits(sc.fedBits().get(k), cs.get(p + "pred_bits"), null, d, "fed " + p);
                for (int i = 0; i < sc.labels().get(k).length; i++) if (sc.labels().get(k)[i] != sc.fedBits().get(k)[i]) flipped++;
            }
            assertTrue(flipped > 100, "the fixture's flips were applied");
            double diff = VaeTestSupport.maxAbsDiff(sc.inputs(), cs.get(img + ".bsc.x_BLC_wo_prefix"));
            assertTrue(diff <= 1e-5, "x_BLC max |diff| " + diff);
        }
    }

    @org.junit.jupiter.api.Test
    void randomFlipsAreSeededAndBounded() {
        byte[] bits = new byte[32 * 64];
        MultiScaleBsq.BitFlips f = MultiScaleBsq.randomFlips(123, 5, 0.3);
        List<Integer> counts = new java.util.ArrayList<>();
        for (int k = 0; k < 7; k++) {
            byte[] a = f.apply(k, bits), b = f.apply(k, bits);
            assertArrayEquals(a, b, "same seed, same flips");
            int c = 0;
            for (byte x : a) c += x;
            counts.add(c);
            if (k >= 5) assertSame(bits, a, "scales beyond noise_apply_layers are untouched");
            else assertTrue(c <= 0.3 * bits.length * 1.25 + 20, "flip rate above the strength: " + c);
        }
        assertTrue(counts.subList(0, 5).stream().mapToInt(Integer::intValue).sum() > 0, "some bits flipped");
        boolean differ = false;
        for (int k = 0; k < 5; k++)
            differ |= !java.util.Arrays.equals(MultiScaleBsq.randomFlips(1, 5, 0.3).apply(k, bits), MultiScaleBsq.randomFlips(2, 5, 0.3).apply(k, bits));
        assertTrue(differ, "different seeds give different flips");
    }
}
