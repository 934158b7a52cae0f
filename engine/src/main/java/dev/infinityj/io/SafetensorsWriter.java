package dev.infinityj.io;

import dev.infinityj.BadInputException;
import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.util.AtomicFiles;
import dev.infinityj.util.Json;

import java.io.IOException;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Writes the safetensors format: an 8-byte little-endian header length, a JSON header
 * ({@code __metadata__} first, then per tensor {@code dtype}, {@code shape}, {@code data_offsets}),
 * padded with spaces to a multiple of 8 bytes, then the tensors' bytes back to back in header
 * order, little-endian, row-major.
 * <p>
 * The header needs only names, dtypes and shapes, so the data is streamed: each item's tensor is
 * asked for ({@link Item#data()}) only when its turn comes and dropped afterwards, and files of
 * many GB never sit in memory. The write is atomic: everything goes to a hidden temporary file
 * in the target's folder, which is fsynced and renamed over the target only when complete; on
 * any failure the temporary file is deleted and the target is untouched ({@link AtomicFiles}).
 */
public final class SafetensorsWriter {
    private static final long CHUNK = 64L << 20;

    /** One tensor to write; {@code data} must produce a tensor of exactly this dtype and shape (any strides). */
    public record Item(String name, DType dtype, long[] shape, Supplier<Tensor> data) {
        public Item {
            shape = shape.clone();
        }

        public static Item of(String name, Tensor t) {
            return new Item(name, t.dtype(), t.shape(), () -> t);
        }

        long byteSize() { return Math.multiplyExact(Tensor.numel(shape), dtype.byteSize()); }
    }

    private SafetensorsWriter() {}

    /** Writes {@code tensors} (in map order) with {@code metadata} to {@code target}, atomically. */
    public static void write(Path target, Map<String, String> metadata, Map<String, Tensor> tensors) {
        List<Item> items = new ArrayList<>();
        tensors.forEach((k, t) -> items.add(Item.of(k, t)));
        write(target, metadata, items);
    }

    /** Writes {@code items} (in list order) with {@code metadata} to {@code target}, atomically ({@link AtomicFiles}). */
    public static void write(Path target, Map<String, String> metadata, List<Item> items) {
        byte[] header = header(metadata, items);
        AtomicFiles.write(target, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
                writeFully(ch, ByteBuffer.wrap(header));
                for (Item it : items) {
                    Tensor t = it.data().get();
                    if (t == null || t.dtype() != it.dtype() || !Arrays.equals(t.shape(), it.shape()))
                        throw new ShapeException(target + ": tensor '" + it.name() + "' was declared " + it.dtype() + Arrays.toString(it.shape())
                                + " but its data is " + (t == null ? "missing" : t.describe()));
                    MemorySegment seg = t.contiguous().segment();
                    for (long off = 0, n = seg.byteSize(); off < n; off += CHUNK)
                        writeFully(ch, seg.asSlice(off, Math.min(CHUNK, n - off)).asByteBuffer());
                }
            }
        });
    }

    /** The padded JSON header for {@code items}; validates names and sizes first. */
    static byte[] header(Map<String, String> metadata, List<Item> items) {
        Map<String, Object> h = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) h.put("__metadata__", new LinkedHashMap<>(metadata));
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Item it : items) {
            if (it.name() == null || it.name().isEmpty() || it.name().equals("__metadata__"))
                throw new BadInputException("safetensors: invalid tensor name '" + it.name() + "'");
            if (!seen.add(it.name())) throw new BadInputException("safetensors: duplicate tensor name '" + it.name() + "'");
            for (long d : it.shape()) if (d < 0) throw new ShapeException("safetensors: tensor '" + it.name() + "' has a negative dimension");
            long end = Math.addExact(offset, it.byteSize());
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("dtype", it.dtype().safetensorsName());
            e.put("shape", it.shape());
            e.put("data_offsets", new long[]{offset, end});
            h.put(it.name(), e);
            offset = end;
        }
        byte[] json = Json.write(h).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
