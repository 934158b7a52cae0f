package dev.infinityj.pipeline;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.Converter;
import dev.infinityj.io.PackedLayout;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.SafetensorsWriter;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import dev.infinityj.text.SentencePieceTokenizer;
import dev.infinityj.text.T5Encoder;
import dev.infinityj.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link ModelConverter} on the fixture files: infinity-tiny-a's transformer and VAE, t5-tiny's
 * sharded encoder, spm-unigram's spiece.model. Every converted tensor is compared with its source
 * (bf16 by an independent round-to-nearest-even written here), every checksum with a sha256
 * computed here, and the pairing numbers with the fixtures' config.json files.
 */
class ModelConverterTest {
    @TempDir Path tmp;

    Path transformer, vae, t5, spiece, vaeB;

    void fixtures() {
        Path a = Fixtures.dir("infinity-tiny-a");
        transformer = a.resolve("model.pth");
        vae = a.resolve("vae.pth");
        t5 = Fixtures.dir("t5-tiny").resolve("sharded");
        spiece = Fixtures.dir("spm-unigram").resolve("spiece.model");
        vaeB = Fixtures.dir("infinity-tiny-b").resolve("vae.pth");
    }

    ModelConverter.Result full(Path out, Converter.Precision p, boolean check, ModelConverter.Listener l) {
        return ModelConverter.convert(new ModelConverter.Request(transformer, vae, t5, spiece, out, p, check), l);
    }

    static Map<String, Object> json(Path p) throws IOException { return Json.parseObject(Files.readString(p), p.toString()); }

    @SuppressWarnings("unchecked")
    static Map<String, Object> obj(Object o) { return (Map<String, Object>) o; }

    static int configInt(Path json, String... path) throws IOException {
        Object o = json(json);
        for (String k : path) o = obj(o).get(k);
        return ((Number) o).intValue();
    }

    static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(p)) { md.update(in.readAllBytes()); }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Every file under {@code dir} with its sha256 (relative path → hash), to prove a directory untouched. */
    static Map<String, String> snapshot(Path dir) throws Exception {
        Map<String, String> m = new TreeMap<>();
        if (!Files.exists(dir)) return m;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) m.put(dir.relativize(p).toString(), sha256(p));
        }
        return m;
    }

    static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) { return s.map(p -> p.getFileName().toString()).sorted().toList(); }
    }

    /** bf16 nearest to {@code f}, ties to the even bf16 (an independent formulation: compare both neighbours in double). */
    static float bf16Rne(float f) {
        assertTrue(Float.isFinite(f));
        int bits = Float.floatToRawIntBits(f);
        float lo = Float.intBitsToFloat(bits & 0xFFFF0000);
        float hi = Float.intBitsToFloat((bits & 0xFFFF0000) + 0x10000);
        double dl = Math.abs((double) f - lo), dh = Math.abs((double) hi - f);
        if (dl < dh) return lo;
        if (dh < dl) return hi;
        return ((Float.floatToRawIntBits(lo) >>> 16) & 1) == 0 ? lo : hi;
    }

    /**
     * A packed Linear weight [N/16, K, 16] back to [N, K] (F32), from the layout's definition
     * (PackedLinear's class comment): K blocks of PackedLinear.KBLOCK, panels inside, W[16q + j, p] at slot(j),
     * BF16 halves interleaved.
     */
    static Tensor unpacked(Tensor packed) {
        assertEquals(3, packed.rank(), packed.describe());
        assertEquals(16, packed.dim(2), packed.describe());
        long n = packed.dim(0) * 16, k = packed.dim(1), kcMax = dev.infinityj.cpu.PackedLinear.KBLOCK;
        float[] flat = packed.toFloatArray();
        Tensor w = Tensor.allocate(DType.F32, n, k);
        for (long q = 0; q < packed.dim(0); q++)
            for (long p = 0; p < k; p++)
                for (int j = 0; j < 16; j++) {
                    long b = p - p % kcMax, kc = Math.min(kcMax, k - b);
                    int slot = packed.dtype() == DType.BF16 ? (j < 8 ? 2 * j : 2 * (j - 8) + 1) : j;
                    w.setFloat(flat[(int) (b * n + q * kc * 16 + (p % kcMax) * 16 + slot)], 16 * q + j, p);
                }
        return packed.dtype() == DType.F32 ? w : w.to(packed.dtype());
    }

    static void assertConverted(WeightSource src, SafetensorsFile out, List<String> expectedKeys, boolean bf16) {
        assertEquals(expectedKeys, List.copyOf(out.keys()), out.describe());
        for (String k : expectedKeys) {
            Tensor s = src.get(k), o = out.isPackedLinear(k) ? unpacked(out.get(k)) : out.get(k);
            assertArrayEquals(s.shape(), o.shape(), k);
            if (!s.dtype().isFloating()) {
                assertEquals(s.dtype(), o.dtype(), k);
                assertArrayEquals(s.toLongArray(), o.toLongArray(), k);
                continue;
            }
            assertEquals(bf16 ? DType.BF16 : DType.F32, o.dtype(), k);
            float[] a = s.toFloatArray(), b = o.toFloatArray();
            for (int i = 0; i < a.length; i++) {
                float want = bf16 ? bf16Rne(a[i]) : a[i];
                if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(b[i]))
                    fail(k + "[" + i + "]: source " + a[i] + " expected " + want + " got " + b[i]);
            }
        }
    }

    // ------------------------------------------------------------------ pairing

    @Test
    void theFixtureCombinationIsRefusedBeforeAnythingIsWritten() throws Exception {
        fixtures();
        int text = configInt(transformer.resolveSibling("config.json"), "transformer", "text_channels");
        int dModel = configInt(t5.resolve("config.json"), "d_model");
        assertNotEquals(text, dModel, "the fixtures do not pair: this test checks the refusal");
        Path out = tmp.resolve("model");
        BadInputException e = assertThrows(BadInputException.class, () -> full(out, Converter.Precision.BF16, true, null));
        String m = e.getMessage();
        assertTrue(m.contains("model.pth") && m.contains("sharded") && m.contains(" " + text + " ") && m.contains(" " + dModel + ";"), m);
        assertFalse(m.contains("\n"));
        assertEquals(List.of(), names(tmp), "nothing written, no staging folder left");
    }

    @Test
    void pairingRuleOnConsistentAndInconsistentNumbers() {
        var ok2b = new ModelConverter.Pairing(32, 2048, "infinity_2b_reg.pth", 32, 5, "infinity_vae_d32_reg.pth", 2048, "flan-t5-xl");
        assertNull(ok2b.mismatch());
        var wrongVae = new ModelConverter.Pairing(32, 2048, "infinity_2b_reg.pth", 16, 5, "infinity_vae_d16.pth", 2048, "flan-t5-xl");
        String m = wrongVae.mismatch();
        assertTrue(m.contains("infinity_2b_reg.pth") && m.contains("infinity_vae_d16.pth") && m.contains(" 32 ") && m.contains(" 16"), m);
        assertNull(wrongVae.mismatch(false, false, true), "a T5 update is not judged on the VAE pair");
        // 8B: 56 bits per token = 4 x 14 over a patch-8 (4-level) VAE (spec §4.6); not over a patch-16 one
        assertNull(new ModelConverter.Pairing(56, 2048, "8b", 14, 4, "d56_f8_14", 2048, "t5").mismatch());
        assertNotNull(new ModelConverter.Pairing(56, 2048, "8b", 14, 5, "vae", 2048, "t5").mismatch());
        assertNotNull(new ModelConverter.Pairing(64, 2048, "x", 16, 5, "vae", 2048, "t5").mismatch());
        String t = new ModelConverter.Pairing(32, 2048, "2b", 32, 5, "vae", 1024, "flan-t5-large").mismatch();
        assertTrue(t.contains("2048") && t.contains("1024") && t.contains("flan-t5-large") && t.contains("2b"), t);
        assertNull(new ModelConverter.Pairing(32, 2048, "2b", null, null, null, null, null).mismatch(), "absent parts are not judged");
    }

    @Test
    void theDimsAreReadFromTheWeights() throws Exception {
        fixtures();
        Path cfg = transformer.resolveSibling("config.json");
        try (WeightSource w = Checkpoints.open(transformer); WeightSource v = Checkpoints.open(vae); WeightSource vb = Checkpoints.open(vaeB)) {
            assertArrayEquals(new int[]{configInt(cfg, "transformer", "codebook_dim"), configInt(cfg, "transformer", "text_channels")},
                    ModelConverter.transformerDims(w));
            int levels = ((List<?>) obj(json(cfg).get("vae")).get("decoder_ch_mult")).size();
            assertArrayEquals(new int[]{configInt(cfg, "vae", "codebook_dim"), levels}, ModelConverter.vaeDims(v));
            assertEquals(configInt(vaeB.resolveSibling("config.json"), "vae", "codebook_dim"), ModelConverter.vaeDims(vb)[0]);
        }
    }

    // ------------------------------------------------------------------ a full conversion

    @Test
    void fullConversionIsTheDocumentedLayoutWithEveryTensorAndChecksum() throws Exception {
        fixtures();
        Path out = tmp.resolve("model");
        List<String> progress = new ArrayList<>();
        ModelConverter.Result r = full(out, Converter.Precision.BF16, false, (f, n, b, s) -> progress.add(f + " " + n + " " + b));
        assertEquals(List.of("model"), names(tmp), "no staging folder left");
        assertEquals(List.of("manifest.json", "t5", "transformer.safetensors", "vae.safetensors"), names(out));
        assertEquals(List.of("config.json", "model.safetensors", "spiece.model"), names(out.resolve("t5")));
        if (out.getFileSystem().supportedFileAttributeViews().contains("posix")) { // readable like any folder, not private temp files
            assertEquals("rwxr-xr-x", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
            assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("transformer.safetensors"))));
            assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("manifest.json"))));
        }

        // every tensor, bf16 by RNE; T5: encoder only
        try (WeightSource s = Checkpoints.open(transformer); SafetensorsFile o = SafetensorsFile.open(out.resolve("transformer.safetensors"))) {
            assertConverted(s, o, List.copyOf(s.keys()), true);
            // packed by default: exactly the Linear weights (rank-2 ".weight" other than the lvl_embed table) with rows a multiple of 16
            List<String> linear = s.keys().stream().filter(k -> k.endsWith(".weight") && !k.equals("lvl_embed.weight")
                    && s.get(k).rank() == 2 && s.get(k).dim(0) % 16 == 0).toList();
            assertFalse(linear.isEmpty());
            assertEquals(linear, List.copyOf(o.packedKeys()));
            assertEquals(PackedLayout.PANEL16_V1, o.metadata().get(PackedLayout.LAYOUT));
            assertEquals("model.pth", o.metadata().get("source"));
            assertEquals(sha256(transformer), o.metadata().get("source_sha256"));
        }
        try (WeightSource s = Checkpoints.open(vae); SafetensorsFile o = SafetensorsFile.open(out.resolve("vae.safetensors"))) {
            assertConverted(s, o, List.copyOf(s.keys()), true);
            assertEquals(PackedLayout.PLAIN, o.metadata().get(PackedLayout.LAYOUT), "the VAE is never packed");
        }
        try (WeightSource s = Checkpoints.open(t5); SafetensorsFile o = SafetensorsFile.open(out.resolve("t5/model.safetensors"))) {
            List<String> enc = s.keys().stream().filter(k -> k.equals("shared.weight") || k.startsWith("encoder.")).toList();
            assertConverted(s, o, enc, true);
            assertEquals("t5-encoder", o.metadata().get("model_kind"));
            // packed by default: the encoder's q, k, v, o and FFN matrices (all rows multiples of 16 in t5-tiny)
            List<String> linear = enc.stream().filter(k -> k.matches("encoder\\.block\\.\\d+\\.layer\\.(0\\.SelfAttention\\.[qkvo]|1\\.DenseReluDense\\.wi(_[01])?|1\\.DenseReluDense\\.wo)\\.weight")).toList();
            assertFalse(linear.isEmpty());
            assertEquals(linear, List.copyOf(o.packedKeys()));
        }
        assertArrayEquals(Files.readAllBytes(t5.resolve("config.json")), Files.readAllBytes(out.resolve("t5/config.json")));
        assertArrayEquals(Files.readAllBytes(spiece), Files.readAllBytes(out.resolve("t5/spiece.model")));

        // the manifest: every file, its sha256 and size recomputed here, its source and the source's sha256
        Map<String, Object> m = json(out.resolve("manifest.json"));
        assertEquals("infinityj-model/1", m.get("format"));
        Map<String, Object> files = obj(m.get("files"));
        Map<String, Path> sources = new LinkedHashMap<>();
        sources.put("transformer", transformer);
        sources.put("vae", vae);
        sources.put("t5", t5.resolve("model.safetensors.index.json"));
        sources.put("t5_config", t5.resolve("config.json"));
        sources.put("t5_tokenizer", spiece);
        assertEquals(List.copyOf(sources.keySet()), List.copyOf(files.keySet()));
        for (var e : sources.entrySet()) {
            Map<String, Object> f = obj(files.get(e.getKey()));
            Path file = out.resolve((String) f.get("file"));
            assertEquals(sha256(file), f.get("sha256"), e.getKey());
            assertEquals(Files.size(file), ((Number) f.get("bytes")).longValue(), e.getKey());
            assertEquals(sha256(e.getValue()), f.get("source_sha256"), e.getKey());
            assertTrue(((String) f.get("source")).endsWith(e.getValue().getFileName().toString()), e.getKey() + ": " + f.get("source"));
        }
        assertEquals(List.of("transformer.safetensors", "vae.safetensors", "t5/model.safetensors", "t5/config.json", "t5/spiece.model"),
                progress.stream().map(p -> p.split(" ")[0]).toList());
        Path cfg = transformer.resolveSibling("config.json");
        Map<String, Object> pairing = obj(m.get("pairing"));
        assertEquals((long) configInt(cfg, "transformer", "codebook_dim"), pairing.get("transformer_codebook_dim"));
        assertEquals((long) configInt(cfg, "vae", "codebook_dim"), pairing.get("vae_codebook_dim"));
        assertEquals((long) configInt(cfg, "transformer", "text_channels"), pairing.get("transformer_text_channels"));
        assertEquals((long) configInt(t5.resolve("config.json"), "d_model"), pairing.get("t5_d_model"));
        assertEquals(false, pairing.get("checked"));
        assertEquals(false, pairing.get("ok"));

        // ModelDirectory accepts it, and names every missing file
        ModelDirectory d = ModelDirectory.open(out);
        assertEquals(r.files().size(), d.checksums().size());
        assertEquals(sha256(out.resolve("vae.safetensors")), d.checksums().get("vae"));
        Files.delete(out.resolve("vae.safetensors"));
        Files.delete(out.resolve("t5/config.json"));
        Files.delete(out.resolve("t5/spiece.model"));
        String missing = assertThrows(BadInputException.class, () -> ModelDirectory.open(out)).getMessage();
        assertTrue(missing.contains("missing vae.safetensors, t5/config.json, t5/spiece.model (or tokenizer.json)"), missing);
        assertTrue(missing.contains("infinityj convert --transformer"), missing);
    }

    @Test
    void theT5FolderLoadsInTheEncoderAndGivesTheSameNumbersAsTheSource() throws Exception {
        fixtures();
        Path out = tmp.resolve("model");
        ModelConverter.convert(new ModelConverter.Request(null, null, t5, spiece, out, Converter.Precision.F32, true), null);
        assertEquals(List.of("manifest.json", "t5"), names(out));
        int[] ids = {37, 5, 118, 9, 1};
        try (T5Encoder a = T5Encoder.load(t5, new CpuBackend()); T5Encoder b = T5Encoder.load(out.resolve("t5"), new CpuBackend())) {
            assertArrayEquals(a.encode(ids).toFloatArray(), b.encode(ids).toFloatArray(), 0f, "same f32 weights, same numbers");
        }
        // the folder's Linear weights are packed; a backend that wants [N, K] (the naive reference) gets them unpacked exactly
        try (T5Encoder a = T5Encoder.load(t5, new dev.infinityj.backend.NaiveBackend());
             T5Encoder b = T5Encoder.load(out.resolve("t5"), new dev.infinityj.backend.NaiveBackend())) {
            assertArrayEquals(a.encode(ids).toFloatArray(), b.encode(ids).toFloatArray(), 0f, "packed file on the naive backend");
        }
        String text = "Hello world, a photo of a cat.";
        assertArrayEquals(SentencePieceTokenizer.load(spiece).encode(text), SentencePieceTokenizer.load(out.resolve("t5")).encode(text));
    }

    @Test
    void decoderAndLmHeadAreDropped() throws Exception {
        fixtures();
        Path hf = Files.createDirectories(tmp.resolve("flan"));
        Files.copy(t5.resolve("config.json"), hf.resolve("config.json"));
        Files.copy(spiece, hf.resolve("spiece.model"));
        List<String> kept;
        try (WeightSource s = Checkpoints.open(t5)) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            for (String k : s.keys()) all.put(k, s.get(k));
            kept = List.copyOf(all.keySet());
            Tensor emb = s.get("shared.weight");
            all.put("encoder.embed_tokens.weight", emb);
            all.put("decoder.embed_tokens.weight", emb);
            all.put("decoder.block.0.layer.0.SelfAttention.q.weight", s.get("encoder.block.0.layer.0.SelfAttention.q.weight"));
            all.put("lm_head.weight", emb);
            SafetensorsWriter.write(hf.resolve("model.safetensors"), Map.of("format", "pt"), all);
        }
        Path out = tmp.resolve("model");
        ModelConverter.convert(new ModelConverter.Request(null, null, hf, null, out, Converter.Precision.F32, true), null);
        try (SafetensorsFile o = SafetensorsFile.open(out.resolve("t5/model.safetensors"))) {
            assertEquals(kept, List.copyOf(o.keys()), "shared.weight + encoder.*, the tied encoder.embed_tokens left out");
        }
    }

    // ------------------------------------------------------------------ updates and atomicity

    @Test
    void onePartAloneReplacesThatPartAndKeepsTheRest() throws Exception {
        fixtures();
        Path out = tmp.resolve("model");
        ModelConverter.convert(new ModelConverter.Request(transformer, null, null, null, out, Converter.Precision.BF16, true), null);
        assertEquals(List.of("manifest.json", "transformer.safetensors"), names(out));
        String trSha = sha256(out.resolve("transformer.safetensors"));
        ModelConverter.convert(new ModelConverter.Request(null, vae, null, null, out, Converter.Precision.BF16, true), null);
        Map<String, Object> files = obj(json(out.resolve("manifest.json")).get("files"));
        assertEquals(List.of("transformer", "vae"), List.copyOf(files.keySet()));
        assertEquals(trSha, obj(files.get("transformer")).get("sha256"));
        assertEquals(trSha, sha256(out.resolve("transformer.safetensors")));
        assertEquals(sha256(out.resolve("vae.safetensors")), obj(files.get("vae")).get("sha256"));
        assertEquals(sha256(vae), obj(files.get("vae")).get("source_sha256"));

        // tiny-b's VAE has codebook dim 32, tiny-a's transformer 16: refused, directory untouched
        Map<String, String> before = snapshot(out);
        String m = assertThrows(BadInputException.class, () -> ModelConverter.convert(
                new ModelConverter.Request(null, vaeB, null, null, out, Converter.Precision.BF16, true), null)).getMessage();
        int dA = configInt(transformer.resolveSibling("config.json"), "transformer", "codebook_dim");
        int dB = configInt(vaeB.resolveSibling("config.json"), "vae", "codebook_dim");
        assertTrue(m.contains("transformer.safetensors") && m.contains("model.pth") && m.contains("vae.pth")
                && m.contains(" " + dA + " ") && m.contains(" " + dB + ";"), m);
        assertEquals(before, snapshot(out));
        assertEquals(List.of("model"), names(tmp));
    }

    @Test
    void anInterruptedConversionLeavesNoPartialDirectoryAndAnExistingOneUntouched() throws Exception {
        fixtures();
        Path out = tmp.resolve("model");
        ModelConverter.Listener interrupt = (f, n, b, s) -> { throw new IllegalStateException("interrupted after " + f); };
        assertThrows(IllegalStateException.class, () -> full(out, Converter.Precision.BF16, false, interrupt));
        assertEquals(List.of(), names(tmp), "no directory, no staging folder");

        full(out, Converter.Precision.BF16, false, null);
        Map<String, String> before = snapshot(out);
        assertEquals(6, before.size());
        var counter = new int[1];
        ModelConverter.Listener late = (f, n, b, s) -> { if (++counter[0] == 4) throw new IllegalStateException("interrupted after " + f); };
        assertThrows(IllegalStateException.class, () -> ModelConverter.convert(
                new ModelConverter.Request(transformer, vae, t5, spiece, out, Converter.Precision.F32, false), late));
        assertEquals(before, snapshot(out));
        assertEquals(List.of("model"), names(tmp));

        // a corrupt --vae: refused while opening, before anything is written
        Path bad = tmp.resolve("bad_vae.pth");
        byte[] b = Files.readAllBytes(vae);
        Files.write(bad, Arrays.copyOf(b, b.length / 2));
        String m = assertThrows(BadInputException.class, () -> ModelConverter.convert(
                new ModelConverter.Request(null, bad, null, null, out, Converter.Precision.BF16, true), null)).getMessage();
        assertTrue(m.contains("bad_vae.pth") && !m.contains("\n"), m);
        assertEquals(before, snapshot(out));
        Path fresh = tmp.resolve("fresh");
        assertThrows(BadInputException.class, () -> ModelConverter.convert(
                new ModelConverter.Request(transformer, bad, null, null, fresh, Converter.Precision.BF16, true), null));
        assertEquals(List.of("bad_vae.pth", "model"), names(tmp));
    }

    @Test
    void refusesANonModelDirectoryAndSwappedParts() throws Exception {
        fixtures();
        Path other = Files.createDirectories(tmp.resolve("photos"));
        Files.writeString(other.resolve("cat.png"), "x");
        String m = assertThrows(BadInputException.class, () -> ModelConverter.convert(
                new ModelConverter.Request(null, vae, null, null, other, Converter.Precision.BF16, true), null)).getMessage();
        assertTrue(m.contains("photos") && m.contains("manifest.json"), m);
        String s = assertThrows(BadInputException.class, () -> ModelConverter.convert(
                new ModelConverter.Request(vae, null, null, null, tmp.resolve("m"), Converter.Precision.BF16, true), null)).getMessage();
        assertTrue(s.contains("--transformer") && s.contains("bsq-vae") && s.contains("infinity-transformer"), s);
        String t = assertThrows(BadInputException.class, () -> ModelConverter.convert(
                new ModelConverter.Request(null, null, t5, null, tmp.resolve("m"), Converter.Precision.BF16, true), null)).getMessage();
        assertTrue(t.contains("spiece.model") && t.contains("--t5-tokenizer"), t);
        assertEquals(List.of("photos"), names(tmp));
    }
}
