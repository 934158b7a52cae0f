package dev.infinityj.model;

import dev.infinityj.WeightFormatException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.Converter;
import dev.infinityj.io.PackedLayout;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.SafetensorsWriter;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A fixture transformer converted with packed Linear weights runs exactly like the plain
 * conversion (bit for bit on the CPU backend), still passes the official-code conformance, hands
 * its weights to the backend without a copy, and a packed file whose metadata or shapes do not
 * agree is refused by name.
 */
class PackedCheckpointTest {
    @TempDir Path tmp;

    /** Every number a teacher-forced run produces, per scale, as raw float bits. */
    private static List<int[]> outputs(Path dir, SafetensorsFile weights, CpuBackend be) {
        List<int[]> out = new ArrayList<>();
        FixtureCheck.Report r = FixtureCheck.run(dir, weights, be, null, ev -> {
            out.add(bits(ev.logitsCond()));
            out.add(ev.logitsUncond() == null ? new int[0] : bits(ev.logitsUncond()));
            out.add(bits(ev.logitsMixed()));
            out.add(bits(ev.latent().toFloatArray()));
        });
        assertEquals(List.of(), r.failures(), weights.describe() + ": conformance");
        assertEquals(7, r.scales().size());
        return out;
    }

    private static int[] bits(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
        return b;
    }

    /** A CPU backend that records what linearWeight is given and returns. */
    private static final class Recording extends CpuBackend {
        final List<Tensor> given = new ArrayList<>(), returned = new ArrayList<>();

        @Override
        public Tensor linearWeight(Tensor w) {
            Tensor r = super.linearWeight(w);
            given.add(w);
            returned.add(r);
            return r;
        }
    }

    @Test
    void packedAndPlainConversionsGiveBitIdenticalOutputsAndBothPassConformance() {
        Path dir = Fixtures.dir("infinity-tiny-a");
        Path packed = tmp.resolve("packed.safetensors"), plain = tmp.resolve("plain.safetensors");
        // f32: the conformance bounds are for the fixture's own fp32 weights
        Converter.Result rp = Converter.convert(dir.resolve("model.pth"), null, packed, Converter.Precision.F32, Converter.Layout.PACKED);
        Converter.convert(dir.resolve("model.pth"), null, plain, Converter.Precision.F32, Converter.Layout.PLAIN);
        try (SafetensorsFile p = SafetensorsFile.open(packed); SafetensorsFile q = SafetensorsFile.open(plain)) {
            assertEquals(PackedLayout.PANEL16_V1, p.metadata().get(PackedLayout.LAYOUT));
            assertEquals(PackedLayout.PLAIN, q.metadata().get(PackedLayout.LAYOUT));
            assertTrue(q.packedKeys().isEmpty());
            assertEquals(rp.packed(), p.packedKeys().size());

            Recording bp = new Recording(), bq = new Recording();
            List<int[]> a = outputs(dir, p, bp), b = outputs(dir, q, bq);
            assertEquals(a.size(), b.size());
            for (int i = 0; i < a.size(); i++) assertArrayEquals(b.get(i), a.get(i), "output " + i + " (scale " + i / 4 + ")");

            // every Linear weight of this fixture has rows a multiple of 16: all arrive packed and are used as they are
            assertFalse(bp.given.isEmpty());
            for (int i = 0; i < bp.given.size(); i++) {
                Tensor g = bp.given.get(i);
                assertEquals(3, g.rank(), "a Linear weight from the packed file arrives packed: " + g.describe());
                assertSame(g, bp.returned.get(i), "zero copy: the mapped tensor itself");
            }
            assertEquals(bq.given.size(), bp.given.size(), "the same Linear weights in both files");
            for (Tensor g : bq.given) assertEquals(2, g.rank(), "plain file: [N, K]");
        }
    }

    @Test
    void aPackedFileWithStrippedMetadataOrAWrongShapeIsRefusedByFileAndKey() {
        Path dir = Fixtures.dir("infinity-tiny-a");
        Path packed = tmp.resolve("packed.safetensors");
        Converter.convert(dir.resolve("model.pth"), null, packed, Converter.Precision.BF16, Converter.Layout.PACKED);
        InfinityConfig cfg = InfinityConfig.fromJson(dir.resolve("config.json"));
        String key = InfinityWeights.blockPrefix(cfg, 1) + "ffn.fc1.weight";
        Map<String, Tensor> all = new LinkedHashMap<>();
        Map<String, String> meta;
        try (SafetensorsFile p = SafetensorsFile.open(packed)) {
            assertTrue(p.isPackedLinear(key));
            for (String k : p.keys()) all.put(k, copy(p.get(k)));
            meta = new LinkedHashMap<>(p.metadata());
        }

        // the metadata stripped: the packed tensors are not taken for [N, K] ones
        Map<String, String> stripped = new LinkedHashMap<>(meta);
        stripped.remove(PackedLayout.LAYOUT);
        stripped.remove(PackedLayout.PACKED_KEYS);
        Path noMeta = tmp.resolve("no-meta.safetensors");
        SafetensorsWriter.write(noMeta, stripped, all);
        String m = refused(noMeta, cfg);
        assertTrue(m.contains(key) && m.contains("metadata does not declare"), m);

        // declared packed, but the panels hold the wrong K (a consistent header, a wrong model)
        Tensor good = all.get(key);
        all.put(key, Tensor.allocate(good.dtype(), good.dim(0), good.dim(1) + 16, 16));
        Path wrongK = tmp.resolve("wrong-k.safetensors");
        SafetensorsWriter.write(wrongK, meta, all);
        m = refused(wrongK, cfg);
        assertTrue(m.contains(key) && m.contains(Arrays.toString(good.shape())), m);
    }

    private static String refused(Path file, InfinityConfig cfg) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> InfinityModel.load(cfg, f, new CpuBackend()));
            String m = e.getMessage();
            assertTrue(m.startsWith(file.toString()) && !m.contains("\n"), m);
            return m;
        }
    }

    private static Tensor copy(Tensor t) {
        Tensor c = Tensor.allocate(t.dtype(), t.shape());
        c.segment().copyFrom(t.contiguous().segment());
        return c;
    }

}
