package dev.infinityj.model;

import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InfinityConfigTest {

    /** Parses the spec's worked-out key lists (name \t [shape] \t dtype). */
    private static Map<String, long[]> specKeys(String file) throws IOException {
        Path p = Path.of(System.getProperty("infinityj.fixtures", "../shared/fixtures")).resolve("../spec").resolve(file).normalize();
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(p), "skipped: " + p + " not found");
        Map<String, long[]> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(p)) {
            if (line.startsWith("#") || line.isBlank()) continue;
            String[] f = line.split("\t");
            String inner = f[1].substring(1, f[1].length() - 1);
            m.put(f[0], Arrays.stream(inner.split(",")).map(String::trim).mapToLong(Long::parseLong).toArray());
        }
        return m;
    }

    private static void assertSameKeys(Map<String, long[]> spec, Map<String, long[]> ours) {
        assertEquals(spec.keySet(), ours.keySet());
        for (var e : spec.entrySet()) assertEquals(Arrays.toString(e.getValue()), Arrays.toString(ours.get(e.getKey())), e.getKey());
    }

    @Test
    void presetsProduceTheSpecsKeyLists() throws IOException {
        assertSameKeys(specKeys("keys-infinity-2b.txt"), InfinityWeights.expectedShapes(InfinityConfig.preset("2b")));
        assertSameKeys(specKeys("keys-infinity-8b.txt"), InfinityWeights.expectedShapes(InfinityConfig.preset("8b")));
    }

    @Test
    void presetShapes() {
        InfinityConfig b2 = InfinityConfig.preset("2b");
        assertEquals(128, b2.headDim());
        assertEquals(8192, b2.ffnHidden());
        assertEquals(16, b2.poolHeads());
        assertEquals(4, b2.blocksPerChunk());
        InfinityConfig b8 = InfinityConfig.preset("8B");
        assertEquals(14336, b8.ffnHidden());
        assertEquals(224, b8.poolHeadDim());
        assertEquals(14, b8.vaeCodebookDim());
        // Table 6 family; FFN = round-half-even(C·4/256)·256 (2080 → 32.5 → 32)
        assertEquals(8192, InfinityConfig.preset("layer32").ffnHidden());
        assertEquals(13312, InfinityConfig.preset("layer48").ffnHidden());
        assertEquals(96, InfinityConfig.preset("layer12").headDim());
        // element counts from the spec's key files (buffers included): 2B 694 entries, 8B 862 entries / 8 376 082 128
        assertEquals(694, InfinityWeights.expectedShapes(b2).size());
        assertEquals(8_376_082_128L, InfinityWeights.expectedShapes(b8).values().stream().mapToLong(Tensor::numel).sum());
    }

    @Test
    void shapesInferredFromWeightsMatchPresetsAndFixtureConfigs() {
        for (String name : new String[]{"2b", "layer12", "8b"}) {
            InfinityConfig c = InfinityConfig.preset(name);
            Map<String, Tensor> m = new LinkedHashMap<>();
            InfinityWeights.expectedShapes(c).forEach((k, s) -> m.put(k, new Tensor(DType.BF16,
                    java.lang.foreign.MemorySegment.NULL.reinterpret(0), 0, s, Tensor.contiguousStrides(s)))); // shapes only, never read
            InfinityConfig inferred = InfinityConfig.inferFrom(new MapSource(m), c.spatialPatchify());
            assertEquals(c, new InfinityConfig(c.name(), inferred.depth(), inferred.width(), inferred.heads(), inferred.ffnHidden(), inferred.blockChunks(),
                    inferred.textChannels(), inferred.textMaxLen(), inferred.codebookDim(), inferred.lvlEmbedRows(), inferred.normEps(), inferred.spatialPatchify()), name);
        }
        var e = assertThrows(BadInputException.class, () -> InfinityConfig.inferFrom(new MapSource(Map.of()), false));
        assertTrue(e.getMessage().contains("not an Infinity transformer"), e.getMessage());
    }

    @Test
    void validationMessagesNameTheProblem() {
        var e = assertThrows(BadInputException.class, () -> new InfinityConfig("x", 4, 64, 5, 256, 2, 256, 512, 16, 15, 1e-6f, false));
        assertTrue(e.getMessage().contains("num_heads 5 does not divide embed_dim 64"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> new InfinityConfig("x", 4, 64, 4, 256, 3, 256, 512, 16, 15, 1e-6f, false));
        assertTrue(e.getMessage().contains("block_chunks 3"), e.getMessage());
        InfinityConfig ok = new InfinityConfig("x", 4, 64, 4, 256, 2, 256, 512, 16, 15, 1e-6f, false);
        e = assertThrows(BadInputException.class, () -> ok.checkCompatible(32, 256));
        assertTrue(e.getMessage().contains("codebook_dim 16") && e.getMessage().contains("VAE"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> ok.checkCompatible(16, 2048));
        assertTrue(e.getMessage().contains("text_channels 256"), e.getMessage());
        ok.checkCompatible(16, 256);
        InfinityConfig.preset("8b").checkCompatible(14, 2048);
        assertThrows(BadInputException.class, () -> InfinityConfig.preset("3b"));
    }

    /** A WeightSource over a map, for the strict-loading test. */
    private record MapSource(Map<String, Tensor> m) implements WeightSource {
        public Set<String> keys() { return m.keySet(); }
        public boolean contains(String key) { return m.containsKey(key); }
        public Tensor get(String key) { return m.get(key); }
        public String describe() { return "test-map"; }
    }

    @Test
    void strictLoadingReportsEveryProblemByName() {
        InfinityConfig c = new InfinityConfig("tiny", 4, 64, 4, 256, 2, 256, 512, 16, 15, 1e-6f, false);
        Map<String, Tensor> m = new LinkedHashMap<>();
        InfinityWeights.expectedShapes(c).forEach((k, s) -> m.put(k, Tensor.allocate(DType.BF16, s)));
        InfinityWeights.load(c, new MapSource(m)); // complete: loads (BF16 accepted)
        m.remove("block_chunks.1.module.1.ffn.fc2.bias");
        m.remove("head.weight");
        m.put("blocks.0.extra", Tensor.allocate(DType.F32, 3));
        m.put("block_chunks.0.module.1.sa.mat_qkv.weight", Tensor.allocate(DType.F32, 64, 64));
        var e = assertThrows(WeightFormatException.class, () -> InfinityWeights.load(c, new MapSource(m)));
        String msg = e.getMessage();
        for (String s : new String[]{"2 missing", "block_chunks.1.module.1.ffn.fc2.bias", "head.weight", "1 unexpected: blocks.0.extra",
                "1 mis-shaped: block_chunks.0.module.1.sa.mat_qkv.weight [64, 64] (expected [192, 64])"})
            assertTrue(msg.contains(s), "missing '" + s + "' in: " + msg);
    }
}
