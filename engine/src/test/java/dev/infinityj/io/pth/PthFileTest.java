package dev.infinityj.io.pth;

import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static dev.infinityj.io.pth.PickleBuilder.T;
import static dev.infinityj.io.pth.PickleBuilder.floats;
import static org.junit.jupiter.api.Assertions.*;

/** The .pth reader on hand-built archives: strides, offsets, nesting, prefixes, and hostile input. */
class PthFileTest {
    @TempDir Path tmp;

    private static final float[] TWELVE = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

    @Test
    void stridedAndOffsetViewsIndexLikeTorch() throws IOException {
        // a: [3,4] contiguous; b = a.t() (stride (1,4)); c = rows 1..2 of a (offset 4); d = a[:, 1] (offset 1, stride 4)
        Path f = tmp.resolve("views.pth");
        byte[] pkl = PickleBuilder.stateDict(
                T.contiguous("a", "FloatStorage", "0", 3, 4),
                new T("b", "FloatStorage", "0", 12, 0, new long[]{4, 3}, new long[]{1, 4}),
                new T("c", "FloatStorage", "0", 12, 4, new long[]{2, 4}, new long[]{4, 1}),
                new T("d", "FloatStorage", "0", 12, 1, new long[]{3}, new long[]{4}));
        PickleBuilder.writeZip(f, "archive", pkl, Map.of("0", floats(TWELVE)), Map.of());
        try (WeightSource w = Checkpoints.open(f)) {
            assertEquals(List.of("a", "b", "c", "d"), List.copyOf(w.keys()));
            Tensor a = w.get("a"), b = w.get("b"), c = w.get("c"), d = w.get("d");
            assertTrue(a.storage().isMapped() && b.storage().isMapped());
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++) {
                    float v = TWELVE[i * 4 + j];
                    assertEquals(v, a.getFloat(i, j));
                    assertEquals(v, b.getFloat(j, i));
                }
            assertArrayEquals(new float[]{4, 5, 6, 7, 8, 9, 10, 11}, c.toFloatArray());
            assertArrayEquals(new float[]{1, 5, 9}, d.toFloatArray());
            assertFalse(b.isContiguous());
            // the view of a shared storage is the same bytes, not a copy
            assertEquals(a.storage().address(), b.storage().address());
        }
    }

    @Test
    void wrapperPrefixesAreStrippedAndTrainingWrappersAreNavigable() throws IOException {
        Path f = tmp.resolve("wrapped.pt");
        // {'epoch': 3, 'optimizer': {'lr': 0.5}, 'model': {'module._orig_mod.w': t, 'module._orig_mod.mask': i64}}
        PickleBuilder p = new PickleBuilder().proto().op('}', '(');
        p.str("epoch").integer(3);
        p.str("optimizer").op('}').str("lr").op('G');
        p.b.writeBytes(java.nio.ByteBuffer.allocate(8).putDouble(0.5).array());
        p.op('s');
        p.str("model").op('}', '(');
        p.str("module._orig_mod.w").tensor("FloatStorage", "0", 2, 0, new long[]{2}, new long[]{1});
        p.str("module._orig_mod.mask").tensor("LongStorage", "1", 2, 0, new long[]{2}, new long[]{1});
        p.op('u', 'u', '.');
        PickleBuilder.writeZip(f, "anything_goes", p.bytes(),
                Map.of("0", floats(1.5f, -2f), "1", PickleBuilder.longs(8, 1L << 40)), Map.of());
        // two dicts at the root ('optimizer', 'model'): 'model' is the preferred one
        try (WeightSource w = Checkpoints.open(f)) {
            assertEquals(List.of("w", "mask"), List.copyOf(w.keys()));
            assertArrayEquals(new float[]{1.5f, -2f}, w.get("w").toFloatArray());
            assertEquals(DType.I64, w.get("mask").dtype());
            assertArrayEquals(new long[]{8, 1L << 40}, w.get("mask").toLongArray());
        }
        try (PthFile pf = PthFile.open(f)) {
            assertEquals(List.of("epoch", "optimizer", "model"), pf.stateDict("").skipped());
            assertEquals(0.5, ((Map<?, ?>) pf.at("optimizer")).get("lr"));
            assertEquals(List.of("module._orig_mod.w", "module._orig_mod.mask"), List.copyOf(pf.stateDict("model").keys()));
            BadInputException e = assertThrows(BadInputException.class, () -> pf.stateDict("ema"));
            assertTrue(e.getMessage().contains("no key 'ema'") && e.getMessage().contains("model"), e.getMessage());
        }
        try (WeightSource w = Checkpoints.open(f, "model")) {
            assertEquals(List.of("w", "mask"), List.copyOf(w.keys()));
        }
    }

    /** What torch.save(model.state_dict()) writes: SETITEMS, then BUILD with {'_metadata': {...}}; and nn.Parameter wrappers. */
    @Test
    void stateDictMetadataAndParametersAreAccepted() throws IOException {
        Path f = tmp.resolve("sd.pth");
        PickleBuilder p = new PickleBuilder().proto().global("collections", "OrderedDict").op(')', 'R', '(');
        p.str("p").global("torch._utils", "_rebuild_parameter");
        p.op('(').tensor("FloatStorage", "0", 3, 0, new long[]{3}, new long[]{1}).op(0x88).global("collections", "OrderedDict").op(')', 'R', 't', 'R');
        p.str("b").tensor("BFloat16Storage", "1", 1, 0, new long[]{}, new long[]{});
        p.op('u');
        p.op('}').str("_metadata").global("collections", "OrderedDict").op(')', 'R').str("").op('}').str("version").integer(1).op('s', 's', 's', 'b', '.');
        PickleBuilder.writeZip(f, "sd", p.bytes(), Map.of("0", floats(1, 2, 3), "1", new byte[]{(byte) 0x80, 0x3f}), Map.of());
        try (WeightSource w = Checkpoints.open(f)) {
            assertEquals(List.of("p", "b"), List.copyOf(w.keys()));
            assertArrayEquals(new float[]{1, 2, 3}, w.get("p").toFloatArray());
            assertEquals(DType.BF16, w.get("b").dtype());
            assertEquals(0, w.get("b").rank());
            assertEquals(1f, w.get("b").toFloatArray()[0]);
        }
    }

    // ------------------------------------------------------------------ hostile input

    private WeightFormatException refused(Path f) {
        return assertThrows(WeightFormatException.class, () -> { try (var w = Checkpoints.open(f)) { w.keys(); } });
    }

    private static void assertOneLine(String msg, String... parts) {
        assertFalse(msg.contains("\n"), msg);
        for (String p : parts) assertTrue(msg.contains(p), "'" + p + "' not in: " + msg);
    }

    /** A pickle that would run {@code touch marker} if it were executed by a Python unpickler. */
    @Test
    void osSystemIsRefusedAndNothingRuns() throws IOException {
        Path marker = tmp.resolve("marker");
        for (String[] g : new String[][]{{"os", "system"}, {"posix", "system"}, {"builtins", "eval"}, {"subprocess", "call"}}) {
            Path f = tmp.resolve("evil-" + g[0] + ".pth");
            byte[] pkl = new PickleBuilder().proto().global(g[0], g[1]).str("touch " + marker).op(0x85, 'R', '.').bytes();
            PickleBuilder.writeZip(f, "evil", pkl, Map.of(), Map.of());
            WeightFormatException e = refused(f);
            assertOneLine(e.getMessage(), f.toString(), "refused pickle global '" + g[0] + "." + g[1] + "'");
            assertFalse(Files.exists(marker), "nothing may run");
        }
        // the same through STACK_GLOBAL (protocol 4), where the names are strings on the stack
        Path f = tmp.resolve("evil4.pth");
        byte[] pkl = new PickleBuilder().op(0x80, 4).str("os").str("system").op(0x93).str("touch " + marker).op(0x85, 'R', '.').bytes();
        PickleBuilder.writeZip(f, "evil", pkl, Map.of(), Map.of());
        assertOneLine(refused(f).getMessage(), "refused pickle global 'os.system'");
        assertFalse(Files.exists(marker));
    }

    @Test
    void objectConstructionOpcodesAndReduceOnDataAreRefused() throws IOException {
        Path f = tmp.resolve("inst.pth");
        // INST 'os\nsystem\n' — protocol 0 object construction
        PickleBuilder p = new PickleBuilder().proto().op('(').str("touch x").op('i');
        p.b.writeBytes("os\nsystem\n".getBytes(StandardCharsets.US_ASCII));
        PickleBuilder.writeZip(f, "a", p.op('.').bytes(), Map.of(), Map.of());
        assertOneLine(refused(f).getMessage(), "refused pickle opcode", "INST");
        // REDUCE whose callable is a plain string (not an allowed global)
        Path g = tmp.resolve("reduce.pth");
        PickleBuilder.writeZip(g, "a", new PickleBuilder().proto().str("x").op(')', 'R', '.').bytes(), Map.of(), Map.of());
        assertOneLine(refused(g).getMessage(), "refused pickle REDUCE");
        // BUILD (setstate) on a tensor
        Path h = tmp.resolve("build.pth");
        PickleBuilder q = new PickleBuilder().proto().tensor("FloatStorage", "0", 1, 0, new long[]{1}, new long[]{1}).op('}', 'b', '.');
        PickleBuilder.writeZip(h, "a", q.bytes(), Map.of("0", floats(1)), Map.of());
        assertOneLine(refused(h).getMessage(), "refused pickle BUILD");
    }

    @Test
    void entryNamesEscapingTheArchiveAreRefused() throws IOException {
        for (String bad : new String[]{"../evil", "a/../../evil", "/etc/passwd", "C:\\evil"}) {
            Path f = tmp.resolve("escape.pth");
            PickleBuilder.writeZip(f, "a", PickleBuilder.stateDict(), Map.of(), Map.of(bad, new byte[]{1}));
            assertOneLine(refused(f).getMessage(), "refused zip entry name", f.toString());
        }
    }

    @Test
    void lyingSizesAreRefused() throws IOException {
        // storage entry shorter than the pickle's numel claims
        Path f = tmp.resolve("short.pth");
        PickleBuilder.writeZip(f, "a", PickleBuilder.stateDict(T.contiguous("w", "FloatStorage", "0", 4)),
                Map.of("0", floats(1, 2, 3)), Map.of());
        assertOneLine(refused(f).getMessage(), "storage data/0 holds 12 bytes", "4 F32 elements");
        // a view reaching past its storage (offset + extent)
        Path g = tmp.resolve("extent.pth");
        PickleBuilder.writeZip(g, "a", PickleBuilder.stateDict(new T("w", "FloatStorage", "0", 4, 2, new long[]{3}, new long[]{1})),
                Map.of("0", floats(1, 2, 3, 4)), Map.of());
        assertOneLine(refused(g).getMessage(), "reaches element 4", "holds 4 elements");
        // a storage with no archive entry
        Path h = tmp.resolve("missing.pth");
        PickleBuilder.writeZip(h, "a", PickleBuilder.stateDict(T.contiguous("w", "FloatStorage", "7", 1)), Map.of(), Map.of());
        assertOneLine(refused(h).getMessage(), "storage '7' has no archive entry");
    }

    @Test
    void compressedDataEntriesAreRefused() throws IOException {
        Path f = tmp.resolve("deflated.pth");
        byte[] pkl = PickleBuilder.stateDict(T.contiguous("w", "FloatStorage", "0", 2));
        try (OutputStream os = Files.newOutputStream(f); ZipOutputStream z = new ZipOutputStream(os)) {
            PickleBuilder.storedEntry(z, "a/data.pkl", pkl);
            z.putNextEntry(new ZipEntry("a/data/0")); // DEFLATED by default
            z.write(floats(1, 2));
            z.closeEntry();
        }
        assertOneLine(refused(f).getMessage(), "'a/data/0' is compressed");
    }

    @Test
    void bigEndianArchivesAreRefused() throws IOException {
        Path f = tmp.resolve("big.pth");
        PickleBuilder.writeZip(f, "a", PickleBuilder.stateDict(), Map.of(), Map.of("a/byteorder", "big".getBytes(StandardCharsets.US_ASCII)));
        assertOneLine(refused(f).getMessage(), "byteorder 'big'");
        Path g = tmp.resolve("little.pth");
        PickleBuilder.writeZip(g, "a", PickleBuilder.stateDict(T.contiguous("w", "FloatStorage", "0", 1)), Map.of("0", floats(3)),
                Map.of("a/byteorder", "little".getBytes(StandardCharsets.US_ASCII)));
        try (WeightSource w = Checkpoints.open(g)) { assertEquals(3f, w.get("w").getFloat(0)); }
    }

    @Test
    void truncatedEmptyMissingDirectoryAndNonZipInputs() throws IOException {
        Path good = tmp.resolve("good.pth");
        PickleBuilder.writeZip(good, "a", PickleBuilder.stateDict(T.contiguous("w", "FloatStorage", "0", 64)), Map.of("0", new byte[256]), Map.of());
        byte[] all = Files.readAllBytes(good);
        for (int cut : new int[]{all.length - 1, all.length - 30, all.length / 2, 10}) {
            Path t = tmp.resolve("trunc" + cut + ".pth");
            Files.write(t, java.util.Arrays.copyOf(all, cut));
            assertOneLine(refused(t).getMessage(), t.toString());
        }
        Path empty = Files.createFile(tmp.resolve("empty.pth"));
        assertOneLine(refused(empty).getMessage(), "empty file");
        Path dir = Files.createDirectory(tmp.resolve("dir.pth"));
        BadInputException d = assertThrows(BadInputException.class, () -> PthFile.open(dir));
        assertOneLine(d.getMessage(), "is a directory");
        BadInputException m = assertThrows(BadInputException.class, () -> Checkpoints.open(tmp.resolve("nope.pth")));
        assertOneLine(m.getMessage(), "not found");
        Path legacy = tmp.resolve("legacy.pth");
        Files.write(legacy, new byte[]{(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19, 0x2e, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        assertOneLine(refused(legacy).getMessage(), "legacy");
        // a truncated pickle inside a valid archive
        Path tp = tmp.resolve("truncpkl.pth");
        byte[] pkl = PickleBuilder.stateDict(T.contiguous("w", "FloatStorage", "0", 1));
        PickleBuilder.writeZip(tp, "a", java.util.Arrays.copyOf(pkl, pkl.length - 5), Map.of("0", floats(1)), Map.of());
        assertOneLine(refused(tp).getMessage(), "truncated pickle");
    }

    @Test
    void zip64ArchivesAreRead() throws IOException {
        Path f = tmp.resolve("zip64.pth");
        byte[] pkl = PickleBuilder.stateDict(T.contiguous("w", "FloatStorage", "0", 2));
        Files.write(f, zip64(Map.of("a/data.pkl", pkl, "a/data/0", floats(7, 8))));
        try (WeightSource w = Checkpoints.open(f)) {
            assertArrayEquals(new float[]{7, 8}, w.get("w").toFloatArray());
        }
    }

    /**
     * A hand-assembled ZIP64 archive of stored entries, as writers produce for files over 4 GB:
     * every 32-bit size and offset in the central directory saturated to 0xFFFFFFFF with the real
     * values in the ZIP64 extra field, and a ZIP64 end record + locator before the classic one.
     */
    static byte[] zip64(Map<String, byte[]> entries) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1 << 16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        Map<String, Integer> offsets = new java.util.LinkedHashMap<>();
        for (var e : new java.util.TreeMap<>(entries).entrySet()) {
            byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            crc.update(e.getValue());
            offsets.put(e.getKey(), b.position());
            b.putInt(0x04034b50).putShort((short) 45).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt((int) crc.getValue()).putInt(e.getValue().length).putInt(e.getValue().length)
                    .putShort((short) name.length).putShort((short) 0).put(name).put(e.getValue());
        }
        int cd = b.position();
        for (var e : new java.util.TreeMap<>(entries).entrySet()) {
            byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            crc.update(e.getValue());
            b.putInt(0x02014b50).putShort((short) 45).putShort((short) 45).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt((int) crc.getValue()).putInt(-1).putInt(-1)
                    .putShort((short) name.length).putShort((short) 28).putShort((short) 0)
                    .putShort((short) 0).putShort((short) 0).putInt(0).putInt(-1).put(name)
                    .putShort((short) 1).putShort((short) 24)
                    .putLong(e.getValue().length).putLong(e.getValue().length).putLong(offsets.get(e.getKey()));
        }
        int cdEnd = b.position();
        b.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                .putLong(entries.size()).putLong(entries.size()).putLong(cdEnd - cd).putLong(cd);
        b.putInt(0x07064b50).putInt(0).putLong(cdEnd).putInt(1);
        b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) -1).putShort((short) -1)
                .putInt(-1).putInt(-1).putShort((short) 0);
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    /**
     * A sparse archive over 4 GB (ZIP64 local and central extras, storage entry of 4.4 GB): the
     * tensor at its end reads correctly; only the touched pages exist on disk.
     */
    @Test
    void archivesOver4GbAreReadThroughZip64() throws IOException {
        long bytes = 4_400_000_000L, numel = bytes / 4;
        byte[] pkl = PickleBuilder.stateDict(
                new T("tail", "FloatStorage", "0", numel, numel - 2, new long[]{2}, new long[]{1}),
                T.contiguous("whole", "FloatStorage", "0", numel));
        Path f = tmp.resolve("big.pth");
        java.nio.ByteOrder le = java.nio.ByteOrder.LITTLE_ENDIAN;
        try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            String[] names = {"a/data.pkl", "a/data/0"};
            long[] sizes = {pkl.length, bytes};
            long[] offsets = new long[2];
            long pos = 0;
            for (int i = 0; i < 2; i++) {
                byte[] name = names[i].getBytes(StandardCharsets.UTF_8);
                offsets[i] = pos;
                java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(30 + name.length + 20).order(le);
                h.putInt(0x04034b50).putShort((short) 45).putShort((short) 0).putShort((short) 0).putInt(0).putInt(0)
                        .putInt(-1).putInt(-1).putShort((short) name.length).putShort((short) 20).put(name)
                        .putShort((short) 1).putShort((short) 16).putLong(sizes[i]).putLong(sizes[i]).flip();
                pos += ch.write(h, pos);
                if (i == 0) pos += ch.write(java.nio.ByteBuffer.wrap(pkl), pos);
                else { ch.write(java.nio.ByteBuffer.wrap(PickleBuilder.floats(7, 8)), pos + bytes - 8); pos += bytes; }
            }
            long cd = pos;
            for (int i = 0; i < 2; i++) {
                byte[] name = names[i].getBytes(StandardCharsets.UTF_8);
                java.nio.ByteBuffer c = java.nio.ByteBuffer.allocate(46 + name.length + 28).order(le);
                c.putInt(0x02014b50).putShort((short) 45).putShort((short) 45).putShort((short) 0).putShort((short) 0).putInt(0).putInt(0)
                        .putInt(-1).putInt(-1).putShort((short) name.length).putShort((short) 28).putShort((short) 0)
                        .putShort((short) 0).putShort((short) 0).putInt(0).putInt(-1).put(name)
                        .putShort((short) 1).putShort((short) 24).putLong(sizes[i]).putLong(sizes[i]).putLong(offsets[i]).flip();
                pos += ch.write(c, pos);
            }
            java.nio.ByteBuffer e = java.nio.ByteBuffer.allocate(56 + 20 + 22).order(le);
            e.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                    .putLong(2).putLong(2).putLong(pos - cd).putLong(cd);
            e.putInt(0x07064b50).putInt(0).putLong(pos).putInt(1);
            e.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) 2).putShort((short) 2)
                    .putInt((int) (pos - cd)).putInt(-1).putShort((short) 0).flip();
            ch.write(e, pos);
        }
        try (WeightSource w = Checkpoints.open(f)) {
            assertArrayEquals(new float[]{7, 8}, w.get("tail").toFloatArray());
            assertArrayEquals(new long[]{numel}, w.get("whole").shape());
            assertEquals(8f, w.get("whole").getFloat(numel - 1));
            assertEquals(0f, w.get("whole").getFloat(numel / 2));
        }
    }
}
