package dev.infinityj.io;

import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.util.Json;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A safetensors file, memory-mapped read-only with {@code FileChannel.map(..., Arena)}: tensors are
 * zero-copy views into the mapping, valid until {@link #close()}. The header is validated in full
 * before any tensor is handed out: every range inside the data section, sizes equal to
 * dtype × shape, no two tensors overlapping, and a declared packed layout consistent with the
 * tensors it names ({@link PackedLayout}).
 */
public final class SafetensorsFile implements WeightSource {
    /** Headers larger than this are refused (the format's reference implementation uses 100 MB). */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final Set<String> packed;

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, long dataStart,
                            Map<String, Entry> entries, Map<String, String> metadata, Set<String> packed) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
        this.packed = packed;
    }

    public static SafetensorsFile open(Path path) {
        if (!Files.exists(path)) throw new BadInputException(path + ": file not found (expected a .safetensors file)");
        if (Files.isDirectory(path)) throw new BadInputException(path + ": is a directory, expected a .safetensors file");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new WeightFormatException(path + ": truncated safetensors file (" + size + " bytes; expected at least an 8-byte header length)");
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = map.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES)
                throw new WeightFormatException(path + ": safetensors header length " + headerLen + " is out of range (expected 2.." + MAX_HEADER_BYTES + ")");
            if (8 + headerLen > size)
                throw new WeightFormatException(path + ": safetensors header length " + headerLen + " exceeds the file size " + size + " (truncated file?)");
            byte[] hb = map.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
            String header = new String(hb, StandardCharsets.UTF_8);
            long dataStart = 8 + headerLen;
            Map<String, String> meta = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(header, path.toString(), size - dataStart, meta);
            Set<String> packed = PackedLayout.read(path.toString(), meta, entries);
            return new SafetensorsFile(path, arena, map, dataStart, entries, meta, packed);
        } catch (IOException e) {
            arena.close();
            throw new BadInputException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Entry> parseHeader(String header, String where, long dataSize, Map<String, String> metaOut) {
        Map<String, Object> h;
        try {
            h = Json.parseObject(header.stripTrailing(), where + " (safetensors header)");
        } catch (BadInputException e) {
            throw new WeightFormatException(e.getMessage(), e);
        }
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : h.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m))
                    throw new WeightFormatException(where + ": __metadata__ must be an object of strings");
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String)) throw new WeightFormatException(where + ": __metadata__ value for '" + me.getKey() + "' is not a string");
                    metaOut.put((String) me.getKey(), (String) me.getValue());
                }
                continue;
            }
            if (!(e.getValue() instanceof Map<?, ?> raw))
                throw new WeightFormatException(where + ": tensor '" + name + "' header entry is not an object");
            Map<String, Object> t = (Map<String, Object>) raw;
            if (!(t.get("dtype") instanceof String ds)) throw new WeightFormatException(where + ": tensor '" + name + "' has no dtype");
            DType dtype = DType.fromSafetensors(ds, where + ": tensor '" + name + "'");
            if (!(t.get("shape") instanceof List<?> sl)) throw new WeightFormatException(where + ": tensor '" + name + "' has no shape list");
            long[] shape = new long[sl.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!(sl.get(i) instanceof Long d) || d < 0) throw new WeightFormatException(where + ": tensor '" + name + "' has a bad dimension " + sl.get(i));
                shape[i] = d;
            }
            if (!(t.get("data_offsets") instanceof List<?> ol) || ol.size() != 2
                    || !(ol.get(0) instanceof Long b) || !(ol.get(1) instanceof Long en))
                throw new WeightFormatException(where + ": tensor '" + name + "' needs data_offsets [begin, end]");
            if (b < 0 || en < b || en > dataSize)
                throw new WeightFormatException(where + ": tensor '" + name + "' data_offsets [" + b + ", " + en + "] lie outside the data section of " + dataSize + " bytes (truncated file?)");
            long expected;
            try { expected = Math.multiplyExact(Tensor.numel(shape), dtype.byteSize()); }
            catch (ArithmeticException ex) { throw new WeightFormatException(where + ": tensor '" + name + "' shape overflows"); }
            if (en - b != expected)
                throw new WeightFormatException(where + ": tensor '" + name + "' holds " + (en - b) + " bytes but " + dtype + java.util.Arrays.toString(shape) + " needs " + expected);
            out.put(name, new Entry(name, dtype, shape, b, en));
        }
        List<Entry> sorted = new ArrayList<>(out.values());
        sorted.sort((x, y) -> Long.compare(x.begin, y.begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry p = sorted.get(i - 1), c = sorted.get(i);
            if (c.begin < p.end && c.end > c.begin && p.end > p.begin)
                throw new WeightFormatException(where + ": tensors '" + p.name + "' and '" + c.name + "' overlap in the data section");
        }
        return Collections.unmodifiableMap(out);
    }

    public Path path() { return path; }

    public Map<String, String> metadata() { return metadata; }

    public Map<String, Entry> entries() { return entries; }

    @Override
    public Set<String> keys() { return entries.keySet(); }

    @Override
    public boolean contains(String key) { return entries.containsKey(key); }

    @Override
    public boolean isPackedLinear(String key) { return packed.contains(key); }

    /** The layout the metadata declares ({@link PackedLayout}: plain, or linear-panel16-v1). */
    public String layout() { return packed.isEmpty() ? PackedLayout.PLAIN : PackedLayout.layoutOf(metadata); }

    /** The keys stored packed, in the order the metadata lists them. */
    public Set<String> packedKeys() { return packed; }

    @Override
    public Tensor get(String key) {
        Entry e = entries.get(key);
        if (e == null) throw new WeightFormatException(path + ": no tensor named '" + key + "'");
        MemorySegment seg = mapping.asSlice(dataStart + e.begin, e.end - e.begin);
        return Tensor.of(e.dtype, seg, e.shape);
    }

    /** The raw bytes of a tensor (zero-copy slice of the mapping). */
    public MemorySegment bytes(String key) {
        Entry e = entries.get(key);
        if (e == null) throw new WeightFormatException(path + ": no tensor named '" + key + "'");
        return mapping.asSlice(dataStart + e.begin, e.end - e.begin);
    }

    @Override
    public String describe() { return path.toString(); }

    /** Unmaps the file; tensors obtained from it must not be used afterwards. */
    @Override
    public void close() { if (arena.scope().isAlive()) arena.close(); }
}
