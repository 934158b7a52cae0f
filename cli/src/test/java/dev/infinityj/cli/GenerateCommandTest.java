package dev.infinityj.cli;

import dev.infinityj.image.Png;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.SafetensorsWriter;
import dev.infinityj.pipeline.BitsFile;
import dev.infinityj.pipeline.ModelDirectory;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.text.T5Config;
import dev.infinityj.util.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.infinityj.cli.WeightsCommandsTest.fixture;
import static dev.infinityj.cli.WeightsCommandsTest.names;
import static dev.infinityj.cli.WeightsCommandsTest.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code infinityj generate / tokenize / reconstruct} end to end through the CLI on the tiny fixture
 * models (../shared/fixtures/infinity-tiny-b: transformer d = 32 + its VAE) and a tiny T5 encoder
 * of the transformer's text width (256) made here from random weights, with the fixture SentencePiece
 * model; all converted into one model directory by {@code convert}, as a user would.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GenerateCommandTest {
    @TempDir Path tmp;
    Path model;

    @BeforeAll
    void modelDirectory(@TempDir Path base) {
        Path b = fixture("infinity-tiny-b");
        Path t5 = base.resolve("t5-256");
        T5Config c = new T5Config(256, 16, 4, 128, 2, 32, 128, "gelu_new", true, 1e-6f, 512);
        try {
            Files.createDirectories(t5);
            Files.writeString(t5.resolve("config.json"), """
                    {"architectures": ["T5ForConditionalGeneration"], "d_model": 256, "d_kv": 16, "num_heads": 4, "d_ff": 128,
                     "num_layers": 2, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
                     "dense_act_fn": "gelu_new", "is_gated_act": true, "feed_forward_proj": "gated-gelu",
                     "layer_norm_epsilon": 1e-6, "vocab_size": 512, "model_type": "t5", "eos_token_id": 1, "pad_token_id": 0}
                    """);
        } catch (Exception e) { throw new RuntimeException(e); }
        RandomWeightSource w = RandomWeightSource.of("t5-256", c.encoderWeightShapes(), DType.F32, 5);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (String k : w.keys()) tensors.put(k, w.get(k));
        SafetensorsWriter.write(t5.resolve("model.safetensors"), Map.of("format", "pt"), tensors);
        model = base.resolve("model");
        var r = run("convert", "--transformer", b.resolve("model.pth").toString(), "--vae", b.resolve("vae.pth").toString(),
                "--t5", t5.toString(), "--t5-tokenizer", fixture("spm-unigram").resolve("spiece.model").toString(),
                "--dtype", "f32", "--quiet", "--out", model.toString());
        assertEquals(0, r.exit(), r.err());
    }

    static void assertOneLineError(WeightsCommandsTest.Run r, String... contains) {
        assertNotEquals(0, r.exit(), r.err());
        List<String> lines = r.err().lines().filter(l -> !l.startsWith("Try '")).toList();
        assertEquals(1, lines.size(), r.err());
        assertTrue(lines.getFirst().startsWith("infinityj: error: "), r.err());
        for (String c : contains) assertTrue(r.err().contains(c), "expected '" + c + "' in: " + r.err());
    }

    @Test
    void promptsFileThenReplayGivesTheSameBytes() throws Exception {
        Path out = tmp.resolve("out");
        Files.createDirectories(out);
        Path prompts = tmp.resolve("prompts.jsonl");
        String longPrompt = "a red fox " + "in the snow ".repeat(200);
        Files.writeString(prompts, "# two prompts, one model load\n"
                + "a lighthouse at dusk\n"
                + Json.write(Map.of("prompt", longPrompt, "seed", 11, "negative_prompt", "blurry", "cfg", List.of(4, 4, 4, 4, 3, 3, 3))) + "\n");
        var r = run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--seed", "7", "--aspect", "3:4", "--pn", "0.06M",
                "--tau", "0.5", "--cfg-until-scale", "6", "--device", "cpu", "--json", "--out", out.resolve("{index}-{seed}-{prompt_slug}.png").toString());
        assertEquals(0, r.exit(), r.err());
        // the long prompt is cut to 512 tokens with a warning, as the official tokenizer does
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("infinityj: warning: " + prompts + ":3: prompt has ") && l.contains("truncated to 512")), r.err());
        List<String> json = r.out().lines().toList();
        assertEquals(2, json.size(), r.out());
        Map<String, Object> first = Json.parseObject(json.get(0), "stdout");
        Path png = Path.of((String) first.get("file"));
        assertEquals(out.resolve("0-7-a-lighthouse-at-dusk.png"), png);
        assertEquals(240.0, ((Number) first.get("width")).doubleValue());
        assertEquals(320.0, ((Number) first.get("height")).doubleValue());
        assertTrue(((Map<?, ?>) first.get("timings_ms")).get("scales") instanceof List<?> l && l.size() == 7, json.get(0));
        Path second = Path.of((String) Json.parseObject(json.get(1), "stdout").get("file"));
        assertTrue(second.getFileName().toString().startsWith("1-11-a-red-fox-in-the-snow"), second.toString());
        assertEquals(List.of(png.getFileName().toString(), second.getFileName().toString()).stream().sorted().toList(), names(out),
                "only the finished PNGs, no temporary files");

        // metadata: prompt, negative prompt, seed, every option, the manifest's checksums
        Png.Decoded d = Png.read(second);
        assertEquals(240, d.image().width());
        assertEquals(320, d.image().height());
        assertEquals(longPrompt, d.text().get("prompt"));
        assertEquals("blurry", d.text().get("negative_prompt"));
        assertEquals("11", d.text().get("seed"));
        assertTrue(d.text().get("parameters").contains("Seed: 11"), d.text().get("parameters"));
        Map<String, Object> meta = Json.parseObject(d.text().get("infinityj"), "meta");
        assertEquals(List.of(4.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0), ((List<?>) meta.get("cfg")).stream().map(o -> ((Number) o).doubleValue()).toList());
        assertEquals(6, ((Number) meta.get("cfg_until_scale")).intValue());
        assertEquals(1.333, ((Number) meta.get("template")).doubleValue());
        assertEquals("0.06M", meta.get("pn"));
        assertEquals(ModelDirectory.open(model).checksums(), ((Map<?, ?>) meta.get("model")).get("checksums"));

        // replay: the same image, byte for byte
        Path replay = tmp.resolve("replay.png");
        var r2 = run("generate", "--from-png", second.toString(), "--model", model.toString(), "--device", "cpu", "--quiet", "--out", replay.toString());
        assertEquals(0, r2.exit(), r2.err());
        assertTrue(r2.out().startsWith("wrote " + replay), r2.out());
        assertArrayEquals(Files.readAllBytes(second), Files.readAllBytes(replay));
    }

    @Test
    void tokenizeAndReconstructMatchTheOfficialRoundTrip() throws Exception {
        Path rt = fixture("vae-roundtrip");
        Path bits = tmp.resolve("sq.safetensors");
        var r = run("tokenize", rt.resolve("sq-input.png").toString(), "--model", model.toString(), "--device", "cpu", "--out", bits.toString());
        assertEquals(0, r.exit(), r.err());
        BitsFile.Content c = BitsFile.read(bits);
        assertEquals(7, c.schedule().scales());
        assertEquals(32, c.tokenBits());
        // bits equal the official ones except where the official pre-quantisation residual is ~0
        // (a tie: float32 summation order decides it; the fixture README allows these)
        List<byte[]> official = new java.util.ArrayList<>();
        try (SafetensorsFile ref = SafetensorsFile.open(rt.resolve("case.safetensors"))) {
            for (int k = 0; k < 7; k++) {
                long[] want = ref.get(String.format("sq.s%02d.bits", k)).toLongArray();
                float[] res = ref.get(String.format("sq.s%02d.residual_in", k)).toFloatArray();
                byte[] got = c.bits().get(k);
                assertEquals(want.length, got.length);
                int d = 32, n = want.length / d;
                byte[] o = new byte[want.length];
                for (int i = 0; i < got.length; i++) {
                    o[i] = (byte) want[i];
                    if (want[i] == got[i]) continue;
                    int t = i / d, j = i % d;
                    double norm = 0;
                    for (int q = 0; q < d; q++) norm += (double) res[q * n + t] * res[q * n + t];
                    assertTrue(Math.abs(res[j * n + t]) / Math.sqrt(norm) < 1e-5, "scale " + k + " bit " + i + " differs and is no tie");
                }
                official.add(o);
            }
        }
        // reconstruct from the official bits, so the image comparison does not depend on tie flips
        Path officialBits = tmp.resolve("sq-official.safetensors");
        BitsFile.write(officialBits, c.schedule(), c.tokenBits(), official, java.util.Map.of());
        Path png = tmp.resolve("sq-recon.png");
        var r2 = run("reconstruct", officialBits.toString(), "--model", model.toString(), "--device", "cpu", "--out", png.toString());
        assertEquals(0, r2.exit(), r2.err());
        byte[] got = Png.read(png).image().rgb(), want = Png.read(rt.resolve("sq-recon.png")).image().rgb();
        assertEquals(want.length, got.length);
        int off = 0, maxDiff = 0;
        for (int i = 0; i < got.length; i++) {
            int diff = Math.abs((got[i] & 0xff) - (want[i] & 0xff));
            maxDiff = Math.max(maxDiff, diff);
            if (diff != 0) off++;
        }
        assertTrue(maxDiff <= 1 && off < got.length / 100, "reconstruction vs official: max diff " + maxDiff + ", " + off + " samples differ");
    }

    // ------------------------------------------------------------------ bad input: one line, non-zero exit, nothing written

    @Test
    void missingModelFilesSayWhichAndHowToGetThem() throws Exception {
        var r = run("generate", "--model", tmp.resolve("nope").toString(), "--prompt", "x", "--out", tmp.resolve("a.png").toString());
        assertOneLineError(r, "nope", "infinity_2b_reg.pth", "infinityj convert");
        Path partial = tmp.resolve("partial");
        Files.createDirectories(partial);
        Files.copy(model.resolve("manifest.json"), partial.resolve("manifest.json"));
        r = run("generate", "--model", partial.toString(), "--prompt", "x", "--out", tmp.resolve("a.png").toString());
        assertOneLineError(r, "missing transformer.safetensors, vae.safetensors, t5/config.json, t5/model.safetensors", "convert");
        r = run("generate", "--prompt", "x", "--out", tmp.resolve("a.png").toString());
        if (System.getenv("INFINITYJ_HOME") == null) assertOneLineError(r, "--model DIR", "INFINITYJ_HOME", "--preset 2b --random-weights");
        assertFalse(Files.exists(tmp.resolve("a.png")));
    }

    @Test
    void unknownValuesAndOutOfRangeNumbers() {
        String out = tmp.resolve("a.png").toString();
        String[][] cases = {
                {"--device", "tpu"}, {"unknown device 'tpu'"},
                {"--aspect", "wide"}, {"not an aspect ratio"},
                {"--aspect", "10:1"}, {"out of range"},
                {"--pn", "2M"}, {"unknown pixel budget"},
                {"--resolution", "300"}, {"300 is not a supported resolution"},
                {"--top-p", "1.5"}, {"--top-p must be in [0, 1]"},
                {"--top-k", "-1"}, {"--top-k"},
                {"--cfg", "-1"}, {"--cfg: -1.0 is out of range"},
                {"--cfg", "3,3"}, {"--cfg: got 2 values but the schedule has 7 scales"},
                {"--tau", "0"}, {"--tau: 0.0 is out of range"},
                {"--batch", "0"}, {"--batch must be in [1, 10000]"},
                {"--cfg-until-scale", "99"}, {"--cfg-until-scale must be in [0, 7]"},
                {"--keep-scales", "2"}, {"--keep-scales needs --init-image"},
                {"--threads", "-1"}, {"--threads"},
                {"--seed", "-5"}, {"--seed must be >= 0"},
                {"--width", "300"}, {"--width and --height go together"},
                {"--preset", "99b"}, {"needs --random-weights"},
                {"--offload"}, {"--offload keeps the T5 encoder on the CPU", "needs --device cuda", "--device auto runs on the CPU"},
                {"--offload", "--device", "cpu"}, {"needs --device cuda", "with --device cpu everything runs on the CPU already"},
        };
        for (int i = 0; i < cases.length; i += 2) {
            List<String> args = new java.util.ArrayList<>(List.of("generate", "--prompt", "x", "--out", out));
            if (!cases[i][0].equals("--preset")) args.addAll(List.of("--random-weights", "--preset", "tiny"));
            args.addAll(List.of(cases[i]));
            assertOneLineError(run(args.toArray(String[]::new)), cases[i + 1]);
        }
        var r = run("generate", "--random-weights", "--preset", "99b", "--prompt", "x");
        assertOneLineError(r, "unknown preset '99b'");
        r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--device", "cuda", "--out", out);
        assertOneLineError(r, "CUDA backend unavailable: ");
        r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--device", "cuda", "--cuda-lib", tmp.resolve("no-cuda-here").toString(), "--out", out);
        assertOneLineError(r, "CUDA backend unavailable: ");
        // --offload with --device cuda passes the option check and stops where CUDA does (no GPU here)
        r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--device", "cuda", "--offload", "--cuda-lib", tmp.resolve("no-cuda-here").toString(), "--out", out);
        assertOneLineError(r, "CUDA backend unavailable: ");
        r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--init-image", tmp.resolve("no.png").toString(), "--out", out);
        assertOneLineError(r, "--init-image", "no.png", "not found");
        r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--bogus");
        assertEquals(2, r.exit(), r.err());
        assertFalse(Files.exists(tmp.resolve("a.png")));
    }

    @Test
    void unwritableOrCollidingOutputPathsAreRefusedBeforeAnyWork() throws Exception {
        var r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--out", tmp.resolve("no/such/dir/a.png").toString());
        assertOneLineError(r, "does not exist");
        r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--out", tmp.resolve("a.jpg").toString());
        assertOneLineError(r, "must end in .png");
        r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--batch", "2", "--out", tmp.resolve("same.png").toString());
        assertOneLineError(r, "would both be written to");
        Files.createDirectories(tmp.resolve("dir.png"));
        r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--out", tmp.resolve("dir.png").toString());
        assertOneLineError(r, "is a directory");
        Path ro = tmp.resolve("ro");
        Files.createDirectories(ro);
        ro.toFile().setWritable(false);
        try {
            if (!Files.isWritable(ro)) {   // root ignores permissions
                r = run("generate", "--random-weights", "--preset", "tiny", "--prompt", "x", "--out", ro.resolve("a.png").toString());
                assertOneLineError(r, "not writable");
            }
        } finally {
            ro.toFile().setWritable(true);
        }
    }

    @Test
    void tokenizeReconstructAndBenchRefuseBadInputUpFront() throws Exception {
        String[] tiny = {"--random-weights", "--preset", "tiny"};
        var r = run(cat(new String[] {"tokenize", tmp.resolve("none.png").toString(), "--out", tmp.resolve("b.safetensors").toString()}, tiny));
        assertOneLineError(r, "none.png", "file not found");
        r = run(cat(new String[] {"tokenize", tmp.resolve("none.png").toString(), "--out", tmp.resolve("b.bits").toString()}, tiny));
        assertOneLineError(r, "must end in .safetensors");
        Path notBits = tmp.resolve("w.safetensors");
        SafetensorsWriter.write(notBits, Map.of(), Map.of("a", Tensor.ofFloats(new float[] {1}, 1)));
        r = run(cat(new String[] {"reconstruct", notBits.toString(), "--out", tmp.resolve("r.png").toString()}, tiny));
        assertOneLineError(r, "not an infinityj bits file");
        r = run(cat(new String[] {"reconstruct", notBits.toString(), "--out", tmp.resolve("no/dir/r.png").toString()}, tiny));
        assertOneLineError(r, "does not exist");
        r = run(cat(new String[] {"bench", "--format", "xml"}, tiny));
        assertOneLineError(r, "unknown format 'xml'");
        r = run(cat(new String[] {"bench", "--reps", "0"}, tiny));
        assertOneLineError(r, "--reps must be in [1, 1000]");
        r = run(cat(new String[] {"bench", "--pn", "3M"}, tiny));
        assertOneLineError(r, "unknown pixel budget");
        assertFalse(Files.exists(tmp.resolve("b.safetensors")) || Files.exists(tmp.resolve("r.png")));
    }

    static String[] cat(String[] a, String[] b) {
        String[] o = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

    @Test
    void replayNeedsInfinityjMetadata() throws Exception {
        Path plain = tmp.resolve("plain.png");
        Png.write(plain, new dev.infinityj.image.RgbImage(2, 2, new byte[12]), Map.of());
        var r = run("generate", "--from-png", plain.toString(), "--random-weights", "--preset", "tiny", "--out", tmp.resolve("b.png").toString());
        assertOneLineError(r, "no infinityj metadata");
        r = run("generate", "--from-png", tmp.resolve("missing.png").toString(), "--random-weights", "--preset", "tiny");
        assertOneLineError(r, "missing.png");
    }
}
