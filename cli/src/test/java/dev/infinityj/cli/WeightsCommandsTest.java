package dev.infinityj.cli;

import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.util.Json;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/** {@code infinityj convert} and {@code inspect}: results on the fixtures, and the error contract on bad input. */
class WeightsCommandsTest {
    @TempDir Path tmp;

    record Run(int exit, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    static Path fixture(String name) {
        String p = System.getProperty("infinityj.fixtures");
        Path d = (p != null ? Path.of(p) : Path.of("../shared/fixtures")).toAbsolutePath().normalize().resolve(name);
        Assumptions.assumeTrue(Files.isDirectory(d), "skipped: fixture folder " + d + " not found");
        return d;
    }

    @Test
    void inspectReportsKeysCountsAndKind() {
        Path pth = fixture("infinity-tiny-a").resolve("model.pth");
        Run r = run("inspect", pth.toString(), "--json");
        assertEquals(0, r.exit(), r.err());
        Map<String, Object> o = Json.parseObject(r.out(), "inspect --json");
        assertEquals("infinity-transformer", o.get("model_kind"));
        long params = 0, bytes = 0;
        try (WeightSource w = Checkpoints.open(pth)) {
            for (String k : w.keys()) { params += w.get(k).numel(); bytes += w.get(k).numel() * w.get(k).dtype().byteSize(); }
            assertEquals((long) w.keys().size(), o.get("tensors"));
            List<?> keys = (List<?>) o.get("keys");
            assertEquals(List.copyOf(w.keys()), keys.stream().map(k -> ((Map<?, ?>) k).get("name")).toList());
        }
        assertEquals(params, o.get("parameters"));
        assertEquals(bytes, o.get("bytes"));
        assertEquals(4 * params, bytes, "fp32 fixture");

        Run vae = run("inspect", fixture("infinity-tiny-bf16").resolve("vae.pth").toString());
        assertEquals(0, vae.exit(), vae.err());
        assertTrue(vae.out().contains("model kind:  bsq-vae"), vae.out());
        assertTrue(vae.out().lines().anyMatch(l -> l.matches("quantizer\\.lfq\\.mask\\s+I64\\s+\\[32]")), vae.out());
        Run t5 = run("inspect", fixture("t5-tiny").resolve("sharded").toString());
        assertEquals(0, t5.exit(), t5.err());
        assertTrue(t5.out().contains("model kind:  t5-encoder") && t5.out().contains("sharded safetensors (2 shards)"), t5.out());
    }

    @Test
    void convertWritesBf16ByDefaultAndF32OnRequest() {
        Path pth = fixture("infinity-tiny-a").resolve("vae.pth");
        Path bf = tmp.resolve("vae.safetensors"), f32 = tmp.resolve("vae32.safetensors");
        Run r = run("convert", pth.toString(), "--out", bf.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("wrote " + bf), r.out());
        assertEquals(0, run("convert", pth.toString(), "-o", f32.toString(), "--dtype", "f32", "--key", "vae").exit());
        try (SafetensorsFile b = SafetensorsFile.open(bf); SafetensorsFile f = SafetensorsFile.open(f32)) {
            assertEquals(DType.BF16, b.get("encoder.conv_in.conv.weight").dtype());
            assertEquals(DType.F32, f.get("encoder.conv_in.conv.weight").dtype());
            assertEquals(DType.I64, b.get("quantizer.lfq.mask").dtype());
            assertEquals("bsq-vae", b.metadata().get("model_kind"));
        }
        Run i = run("inspect", bf.toString(), "--json");
        assertEquals(0, i.exit(), i.err());
        assertEquals("bsq-vae", Json.parseObject(i.out(), "x").get("model_kind"));
        assertEquals(List.of("vae.safetensors", "vae32.safetensors"), names(tmp));
    }

    @Test
    void aTransformerIsConvertedPackedByDefaultInspectShowsTheLayoutAndCheckFixturePassesOnIt() {
        Path dir = fixture("infinity-tiny-a");
        Path packed = tmp.resolve("packed.safetensors"), plain = tmp.resolve("plain.safetensors");
        Run r = run("convert", dir.resolve("model.pth").toString(), "--out", packed.toString(), "--dtype", "f32");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("layout linear-panel16-v1 ("), r.out());
        Run p = run("convert", dir.resolve("model.pth").toString(), "--out", plain.toString(), "--dtype", "f32", "--layout", "plain");
        assertEquals(0, p.exit(), p.err());
        assertTrue(p.out().contains("layout plain"), p.out());

        String fc1 = "block_chunks.0.module.0.ffn.fc1.weight"; // [256, 64] in this fixture
        Run i = run("inspect", packed.toString());
        assertEquals(0, i.exit(), i.err());
        assertTrue(i.out().lines().anyMatch(l -> l.startsWith("layout:      linear-panel16-v1")), i.out());
        assertTrue(i.out().lines().anyMatch(l -> l.matches(java.util.regex.Pattern.quote(fc1) + "\\s+F32\\s+\\[16, 64, 16]  packed from \\[256, 64]")), i.out());
        Map<String, Object> j = Json.parseObject(run("inspect", plain.toString(), "--json").out(), "inspect --json");
        assertEquals("plain", j.get("layout"));
        Map<String, Object> jp = Json.parseObject(run("inspect", packed.toString(), "--json").out(), "inspect --json");
        assertTrue(((String) jp.get("layout")).startsWith("linear-panel16-v1"), jp.toString());
        assertEquals(j.get("parameters"), jp.get("parameters"), "the same numbers, laid out differently");

        Run c = run("check-fixture", dir.toString(), "--weights", packed.toString());
        assertEquals(0, c.exit(), c.out() + c.err());
        assertTrue(c.out().contains("PASS"), c.out());
    }

    @Test
    void badOptionsAreParameterErrors() {
        Path pth = fixture("infinity-tiny-a").resolve("model.pth");
        Path out = tmp.resolve("o.safetensors");
        Run r = run("convert", pth.toString(), "--out", out.toString(), "--dtype", "int4");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().lines().findFirst().orElse("").startsWith("infinityj: error: invalid value for option '--dtype'"), r.err());
        Run l = run("convert", pth.toString(), "--out", out.toString(), "--layout", "tiled");
        assertNotEquals(0, l.exit());
        assertTrue(l.err().lines().findFirst().orElse("").startsWith("infinityj: error: invalid value for option '--layout'"), l.err());
        Run k = run("convert", pth.toString(), "--out", out.toString(), "--key", "nope");
        assertEquals(1, k.exit());
        assertTrue(k.err().startsWith("infinityj: error:") && k.err().contains("no key 'nope'"), k.err());
        Run missingOut = run("convert", pth.toString());
        assertNotEquals(0, missingOut.exit());
        assertTrue(missingOut.err().startsWith("infinityj: error:"), missingOut.err());
        assertEquals(List.of(), names(tmp));
    }

    // ------------------------------------------------------------------ bad input: one line, non-zero exit, no output

    static List<String> names(Path dir) {
        try (var s = Files.list(dir)) { return s.map(p -> p.getFileName().toString()).sorted().toList(); }
        catch (IOException e) { throw new RuntimeException(e); }
    }

    private static byte[] safetensors(String header, int dataBytes, long claimed) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(claimed < 0 ? h.length : claimed).put(h).array();
    }

    private static void stored(ZipOutputStream z, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        CRC32 c = new CRC32();
        c.update(data);
        e.setCrc(c.getValue());
        z.putNextEntry(e);
        z.write(data);
        z.closeEntry();
    }

    private static byte[] zip(Map<String, byte[]> entries) throws IOException {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bo)) {
            for (var e : entries.entrySet()) stored(z, e.getKey(), e.getValue());
        }
        return bo.toByteArray();
    }

    /** Builds the bad input {@code kind} under {@code in/}; returns its path. */
    private Path bad(String kind, Path marker) throws IOException {
        Path in = Files.createDirectories(tmp.resolve("in"));
        String one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        switch (kind) {
            case "truncated" -> { byte[] b = safetensors(one, 8, -1); return Files.write(in.resolve("t.safetensors"), java.util.Arrays.copyOf(b, b.length - 2)); }
            case "header-too-long" -> { return Files.write(in.resolve("h.safetensors"), safetensors(one, 8, 4096)); }
            case "overlap" -> { return Files.write(in.resolve("o.safetensors"), safetensors(
                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, -1)); }
            case "out-of-range" -> { return Files.write(in.resolve("r.safetensors"), safetensors(one, 4, -1)); }
            case "unknown-dtype" -> { return Files.write(in.resolve("d.safetensors"), safetensors(one.replace("F32", "F8_E9M9"), 8, -1)); }
            case "shape-size" -> { return Files.write(in.resolve("s.safetensors"), safetensors(one.replace("[2]", "[3]"), 8, -1)); }
            case "os-system" -> {
                ByteArrayOutputStream p = new ByteArrayOutputStream();
                p.write(new byte[]{(byte) 0x80, 2, 'c'});
                p.writeBytes("os\nsystem\n".getBytes(StandardCharsets.US_ASCII));
                byte[] cmd = ("touch " + marker).getBytes(StandardCharsets.UTF_8);
                p.write('X');
                p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(cmd.length).array());
                p.writeBytes(cmd);
                p.write(new byte[]{(byte) 0x85, 'R', '.'});
                return Files.write(in.resolve("evil.pth"), zip(Map.of("evil/data.pkl", p.toByteArray())));
            }
            case "zip-slip" -> {
                byte[] emptyDict = {(byte) 0x80, 2, '}', '.'};
                return Files.write(in.resolve("slip.pth"), zip(Map.of("a/data.pkl", emptyDict, "../../escape", new byte[]{1})));
            }
            case "empty" -> { return Files.write(in.resolve("empty.pth"), new byte[0]); }
            case "empty-safetensors" -> { return Files.write(in.resolve("empty.safetensors"), new byte[0]); }
            case "directory" -> { return Files.createDirectories(in.resolve("dir.safetensors")); }
            case "missing" -> { return in.resolve("missing.pth"); }
            default -> throw new AssertionError(kind);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"truncated", "header-too-long", "overlap", "out-of-range", "unknown-dtype", "shape-size",
            "os-system", "zip-slip", "empty", "empty-safetensors", "directory", "missing"})
    void badInputGivesOneLineNonZeroExitAndNoOutput(String kind) throws IOException {
        Path marker = tmp.resolve("marker");
        Path input = bad(kind, marker);
        Path outDir = Files.createDirectories(tmp.resolve("out"));
        Path out = outDir.resolve("x.safetensors");
        for (String[] args : new String[][]{{"convert", input.toString(), "--out", out.toString()}, {"inspect", input.toString()}}) {
            Run r = run(args);
            assertEquals(1, r.exit(), kind + " " + args[0] + ": " + r.err());
            assertTrue(r.err().startsWith("infinityj: error: "), r.err());
            assertEquals(1, r.err().lines().count(), "one line: " + r.err());
            assertTrue(r.err().contains(input.getFileName().toString()), "names the file: " + r.err());
            assertEquals("", r.out());
            assertEquals(List.of(), names(outDir), "no output file left behind");
            assertFalse(Files.exists(marker), "nothing ran");
        }
    }

    @Test
    void aFailedConvertKeepsAnExistingOutputUntouched() throws IOException {
        Path out = tmp.resolve("keep.safetensors");
        Files.writeString(out, "previous");
        Path input = bad("overlap", tmp.resolve("m"));
        assertEquals(1, run("convert", input.toString(), "--out", out.toString()).exit());
        assertEquals("previous", Files.readString(out));
        try (OutputStream ignored = OutputStream.nullOutputStream()) { assertTrue(names(tmp).contains("keep.safetensors")); }
    }
}
