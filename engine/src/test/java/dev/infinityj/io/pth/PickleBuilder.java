package dev.infinityj.io.pth;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Hand-assembles pickles (opcode by opcode, as CPython's protocol 2 writes them for
 * {@code torch.save}) and zip archives in the torch layout, for tests: valid state dicts with
 * chosen offsets/strides, and hostile ones.
 */
final class PickleBuilder {
    final ByteArrayOutputStream b = new ByteArrayOutputStream();

    PickleBuilder op(int... ops) { for (int o : ops) b.write(o); return this; }

    PickleBuilder proto() { return op(0x80, 2); }

    PickleBuilder str(String s) {
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        op('X');
        b.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(u.length).array());
        b.writeBytes(u);
        return this;
    }

    PickleBuilder integer(long v) {
        if (v >= 0 && v < 256) return op('K', (int) v);
        if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            op('J');
            b.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
            return this;
        }
        op(0x8a, 8);
        b.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        return this;
    }

    PickleBuilder global(String module, String name) {
        op('c');
        b.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        return this;
    }

    PickleBuilder tuple(long... v) {
        op('(');
        for (long x : v) integer(x);
        return op('t');
    }

    /** Pushes a tensor: _rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()). */
    PickleBuilder tensor(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
        global("torch._utils", "_rebuild_tensor_v2");
        op('(');
        op('(').str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).op('t');
        op('Q');
        integer(offset).tuple(size).tuple(stride).op(0x89);
        global("collections", "OrderedDict").op(')', 'R');
        op('t', 'R');
        return this;
    }

    byte[] bytes() { return b.toByteArray(); }

    /** A tensor entry of a state dict to write. */
    record T(String key, String storageType, String storageKey, long numel, long offset, long[] size, long[] stride) {
        static T contiguous(String key, String storageType, String storageKey, long... size) {
            long n = 1;
            for (long s : size) n *= s;
            long[] st = new long[size.length];
            long s = 1;
            for (int i = size.length - 1; i >= 0; i--) { st[i] = s; s *= size[i]; }
            return new T(key, storageType, storageKey, n, 0, size, st);
        }
    }

    /** The pickle of {@code {k: tensor, ...}} (an OrderedDict like torch's state_dict()). */
    static byte[] stateDict(T... tensors) {
        PickleBuilder p = new PickleBuilder().proto();
        p.global("collections", "OrderedDict").op(')', 'R');
        p.op('(');
        for (T t : tensors) p.str(t.key).tensor(t.storageType, t.storageKey, t.numel, t.offset, t.size, t.stride);
        return p.op('u', '.').bytes();
    }

    /** Writes a torch-style zip: {@code top/data.pkl}, {@code top/data/<key>}, {@code top/version}, extras as given. */
    static void writeZip(Path file, String top, byte[] pickle, Map<String, byte[]> storages, Map<String, byte[]> extra) throws IOException {
        Map<String, byte[]> all = new LinkedHashMap<>();
        all.put(top + "/data.pkl", pickle);
        storages.forEach((k, v) -> all.put(top + "/data/" + k, v));
        all.put(top + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        all.putAll(extra);
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream z = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> e : all.entrySet()) storedEntry(z, e.getKey(), e.getValue());
        }
    }

    static void storedEntry(ZipOutputStream z, String name, byte[] data) throws IOException {
        ZipEntry ze = new ZipEntry(name);
        ze.setMethod(ZipEntry.STORED);
        ze.setSize(data.length);
        ze.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        ze.setCrc(crc.getValue());
        z.putNextEntry(ze);
        z.write(data);
        z.closeEntry();
    }

    static byte[] floats(float... v) {
        ByteBuffer bb = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) bb.putFloat(f);
        return bb.array();
    }

    static byte[] longs(long... v) {
        ByteBuffer bb = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long f : v) bb.putLong(f);
        return bb.array();
    }
}
