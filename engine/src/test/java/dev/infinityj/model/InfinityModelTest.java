package dev.infinityj.model;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.sampling.BitSampler;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InfinityModelTest {

    private static double[][] rows(Tensor t, int cols) {
        float[] f = t.toFloatArray();
        double[][] r = new double[f.length / cols][cols];
        for (int i = 0; i < r.length; i++) for (int j = 0; j < cols; j++) r[i][j] = f[i * cols + j];
        return r;
    }

    /** KV-cached, scale-by-scale logits = a float64 full recomputation of the whole sequence with the block-causal mask. */
    @ParameterizedTest
    @ValueSource(strings = {"infinity-tiny-a", "infinity-tiny-b"})
    void kvCachedPathEqualsFullRecomputation(String name) {
        Path dir = Fixtures.dir(name);
        InfinityConfig c = InfinityConfig.fromJson(dir.resolve("config.json"));
        List<float[]> cond = new ArrayList<>(), uncond = new ArrayList<>();
        try (WeightSource w = FixtureWeights.open(dir); SafetensorsFile kase = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            FixtureCheck.run(dir, w, new CpuBackend(), null, ev -> { cond.add(ev.logitsCond()); uncond.add(ev.logitsUncond()); });
            long[] s = kase.get("input.scale_schedule").toLongArray();
            int[][] grids = new int[s.length / 3][];
            for (int i = 0; i < grids.length; i++) grids[i] = new int[]{(int) s[3 * i + 1], (int) s[3 * i + 2]};
            double[][] text = rows(kase.get("input.text_features"), c.textChannels());
            double[][] neg = kase.contains("input.negative_features") ? rows(kase.get("input.negative_features"), c.textChannels())
                    : rows(w.get("cfg_uncond").slice(0, 0, text.length), c.textChannels());
            double[][][] ref = new FullSequenceReference(c, w).logits(kase, text, neg, grids);
            int V = c.vocab(), at = 0;
            double max = 0;
            for (int k = 0; k < grids.length; k++) {
                int l = grids[k][0] * grids[k][1];
                for (int t = 0; t < l; t++)
                    for (int v = 0; v < V; v++) {
                        max = Math.max(max, Math.abs(cond.get(k)[t * V + v] - ref[0][at + t][v]));
                        max = Math.max(max, Math.abs(uncond.get(k)[t * V + v] - ref[1][at + t][v]));
                    }
                at += l;
            }
            assertTrue(max < 1e-5, name + ": KV-cached vs full recomputation max |diff| " + max);
        }
    }

    /** The sampler's filter fed the official sampler input reproduces the distribution torch drew from. */
    @ParameterizedTest
    @ValueSource(strings = {"infinity-tiny-a", "infinity-tiny-b", "infinity-tiny-bf16"})
    void samplerReproducesProbsFiltered(String name) {
        Path dir = Fixtures.dir(name);
        FixtureCheck.CaseSettings cs = FixtureCheck.settings(dir);
        try (SafetensorsFile kase = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            int scales = (int) kase.get("input.cfg_list").dim(0), masked = 0;
            double max = 0;
            for (int k = 0; k < scales; k++) {
                float[] l = kase.get(String.format("s%02d.logits_cfg", k)).toFloatArray();
                float[] p = kase.get(String.format("s%02d.probs_filtered", k)).toFloatArray();
                for (int r = 0; r < l.length / 2; r++) {
                    float p1 = BitSampler.filteredP1(l[2 * r], l[2 * r + 1], cs.topK(), cs.topP());
                    max = Math.max(max, Math.abs(p1 - p[2 * r + 1]));
                    max = Math.max(max, Math.abs((1 - p1) - p[2 * r]));
                    if (p1 == 0 || p1 == 1) masked++;
                }
            }
            assertTrue(max < 1e-6, name + ": max |p - probs_filtered| " + max);
            assertTrue(masked > 0, name + ": top-p never triggered, the test would not see the filter");
        }
    }

    /** Block intermediates against the official per-block dumps (which include the bf16 text cross-attention rounding). */
    @Test
    void blockHiddenStatesMatchTheDumps() {
        Path dir = Fixtures.dir("infinity-tiny-a");
        Map<String, float[]> got = new HashMap<>();
        try (WeightSource w = FixtureWeights.open(dir); SafetensorsFile kase = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            FixtureCheck.run(dir, w, new CpuBackend(), (scale, block, what, value) -> {
                String key = String.format("hidden.s%02d.block%02d.%s", scale, block, what);
                if (kase.contains(key)) got.put(key, value.toFloatArray());
            });
            int checked = 0;
            for (String key : kase.keys()) {
                if (!key.startsWith("hidden.") || key.contains(".attn_")) continue;
                float[] ref = kase.get(key).toFloatArray();
                assertTrue(got.containsKey(key), "no probe value for " + key);
                FixtureCheck.Err e = FixtureCheck.err(got.get(key), ref);
                // the dumps come from the float32 run with the bf16 round trip (2^-8 relative) of the text
                // cross-attention, so the bounds are the bf16-level ones (structural errors are ≥ 0.05)
                assertTrue(e.maxAbs() <= 1e-2 * Math.max(1, e.refMaxAbs()) && e.meanAbs() <= 1e-3 * Math.max(1, e.refMaxAbs()),
                        key + ": max " + e.maxAbs() + " mean " + e.meanAbs() + " (ref max " + e.refMaxAbs() + ")");
                checked++;
            }
            assertTrue(checked >= 20, "only " + checked + " dumps compared");
        }
    }

    private static List<byte[]> freeRun(InfinityModel m, Tensor cond, long seed) {
        GenerationOptions opt = GenerationOptions.builder(ScaleSchedules.forAspect(1.0, "0.06M")).cfg(3).tau(1).seed(seed).build();
        return new InfinityGenerator(m).generate(cond, null, opt, List.of()).bits();
    }

    @Test
    void sameSeedGivesIdenticalBitsAcrossRunsAndThreads() throws Exception {
        Path dir = Fixtures.dir("infinity-tiny-a");
        InfinityConfig c = InfinityConfig.fromJson(dir.resolve("config.json"));
        try (WeightSource w = FixtureWeights.open(dir); SafetensorsFile kase = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            InfinityModel m = InfinityModel.load(c, w, new CpuBackend());
            Tensor cond = kase.get("input.text_features");
            List<byte[]> a = freeRun(m, cond, 42);
            List<byte[]> b;
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<List<byte[]>> f1 = pool.submit(() -> freeRun(m, cond, 42));
                Future<List<byte[]>> f2 = pool.submit(() -> freeRun(m, cond, 43));
                b = f1.get();
                List<byte[]> other = f2.get();
                boolean differs = false;
                for (int k = 0; k < a.size(); k++) differs |= !java.util.Arrays.equals(a.get(k), other.get(k));
                assertTrue(differs, "a different seed should give different bits");
            } finally {
                pool.shutdownNow();
            }
            assertEquals(a.size(), b.size());
            for (int k = 0; k < a.size(); k++) assertArrayEquals(a.get(k), b.get(k), "scale " + k);
            // the free run really sampled: bits are not all one value
            int ones = 0, n = 0;
            for (byte[] s : a) for (byte x : s) { ones += x; n++; }
            assertFalse(ones == 0 || ones == n);
        }
    }
}
