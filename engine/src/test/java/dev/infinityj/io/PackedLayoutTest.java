package dev.infinityj.io;

import dev.infinityj.WeightFormatException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The metadata that declares packed Linear weights: read when consistent, refused (one line, file and key named) when not. */
class PackedLayoutTest {
    @TempDir Path tmp;

    private Path file(String name, Map<String, String> meta) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("a.weight", Tensor.allocate(DType.BF16, 2, 8, 16));   // a packed [32, 8]
        t.put("b.weight", Tensor.allocate(DType.BF16, 40, 8));      // plain
        t.put("c.scale", Tensor.allocate(DType.F32, 1, 4, 16));     // an ordinary rank-3 tensor ending in 16
        Path p = tmp.resolve(name);
        SafetensorsWriter.write(p, meta, t);
        return p;
    }

    private static Map<String, String> meta(String layout, String keys) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        if (layout != null) m.put(PackedLayout.LAYOUT, layout);
        if (keys != null) m.put(PackedLayout.PACKED_KEYS, keys);
        return m;
    }

    @Test
    void aConsistentPackedFileSaysWhichKeysArePackedAndNothingElse() {
        Path p = file("ok.safetensors", meta(PackedLayout.PANEL16_V1, "[\"a.weight\"]"));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.isPackedLinear("a.weight"));
            assertFalse(f.isPackedLinear("b.weight"));
            assertFalse(f.isPackedLinear("c.scale"), "shape alone never makes a tensor packed");
            assertEquals(PackedLayout.PANEL16_V1, f.layout());
            assertArrayEquals(new long[]{32, 8}, f.logicalShape("a.weight"));
            assertArrayEquals(new long[]{2, 8, 16}, f.get("a.weight").shape(), "stored as packed");
            assertArrayEquals(new long[]{1, 4, 16}, f.logicalShape("c.scale"));
        }
        try (SafetensorsFile f = SafetensorsFile.open(file("plain.safetensors", meta(PackedLayout.PLAIN, null)));
             SafetensorsFile g = SafetensorsFile.open(file("none.safetensors", meta(null, null)))) {
            assertEquals(PackedLayout.PLAIN, f.layout());
            assertEquals(PackedLayout.PLAIN, g.layout());
            assertFalse(f.isPackedLinear("a.weight") || g.isPackedLinear("a.weight"));
        }
    }

    @Test
    void theMetadataWriterDeclaresWhatTheReaderReads() {
        assertEquals(Map.of(PackedLayout.LAYOUT, PackedLayout.PLAIN), PackedLayout.metadata(List.of()));
        Map<String, String> m = PackedLayout.metadata(List.of("a.weight"));
        m.put("format", "pt");
        try (SafetensorsFile f = SafetensorsFile.open(file("w.safetensors", m))) {
            assertTrue(f.isPackedLinear("a.weight"));
        }
    }

    @Test
    void inconsistentMetadataIsRefusedNamingTheFileAndTheKey() {
        record Case(String name, Map<String, String> meta, String mustSay) {}
        List<Case> cases = List.of(
                new Case("unknown-layout", meta("linear-panel32-v9", "[\"a.weight\"]"), "linear-panel32-v9"),
                new Case("keys-without-layout", meta(null, "[\"a.weight\"]"), PackedLayout.PACKED_KEYS),
                new Case("keys-but-plain", meta(PackedLayout.PLAIN, "[\"a.weight\"]"), PackedLayout.PACKED_KEYS),
                new Case("layout-without-keys", meta(PackedLayout.PANEL16_V1, null), PackedLayout.PACKED_KEYS),
                new Case("not-json", meta(PackedLayout.PANEL16_V1, "a.weight"), PackedLayout.PACKED_KEYS),
                new Case("not-an-array", meta(PackedLayout.PANEL16_V1, "{\"a.weight\": 1}"), PackedLayout.PACKED_KEYS),
                new Case("missing-key", meta(PackedLayout.PANEL16_V1, "[\"a.weight\", \"z.weight\"]"), "'z.weight'"),
                new Case("twice", meta(PackedLayout.PANEL16_V1, "[\"a.weight\", \"a.weight\"]"), "'a.weight'"),
                new Case("plain-shape-listed", meta(PackedLayout.PANEL16_V1, "[\"b.weight\"]"), "'b.weight'"));
        for (Case c : cases) {
            Path p = file(c.name() + ".safetensors", c.meta());
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> SafetensorsFile.open(p).close(), c.name());
            String m = e.getMessage();
            assertTrue(m.startsWith(p.toString()) && m.contains(c.mustSay()) && !m.contains("\n"), c.name() + ": " + m);
        }
    }
}
