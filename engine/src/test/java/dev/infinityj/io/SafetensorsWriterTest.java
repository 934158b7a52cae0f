package dev.infinityj.io;

import dev.infinityj.ShapeException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.BadInputException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** SafetensorsWriter round trips through SafetensorsFile; hostile safetensors files are refused. */
class SafetensorsWriterTest {
    @TempDir Path tmp;

    private static Tensor random(DType dt, Random r, long... shape) {
        Tensor t = Tensor.allocate(dt, shape);
        MemorySegment s = t.storage();
        for (long i = 0; i < t.numel() * dt.byteSize(); i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        if (dt == DType.BOOL) for (long i = 0; i < t.numel(); i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) (r.nextInt() & 1));
        return t;
    }

    private static byte[] bytes(Tensor t) { return t.contiguous().segment().toArray(ValueLayout.JAVA_BYTE); }

    @Test
    void roundTripsEveryDtypeScalarsEmptyAndStridedTensors() {
        Random r = new Random(42);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("f32", random(DType.F32, r, 7, 97));
        in.put("bf16", random(DType.BF16, r, 3, 5));
        in.put("f16", random(DType.F16, r, 257));
        in.put("f64", random(DType.F64, r, 2, 1, 3));
        in.put("i64", random(DType.I64, r, 9));
        in.put("i32", random(DType.I32, r, 4, 4));
        in.put("u8", random(DType.U8, r, 13));
        in.put("bool", random(DType.BOOL, r, 5));
        in.put("scalar", random(DType.F32, r));
        in.put("empty", Tensor.allocate(DType.F32, 0, 4));
        in.put("transposed", random(DType.F32, r, 5, 3).transpose(0, 1));
        Path f = tmp.resolve("rt.safetensors");
        SafetensorsWriter.write(f, Map.of("format", "pt", "note", "ünïcode \"quoted\""), in);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertEquals(List.copyOf(in.keySet()), List.copyOf(sf.keys()));
            assertEquals("ünïcode \"quoted\"", sf.metadata().get("note"));
            for (var e : in.entrySet()) {
                Tensor got = sf.get(e.getKey());
                assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
                assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
                assertArrayEquals(bytes(e.getValue()), bytes(got), e.getKey());
            }
            // transposed input is stored row-major in its logical order
            Tensor t = in.get("transposed");
            assertEquals(t.getFloat(2, 4), sf.get("transposed").getFloat(2, 4));
        }
        ByteBuffer head;
        try { head = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN); } catch (IOException e) { throw new RuntimeException(e); }
        long n = head.getLong(0);
        assertEquals(0, n % 8, "header padded to 8 bytes");
        String header = new String(head.array(), 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.stripTrailing().endsWith("}") && header.length() - header.stripTrailing().length() < 8, header);
        assertEquals(List.of("rt.safetensors"), listDir());
    }

    private List<String> listDir() {
        try (var s = Files.list(tmp)) { return s.map(p -> p.getFileName().toString()).sorted().toList(); }
        catch (IOException e) { throw new RuntimeException(e); }
    }

    @Test
    void failureMidStreamLeavesNoFileAndKeepsTheOldTarget() throws IOException {
        Path f = tmp.resolve("out.safetensors");
        Files.writeString(f, "old content");
        Tensor ok = Tensor.ofFloats(new float[]{1, 2}, 2);
        List<SafetensorsWriter.Item> items = List.of(
                SafetensorsWriter.Item.of("a", ok),
                new SafetensorsWriter.Item("b", DType.F32, new long[]{2}, () -> { throw new IllegalStateException("source vanished"); }));
        assertThrows(IllegalStateException.class, () -> SafetensorsWriter.write(f, Map.of(), items));
        assertEquals("old content", Files.readString(f));
        assertEquals(List.of("out.safetensors"), listDir());
        // data that does not match its declaration
        List<SafetensorsWriter.Item> lying = List.of(new SafetensorsWriter.Item("a", DType.F32, new long[]{3}, () -> ok));
        Path g = tmp.resolve("new.safetensors");
        ShapeException e = assertThrows(ShapeException.class, () -> SafetensorsWriter.write(g, Map.of(), lying));
        assertTrue(e.getMessage().contains("'a' was declared F32[3]"), e.getMessage());
        assertEquals(List.of("out.safetensors"), listDir());
        assertThrows(BadInputException.class, () -> SafetensorsWriter.write(tmp, Map.of(), Map.of("a", ok)));
        assertThrows(BadInputException.class, () -> SafetensorsWriter.write(tmp.resolve("no/such/dir.safetensors"), Map.of(), Map.of("a", ok)));
    }

    // ------------------------------------------------------------------ hostile safetensors

    private Path raw(String name, String header, int dataBytes, long claimedLength) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(claimedLength < 0 ? h.length : claimedLength).put(h);
        Path f = tmp.resolve(name);
        Files.write(f, b.array());
        return f;
    }

    private static String refusedMessage(Path f) {
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> { try (var w = Checkpoints.open(f)) { w.keys(); } });
        assertFalse(e.getMessage().contains("\n"));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void hostileSafetensorsAreRefused() throws IOException {
        String two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        assertTrue(refusedMessage(raw("overlap.safetensors", two, 12, -1)).contains("overlap"));
        String out = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        assertTrue(refusedMessage(raw("range.safetensors", out, 8, -1)).contains("outside the data section"));
        String neg = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}";
        assertTrue(refusedMessage(raw("neg.safetensors", neg, 8, -1)).contains("outside the data section"));
        String dt = "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        assertTrue(refusedMessage(raw("dtype.safetensors", dt, 4, -1)).contains("unknown dtype 'Q4'"));
        String mism = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
        assertTrue(refusedMessage(raw("mismatch.safetensors", mism, 8, -1)).contains("needs 12"));
        assertTrue(refusedMessage(raw("hlen.safetensors", out, 16, 1000)).contains("exceeds the file size"));
        assertTrue(refusedMessage(raw("json.safetensors", "{\"a\":", 0, -1)).contains("invalid JSON"));
        // a valid file cut short
        Path good = tmp.resolve("good.safetensors");
        SafetensorsWriter.write(good, Map.of(), Map.of("w", Tensor.ofFloats(new float[]{1, 2, 3, 4}, 4)));
        byte[] all = Files.readAllBytes(good);
        Path cut = tmp.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 3));
        assertTrue(refusedMessage(cut).contains("truncated"));
        Path tiny = tmp.resolve("tiny.safetensors");
        Files.write(tiny, new byte[]{1, 2, 3});
        assertTrue(refusedMessage(tiny).contains("truncated"));
        Path empty = Files.createFile(tmp.resolve("empty.safetensors"));
        assertTrue(refusedMessage(empty).contains("0 bytes"));
        Path dir = Files.createDirectory(tmp.resolve("d.safetensors"));
        BadInputException d = assertThrows(BadInputException.class, () -> SafetensorsFile.open(dir));
        assertTrue(d.getMessage().contains("is a directory"));
    }

    @Test
    void shardIndexesThatLieAreRefused() throws IOException {
        SafetensorsWriter.write(tmp.resolve("s1.safetensors"), Map.of(), Map.of("a", Tensor.ofFloats(new float[]{1}, 1)));
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}");
        assertTrue(refusedMessage(tmp).contains("'b' is listed in shard 's1.safetensors'"));
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"a\":\"s2.safetensors\"}}");
        assertTrue(refusedMessage(tmp).contains("does not exist"));
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"a\":\"../s1.safetensors\"}}");
        assertTrue(refusedMessage(tmp).contains("refused shard name"));
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\":{}}");
        try (WeightSource w = Checkpoints.open(tmp)) { assertTrue(w.keys().isEmpty()); }
    }
}
