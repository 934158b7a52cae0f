package dev.infinityj.text;

import dev.infinityj.testing.Close;
import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.backend.Backend;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import dev.infinityj.util.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The encoder against ../shared/fixtures/t5-tiny (reference: an independent torch T5 v1.1,
 * cross-checked with HF T5EncoderModel); README tolerance 2e-5 absolute.
 */
class T5EncoderTest {
    static final double TOL = 2e-5;
    static Path dir;
    static SafetensorsFile cases;
    static T5Encoder single;
    static final Backend BE = new CpuBackend();

    @BeforeAll
    static void open() {
        dir = Fixtures.dir("t5-tiny");
        cases = SafetensorsFile.open(dir.resolve("case.safetensors"));
        single = T5Encoder.load(dir, BE);
    }

    @AfterAll
    static void close() {
        if (single != null) single.close();
        if (cases != null) cases.close();
    }

    static int[] ids(String seq) {
        long[] l = cases.get(seq + ".input_ids").toLongArray();
        int[] r = new int[l.length];
        for (int i = 0; i < r.length; i++) r[i] = Math.toIntExact(l[i]);
        return r;
    }

    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        Close.assertClose(expected, actual, tol, what);
    }

    @Test
    void configFromFixture() {
        T5Config c = single.config();
        assertEquals(64, c.dModel());
        assertEquals(12, c.dKv());
        assertEquals(48, c.innerDim());
        assertEquals(T5Config.Activation.GELU_NEW, c.activation());
        assertTrue(c.gatedAct());
    }

    @Test
    void positionBiasEqualsReference() {
        for (String seq : List.of("seq1", "seq3")) {
            int len = ids(seq).length;
            float[] want = cases.get(seq + ".position_bias").toFloatArray();
            assertArrayEquals(want, single.positionBias(len).toFloatArray(), 0f, seq + " position bias (a gather: exact)");
        }
    }

    @Test
    void bucketsFollowTheSpecFormula() {
        // float64 restatement of spec §2.8 (values away from the integer boundaries agree with float32)
        for (int rel = -300; rel <= 300; rel++) {
            int b = rel > 0 ? 16 : 0, a = Math.abs(rel);
            b += a < 8 ? a : Math.min(15, 8 + (int) (Math.log(a / 8.0) / Math.log(16.0) * 8));
            assertEquals(b, T5Encoder.relativePositionBucket(rel, 32, 128), "bucket(" + rel + ")");
        }
    }

    @Test
    void embeddingsBlocksAndOutputMatchReference() {
        for (String seq : List.of("seq1", "seq3")) {
            int[] ids = ids(seq);
            assertArrayEquals(cases.get(seq + ".embeddings").toFloatArray(), single.embed(ids).toFloatArray(), 0f, seq + " embeddings");
            float[][] blocks = new float[single.config().numLayers()][];
            Tensor out = single.encode(ids, (i, h) -> blocks[i] = h.toFloatArray());
            for (int i = 0; i < blocks.length; i++)
                assertClose(cases.get(seq + ".block" + i + "_out").toFloatArray(), blocks[i], TOL, seq + " block" + i + "_out");
            assertClose(cases.get(seq + ".last_hidden_state").toFloatArray(), out.toFloatArray(), TOL, seq + " last_hidden_state");
        }
    }

    @Test
    void everySequenceFromSingleAndShardedWeights() {
        try (T5Encoder sharded = T5Encoder.load(dir.resolve("sharded"), BE)) {
            for (String seq : List.of("seq0", "seq1", "seq2", "seq3", "seq4")) {
                int[] ids = ids(seq);
                float[] want = cases.get(seq + ".last_hidden_state").toFloatArray();
                float[] a = single.encode(ids).toFloatArray();
                assertClose(want, a, TOL, seq + " (model.safetensors)");
                float[] b = sharded.encode(ids).toFloatArray();
                assertClose(want, b, TOL, seq + " (sharded)");
                assertArrayEquals(a, b, 0f, seq + ": same weights, same numbers");
            }
        }
    }

    /** Infinity pads to 512 and masks; the fixture's padded batch rows equal our unpadded encoding. */
    @Test
    void validRowsOfThePaddedBatchEqualTheUnpaddedEncoding() {
        Tensor ids = cases.get("batch.input_ids"), mask = cases.get("batch.attention_mask"), hs = cases.get("batch.last_hidden_state");
        long[] idv = ids.toLongArray(), mv = mask.toLongArray();
        int b = (int) ids.dim(0), width = (int) ids.dim(1), d = (int) hs.dim(2);
        assertEquals(2, b);
        for (int s = 0; s < b; s++) {
            int len = 0;
            while (len < width && mv[s * width + len] == 1) len++;
            assertTrue(len < width, "row " + s + " is padded");
            int[] real = new int[len];
            for (int t = 0; t < len; t++) real[t] = Math.toIntExact(idv[s * width + t]);
            float[] want = hs.get(s).slice(0, 0, len).toFloatArray();
            assertEquals((long) len * d, want.length);
            assertClose(want, single.encode(real).toFloatArray(), TOL, "batch row " + s + " valid rows");
        }
    }

    /** String → ids (spm-unigram fixture, HF behaviour) → features (t5-tiny fixture). */
    @Test
    @SuppressWarnings("unchecked")
    void stringToIdsToFeatures() throws IOException {
        Path spm = Fixtures.dir("spm-unigram");
        SentencePieceTokenizer tok = SentencePieceTokenizer.load(spm.resolve("spiece.model"));
        Map<String, Object> cj = Json.parseObject(Files.readString(spm.resolve("cases.json")), "cases.json");
        String seq1 = null;
        for (Object o : (List<Object>) cj.get("cases")) {
            String t = (String) ((Map<String, Object>) o).get("text");
            if (t.startsWith("a beautifual Chinese woman")) seq1 = t;
        }
        assertNotNull(seq1, "the scripts/infer.sh prompt is among the cases");
        Map<String, String> texts = Map.of("seq0", "a dog", "seq1", seq1, "seq2", "café naïve façade at 7:05 pm", "seq4", "");
        for (Map.Entry<String, String> e : texts.entrySet()) {
            int[] got = tok.encode(e.getValue());
            assertArrayEquals(ids(e.getKey()), got, e.getKey() + " ids");
            assertClose(cases.get(e.getKey() + ".last_hidden_state").toFloatArray(), single.encode(got).toFloatArray(), TOL, e.getKey() + " features");
        }
    }

    /** A map of tensors as a weight source. */
    static WeightSource mapSource(Map<String, Tensor> m) {
        return new WeightSource() {
            public Set<String> keys() { return m.keySet(); }
            public boolean contains(String key) { return m.containsKey(key); }
            public Tensor get(String key) {
                Tensor t = m.get(key);
                if (t == null) throw new WeightFormatException("map: no tensor named '" + key + "'");
                return t;
            }
            public String describe() { return "in-memory weights"; }
        };
    }

    /** bf16 and fp16 weights give what fp32 copies of the same rounded values give. */
    @Test
    void halfPrecisionWeightsMatchTheirFp32Copies() {
        SafetensorsFile w = SafetensorsFile.open(dir.resolve("model.safetensors"));
        try {
            for (DType half : List.of(DType.BF16, DType.F16)) {
                Map<String, Tensor> low = new HashMap<>(), wide = new HashMap<>();
                for (String k : w.keys()) {
                    Tensor t = w.get(k).to(half);
                    low.put(k, t);
                    wide.put(k, t.to(DType.F32));
                }
                T5Config cfg = single.config();
                int[] ids = ids("seq1");
                float[] a = T5Encoder.fromWeights(cfg, mapSource(low), BE).encode(ids).toFloatArray();
                float[] b = T5Encoder.fromWeights(cfg, mapSource(wide), BE).encode(ids).toFloatArray();
                assertClose(b, a, 1e-6, half + " weights vs fp32 copies");
                // and they stay near the fp32 reference (rounding of the weights only)
                assertClose(cases.get("seq1.last_hidden_state").toFloatArray(), a, half == DType.BF16 ? 0.2 : 0.02, half + " vs fp32 reference");
            }
        } finally {
            w.close();
        }
    }

    @Test
    void missingOrMisshapenWeightsAreNamed() {
        SafetensorsFile w = SafetensorsFile.open(dir.resolve("model.safetensors"));
        try {
            Map<String, Tensor> m = new HashMap<>();
            for (String k : w.keys()) m.put(k, w.get(k));
            m.remove("encoder.block.2.layer.1.DenseReluDense.wi_1.weight");
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> T5Encoder.fromWeights(single.config(), mapSource(m), BE));
            assertTrue(e.getMessage().contains("encoder.block.2.layer.1.DenseReluDense.wi_1.weight"), e.getMessage());
            m.put("encoder.block.2.layer.1.DenseReluDense.wi_1.weight", w.get("encoder.block.2.layer.1.DenseReluDense.wo.weight"));
            e = assertThrows(WeightFormatException.class, () -> T5Encoder.fromWeights(single.config(), mapSource(m), BE));
            assertTrue(e.getMessage().contains("[80, 64]"), e.getMessage());
            assertThrows(BadInputException.class, () -> single.encode(new int[]{1, 512}));
        } finally {
            w.close();
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void configParsingFollowsHuggingFace() {
        Map<String, Object> base = Json.parseObject("{\"d_model\": 8, \"num_heads\": 2, \"d_kv\": 4, \"d_ff\": 16, \"num_layers\": 1, \"vocab_size\": 10}", "t");
        Map<String, Object> c = new HashMap<>(base);
        assertEquals(T5Config.Activation.RELU, T5Config.fromJson(c, "t").activation());   // HF default "relu"
        assertFalse(T5Config.fromJson(c, "t").gatedAct());
        c.put("feed_forward_proj", "gated-gelu");
        assertEquals(T5Config.Activation.GELU_NEW, T5Config.fromJson(c, "t").activation());
        assertTrue(T5Config.fromJson(c, "t").gatedAct());
        c.put("feed_forward_proj", "gelu");
        c.put("is_gated_act", true);                      // some Flan-T5 revisions: gated exact GELU
        assertEquals(T5Config.Activation.GELU, T5Config.fromJson(c, "t").activation());
        assertTrue(T5Config.fromJson(c, "t").gatedAct());
        c.put("feed_forward_proj", "gated-silu");
        c.remove("is_gated_act");
        assertEquals(T5Config.Activation.SILU, T5Config.fromJson(c, "t").activation());
        c.put("feed_forward_proj", "fancy-gelu");
        assertTrue(assertThrows(BadInputException.class, () -> T5Config.fromJson(c, "t")).getMessage().contains("feed_forward_proj"));
        Map<String, Object> d = new HashMap<>(base);
        d.remove("d_ff");
        assertTrue(assertThrows(BadInputException.class, () -> T5Config.fromJson(d, "cfg.json")).getMessage().contains("'d_ff'"));
        d.put("d_ff", -3L);
        assertTrue(assertThrows(BadInputException.class, () -> T5Config.fromJson(d, "cfg.json")).getMessage().contains("d_ff"));
        assertEquals(2048, T5Config.flanT5Xl().innerDim());
    }
}
