package dev.infinityj.model;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Options validation, listeners, cancellation and the spatial-patchify layout, on small random models. */
class GeneratorApiTest {
    private static final ScaleSchedules.Schedule SQUARE = ScaleSchedules.forAspect(1.0, "0.06M");

    private static InfinityModel tiny(boolean patchify) {
        InfinityConfig c = new InfinityConfig("tiny-random", 2, 32, 2, 64, 1, 128, 16, 16, 15, 1e-6f, patchify);
        return InfinityModel.load(c, RandomWeightSource.of("tiny", InfinityWeights.expectedShapes(c), DType.F32, 5), new CpuBackend());
    }

    private static Tensor text(int tokens, int channels) {
        float[] v = new float[tokens * channels];
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.sin(i * 0.37);
        return Tensor.ofFloats(v, tokens, channels);
    }

    @Test
    void optionsAreValidatedWithTheOptionsName() {
        var b = GenerationOptions.builder(SQUARE);
        assertTrue(assertThrows(BadInputException.class, () -> b.tau(0).build()).getMessage().contains("option tau"));
        assertTrue(assertThrows(BadInputException.class, () -> GenerationOptions.builder(SQUARE).cfg(-1).build()).getMessage().contains("option cfg"));
        assertTrue(assertThrows(BadInputException.class, () -> GenerationOptions.builder(SQUARE).cfg(1, 2).build()).getMessage().contains("2 values for a 7-scale"));
        assertTrue(assertThrows(BadInputException.class, () -> GenerationOptions.builder(SQUARE).topP(1.5).build()).getMessage().contains("option top_p"));
        assertTrue(assertThrows(BadInputException.class, () -> GenerationOptions.builder(SQUARE).topK(-1).build()).getMessage().contains("option top_k"));
        assertTrue(assertThrows(BadInputException.class, () -> GenerationOptions.builder(SQUARE).forcedBits(List.of(new byte[]{2})).build()).getMessage().contains("forced bits"));
        GenerationOptions o = GenerationOptions.builder(SQUARE).cfg(1).tau(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1).seed(-7).build();
        assertEquals(7, o.cfg().length);
        assertTrue(!o.usesCfg());
        assertTrue(GenerationOptions.builder(SQUARE).cfg(1, 1, 1, 1, 1, 1, 2).build().usesCfg());
    }

    @Test
    void listenersSeeEveryScaleAndTheLatentGrows() {
        InfinityModel m = tiny(false);
        List<Integer> seen = new ArrayList<>();
        List<Double> energy = new ArrayList<>();
        var r = new InfinityGenerator(m).generate(text(5, 128), null, GenerationOptions.builder(SQUARE).seed(3).build(), List.of(ev -> {
            seen.add(ev.scale());
            assertEquals(ev.grid().tokens() * 16, ev.bits().length);
            assertEquals(ev.grid().tokens() * 32, ev.logitsMixed().length);
            assertTrue(ev.logitsUncond() != null);
            double e = 0;
            for (float v : ev.latent().toFloatArray()) e += v * v;
            energy.add(e);
        }));
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6), seen);
        assertArrayEquals(new long[]{16, 16, 16}, r.latent().shape());
        assertTrue(energy.getLast() > 0);
        // the last scale's codes are ±1/4 with d = 16 at every pixel, so f_hat really is accumulated
        assertEquals(7, r.bits().size());
    }

    @Test
    void everyTemplateRunsAndEveryScheduleHasARopeTable() {
        InfinityModel m = tiny(false);
        for (ScaleSchedules.PixelBudget b : ScaleSchedules.PixelBudget.values())
            for (ScaleSchedules.Schedule s : ScaleSchedules.all(b)) {
                Rope2d r = new Rope2d(s, 128);
                assertEquals(s.totalTokens() * 64, r.cosTable().length);
                assertEquals(s.last().tokens(), r.cos(s.scales() - 1).dim(0));
            }
        for (ScaleSchedules.Schedule s : ScaleSchedules.all(ScaleSchedules.PixelBudget.P0_06M)) {
            var res = new InfinityGenerator(m).generate(text(3, 128), null, GenerationOptions.builder(s).cfg(1).seed(1).build(), List.of());
            assertArrayEquals(new long[]{16, s.last().h(), s.last().w()}, res.latent().shape(), "template " + s.template());
        }
    }

    @Test
    void cfgOffOnTheLastScalesDropsTheUncondRowWithoutChangingTheCondRow() {
        InfinityModel m = tiny(false);
        List<float[]> dropped = new ArrayList<>(), kept = new ArrayList<>();
        List<Boolean> uncondSeen = new ArrayList<>();
        var a = new InfinityGenerator(m).generate(text(5, 128), null, GenerationOptions.builder(SQUARE).cfg(3, 3, 3, 3, 1, 1, 1).seed(9).build(),
                List.of(ev -> { dropped.add(ev.logitsCond()); uncondSeen.add(ev.logitsUncond() != null); }));
        // same cfg on scales 0..5, but CFG on scale 6 keeps the uncond row running through scales 4 and 5
        var b = new InfinityGenerator(m).generate(text(5, 128), null, GenerationOptions.builder(SQUARE).cfg(3, 3, 3, 3, 1, 1, 2).seed(9).build(),
                List.of(ev -> kept.add(ev.logitsCond())));
        assertEquals(List.of(true, true, true, true, false, false, false), uncondSeen);
        // batch 1 vs 2 changes the GEMM's row count and so may change its path and summation order
        // (results never depend on the thread count, but may on M): the cond logits agree to float
        // rounding, and for this seed no bit sits close enough to a tie to flip
        for (int s = 0; s < 6; s++) {
            float[] x = kept.get(s), y = dropped.get(s);
            assertEquals(x.length, y.length);
            for (int i = 0; i < x.length; i++)
                assertEquals(x[i], y[i], 1e-5f * (1 + Math.abs(x[i])), "scale " + s + " logit " + i);
            assertArrayEquals(b.bits().get(s), a.bits().get(s), "scale " + s);
        }
    }

    @Test
    void interruptCancels() {
        InfinityModel m = tiny(false);
        Thread.currentThread().interrupt();
        try {
            assertThrows(CancellationException.class, () -> new InfinityGenerator(m).generate(text(3, 128), null, GenerationOptions.builder(SQUARE).build(), List.of()));
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    void spatialPatchifyLayout() {
        LatentLayout p = new LatentLayout(16, true);
        assertEquals(4, p.channels());
        int h = 2, w = 3;
        byte[] bits = new byte[h * w * 16];
        bits[(1 * w + 0) * 16 + 6] = 1; // token (1, 0), channel 6 = c 1, dy 1, dx 0 → latent channel 1, pixel (3, 0)
        float[] codes = p.bitsToCodes(bits, h, w);
        float m = BitCodes.magnitude(4);
        assertEquals(0.5f, m, 1e-7f);
        for (int i = 0; i < codes.length; i++) assertEquals(i == (1 * 4 + 3) * 6 + 0 ? m : -m, codes[i], "latent index " + i);
        // unshuffle ∘ shuffle = identity on the token layout
        java.util.Random rnd = new java.util.Random(1);
        for (int i = 0; i < bits.length; i++) bits[i] = (byte) rnd.nextInt(2);
        float[] back = p.latentToTokens(p.bitsToCodes(bits, h, w), h, w);
        for (int i = 0; i < bits.length; i++) assertEquals(bits[i] == 1 ? m : -m, back[i]);
        // without patchify it is the plain channel-first ↔ token-major transpose
        LatentLayout plain = new LatentLayout(16, false);
        assertArrayEquals(BitCodes.bitsToCodes(bits, h, w, 16), plain.bitsToCodes(bits, h, w));
        float[] t = plain.latentToTokens(plain.bitsToCodes(bits, h, w), h, w);
        for (int i = 0; i < bits.length; i++) assertEquals(bits[i] == 1 ? 0.25f : -0.25f, t[i]);
    }

    @Test
    void patchifiedModelRunsOnTheDoubleGrid() {
        InfinityModel m = tiny(true);
        ScaleSchedules.Schedule s = new ScaleSchedules.Schedule(1.0, ScaleSchedules.PixelBudget.P0_06M, SQUARE.grids().subList(0, 4));
        var r = new InfinityGenerator(m).generate(text(4, 128), text(2, 128), GenerationOptions.builder(s).seed(9).build(), List.of());
        assertArrayEquals(new long[]{4, 12, 12}, r.latent().shape());
        assertEquals(36 * 16, r.bits().get(3).length);
    }
}
