package dev.infinityj.vae;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/** Key layouts vs the official module dump, config inference, pairing check, band-size independence, key spellings. */
class VaeStructureTest {

    static Map<String, String> specKeys(String file) throws Exception {
        Path p = Fixtures.root().getParent().resolve("spec").resolve(file);
        Assumptions.assumeTrue(Files.isRegularFile(p), "skipped: " + p + " not found");
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(p)) {
            if (line.startsWith("#") || line.isBlank()) continue;
            String[] f = line.split("\t");
            if (f[0].contains("lfq.mask")) continue;
            m.put(f[0], f[1].replace(" ", ""));
        }
        return m;
    }

    static Map<String, String> ours(VaeConfig c) {
        Map<String, String> m = new LinkedHashMap<>();
        VaeKeys.encoder(c).forEach((k, v) -> m.put(k, Arrays.toString(v).replace(" ", "")));
        VaeKeys.decoder(c).forEach((k, v) -> m.put(k, Arrays.toString(v).replace(" ", "")));
        return m;
    }

    @Test
    void presetKeysMatchTheOfficialModuleDump() throws Exception {
        assertEquals(specKeys("keys-vae-d32.txt"), ours(VaeConfig.forType(32)));
        assertEquals(specKeys("keys-vae-d14-patchify.txt"), ours(VaeConfig.forType(14)));
    }

    static RandomWeightSource random(VaeConfig c, long seed) {
        Map<String, long[]> shapes = new LinkedHashMap<>(VaeKeys.encoder(c));
        shapes.putAll(VaeKeys.decoder(c));
        return RandomWeightSource.of("vae", shapes, DType.F32, seed);
    }

    @Test
    void configIsInferredFromShapes() {
        for (int t : new int[] {14, 16, 24, 32, 64}) {
            VaeConfig preset = VaeConfig.forType(t);
            assertEquals(preset, VaeConfig.infer(new VaeWeights(random(preset, 1))), "vae type " + t);
        }
        assertEquals(56, VaeConfig.forType(14).tokenBits());
        assertEquals(32, VaeConfig.forType(32).tokenBits());
    }

    @Test
    void pairingCheckNamesBothFiles() {
        VaeConfig.checkPairing(32, "infinity_2b_reg.pth", VaeConfig.forType(32), "infinity_vae_d32reg.pth");
        VaeConfig.checkPairing(56, "infinity_8b_weights", VaeConfig.forType(14), "infinity_vae_d56_f8_14_patchify.pth");
        BadInputException e = assertThrows(BadInputException.class,
                () -> VaeConfig.checkPairing(32, "infinity_2b_reg.pth", VaeConfig.forType(16), "infinity_vae_d16.pth"));
        assertTrue(e.getMessage().contains("infinity_2b_reg.pth") && e.getMessage().contains("infinity_vae_d16.pth"), e.getMessage());
        assertThrows(BadInputException.class, () -> VaeConfig.checkPairing(14, "8b", VaeConfig.forType(14), "d14.pth"));
    }

    static final VaeConfig SMALL = new VaeConfig(4, 24, new int[] {1, 2}, 1, 2, false, VaeConfig.GROUP_NORM_EPS);

    static Tensor randomLatent(int d, int h, int w, long seed) {
        Random r = new Random(seed);
        float[] v = new float[d * h * w];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.ofFloats(v, d, h, w);
    }

    @Test
    void bandedDecodeIsIdenticalToWholeMaps() {
        VaeDecoder dec = new VaeDecoder(SMALL, new VaeWeights(random(SMALL, 3)));
        Tensor z = randomLatent(4, 5, 7, 4);
        CpuBackend be = new CpuBackend().convAlgorithm(CpuBackend.ConvAlgorithm.IMPLICIT_GEMM);
        float[] whole = dec.decode(be, z, Long.MAX_VALUE).toFloatArray();
        assertEquals(3 * 10 * 14, whole.length);
        // 1 row per band (every halo case), then 2 and 3 rows (bands straddling the upsampled row pairs)
        for (long bytes : new long[] {1, 48 * 14 * 4 * 2, 48 * 7 * 4 * 3}) {
            float[] banded = dec.decode(be, z, bytes).toFloatArray();
            assertArrayEquals(whole, banded, "band budget " + bytes);
        }
    }

    /**
     * With Winograd convolutions a band's tiles start at the band's first (halo) row rather than on
     * the whole map's tile grid, so banded results equal the whole-map ones up to fp32 rounding
     * (not bit for bit); checked against a float64-scale bound.
     */
    @Test
    void bandedWinogradDecodeMatchesWholeMapsWithinRounding() {
        VaeDecoder dec = new VaeDecoder(SMALL, new VaeWeights(random(SMALL, 3)));
        Tensor z = randomLatent(4, 5, 7, 4);
        CpuBackend be = new CpuBackend().convAlgorithm(CpuBackend.ConvAlgorithm.WINOGRAD);
        float[] whole = dec.decode(be, z, Long.MAX_VALUE).toFloatArray();
        float[] exact = new VaeDecoder(SMALL, new VaeWeights(random(SMALL, 3)))
                .decode(new CpuBackend().convAlgorithm(CpuBackend.ConvAlgorithm.IMPLICIT_GEMM), z, Long.MAX_VALUE).toFloatArray();
        for (long bytes : new long[] {1, 48 * 14 * 4 * 2, 48 * 7 * 4 * 3}) {
            float[] banded = dec.decode(be, z, bytes).toFloatArray();
            for (int i = 0; i < whole.length; i++) {
                assertEquals(whole[i], banded[i], 1e-5, "band budget " + bytes + " at " + i);
                assertEquals(exact[i], banded[i], 1e-5, "vs implicit GEMM, band budget " + bytes + " at " + i);
            }
        }
    }

    /** The flat "flux" spelling without the inner .conv/.norm, under a 'vae.' prefix. */
    static WeightSource fluxSpelling(WeightSource src) {
        Map<String, String> alias = new LinkedHashMap<>();
        for (String k : src.keys()) alias.put("vae." + k.replace(".conv.weight", ".weight").replace(".conv.bias", ".bias")
                .replace(".norm.weight", ".weight").replace(".norm.bias", ".bias"), k);
        return new WeightSource() {
            public Set<String> keys() { return alias.keySet(); }
            public boolean contains(String key) { return alias.containsKey(key); }
            public Tensor get(String key) { return src.get(alias.get(key)); }
            public String describe() { return "flux-form " + src.describe(); }
        };
    }

    @Test
    void bothKeySpellingsDecodeAlike() {
        RandomWeightSource src = random(SMALL, 5);
        WeightSource flux = fluxSpelling(src);
        assertTrue(flux.keys().stream().collect(Collectors.toSet()).contains("vae.decoder.conv_in.weight"));
        Tensor z = randomLatent(4, 3, 4, 6);
        CpuBackend be = new CpuBackend();
        float[] a = new VaeDecoder(SMALL, new VaeWeights(src)).decode(be, z).toFloatArray();
        VaeWeights fw = new VaeWeights(flux);
        assertEquals(SMALL, VaeConfig.infer(fw));
        float[] b = VaeDecoder.load(fw).decode(be, z).toFloatArray();
        assertArrayEquals(a, b);
    }
}
