package dev.infinityj.cli;

import dev.infinityj.pipeline.ModelDirectory;
import dev.infinityj.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static dev.infinityj.cli.WeightsCommandsTest.fixture;
import static dev.infinityj.cli.WeightsCommandsTest.names;
import static dev.infinityj.cli.WeightsCommandsTest.run;
import static org.junit.jupiter.api.Assertions.*;

/** {@code infinityj convert --transformer/--vae/--t5 --out MODEL_DIR} through the CLI: results, exit codes, one-line errors. */
class ConvertModelDirTest {
    @TempDir Path tmp;

    static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(p)) { md.update(in.readAllBytes()); }
        return HexFormat.of().formatHex(md.digest());
    }

    static Map<String, String> snapshot(Path dir) throws Exception {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) m.put(dir.relativize(p).toString(), sha256(p));
        }
        return m;
    }

    String[] args(Path out, String... extra) {
        Path a = fixture("infinity-tiny-a");
        String[] base = {"convert", "--transformer", a.resolve("model.pth").toString(), "--vae", a.resolve("vae.pth").toString(),
                "--t5", fixture("t5-tiny").resolve("sharded").toString(),
                "--t5-tokenizer", fixture("spm-unigram").resolve("spiece.model").toString(), "--out", out.toString()};
        String[] all = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    @Test
    void theDefaultRefusesPartsThatDoNotPair() throws Exception {
        Path out = tmp.resolve("model");
        var r = run(args(out));
        assertEquals(1, r.exit(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        int text = ((Number) ((Map<?, ?>) Json.parseObject(Files.readString(fixture("infinity-tiny-a").resolve("config.json")), "c")
                .get("transformer")).get("text_channels")).intValue();
        int dModel = ((Number) Json.parseObject(Files.readString(fixture("t5-tiny").resolve("sharded/config.json")), "c").get("d_model")).intValue();
        assertTrue(r.err().startsWith("infinityj: error: pairing mismatch: ") && r.err().contains("model.pth") && r.err().contains("sharded")
                && r.err().contains(" " + text + " ") && r.err().contains(" " + dModel + ";") && r.err().contains("--no-pairing-check"), r.err());
        assertEquals("", r.out());
        assertEquals(List.of(), names(tmp));
    }

    @Test
    void withTheEscapeHatchItWritesTheModelDirectoryWithProgressLines() throws Exception {
        Path out = tmp.resolve("model");
        var r = run(args(out, "--no-pairing-check"));
        assertEquals(0, r.exit(), r.err());
        List<String> err = r.err().lines().toList();
        assertEquals(List.of("transformer.safetensors", "vae.safetensors", "t5/model.safetensors", "t5/config.json", "t5/spiece.model"),
                err.stream().filter(l -> l.startsWith("infinityj: wrote ")).map(l -> l.split(" ")[2].replace(":", "")).toList(), r.err());
        assertTrue(err.stream().anyMatch(l -> l.matches("infinityj: wrote transformer\\.safetensors: \\d+ tensors, [\\d,]+ bytes, \\d+\\.\\d s")), r.err());
        assertTrue(err.getLast().startsWith("infinityj: warning: ") && err.getLast().contains("--no-pairing-check"), r.err());
        assertTrue(r.out().startsWith("wrote model directory " + out.toAbsolutePath()), r.out());
        ModelDirectory d = ModelDirectory.open(out);
        for (var e : d.checksums().entrySet()) {
            Map<?, ?> f = (Map<?, ?>) ((Map<?, ?>) d.manifest().get("files")).get(e.getKey());
            assertEquals(sha256(out.resolve((String) f.get("file"))), e.getValue(), e.getKey());
        }
        assertEquals(List.of("model"), names(tmp));

        // --quiet: nothing on stderr; a single part replaces only that part
        Map<String, String> before = snapshot(out);
        var q = run("convert", "--vae", fixture("infinity-tiny-a").resolve("vae.pth").toString(), "--out", out.toString(), "--dtype", "f32", "--quiet");
        assertEquals(0, q.exit(), q.err());
        assertEquals("", q.err());
        Map<String, String> after = snapshot(out);
        for (String f : before.keySet())
            if (f.equals("vae.safetensors") || f.equals("manifest.json")) assertNotEquals(before.get(f), after.get(f), f);
            else assertEquals(before.get(f), after.get(f), f);
    }

    @Test
    void badInputIsOneLineWithNoDirectoryLeftAndAnExistingOneUntouched() throws Exception {
        Path a = fixture("infinity-tiny-a");
        Path bad = tmp.resolve("in/broken_vae.pth");
        Files.createDirectories(bad.getParent());
        byte[] b = Files.readAllBytes(a.resolve("vae.pth"));
        Files.write(bad, Arrays.copyOf(b, b.length / 3));
        Path out = tmp.resolve("model");
        var r = run("convert", "--transformer", a.resolve("model.pth").toString(), "--vae", bad.toString(), "--out", out.toString());
        assertEquals(1, r.exit(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("infinityj: error: ") && r.err().contains("broken_vae.pth"), r.err());
        assertEquals(List.of("in"), names(tmp));

        assertEquals(0, run("convert", "--transformer", a.resolve("model.pth").toString(), "--out", out.toString(), "-q").exit());
        Map<String, String> before = snapshot(out);
        var u = run("convert", "--vae", bad.toString(), "--out", out.toString());
        assertEquals(1, u.exit(), u.err());
        assertEquals(before, snapshot(out));
        var swapped = run("convert", "--transformer", a.resolve("vae.pth").toString(), "--out", out.toString());
        assertEquals(1, swapped.exit());
        assertTrue(swapped.err().contains("bsq-vae") && swapped.err().lines().count() == 1, swapped.err());
        assertEquals(before, snapshot(out));
        assertEquals(List.of("in", "model"), names(tmp));
    }

    @Test
    void optionMistakesAreParameterErrors() {
        Path a = fixture("infinity-tiny-a");
        Path out = tmp.resolve("model");
        String pth = a.resolve("model.pth").toString();
        for (String[] bad : new String[][]{
                {"convert", pth, "--vae", a.resolve("vae.pth").toString(), "--out", out.toString()},
                {"convert", "--out", out.toString()},
                {"convert", "--transformer", pth, "--out", out.toString(), "--dtype", "keep"},
                {"convert", "--transformer", pth, "--out", out.toString(), "--key", "vae"},
                {"convert", "--transformer", pth, "--t5-tokenizer", pth, "--out", out.toString()},
                {"convert", "--transformer", pth}}) {
            var r = run(bad);
            assertEquals(2, r.exit(), String.join(" ", bad) + ": " + r.err());
            assertTrue(r.err().startsWith("infinityj: error: "), r.err());
            assertEquals("", r.out());
        }
        assertEquals(List.of(), names(tmp));
    }
}
