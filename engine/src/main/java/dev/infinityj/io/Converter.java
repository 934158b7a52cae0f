package dev.infinityj.io;

import dev.infinityj.BadInputException;
import dev.infinityj.cpu.CpuThreads;
import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.io.pth.PthFile;
import dev.infinityj.model.InfinityWeights;
import dev.infinityj.text.T5Encoder;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.util.Checksums;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Converts any checkpoint {@link Checkpoints#open} reads into a safetensors file in infinityj's
 * native layout (docs/weights.md): the checkpoint's own key names with wrapper prefixes stripped,
 * floating tensors cast to the chosen precision (bf16 by default, round-to-nearest-even), integer
 * and bool buffers kept as they are, no fusion. With {@link Layout#PACKED} (the default of
 * {@code infinityj convert}) an Infinity transformer's Linear weights whose rows are a multiple of
 * 16 are stored in the CPU GEMM's panel order ({@link PackedLinear}, declared in the metadata by
 * {@link PackedLayout}), so loading them is zero-copy; everything else keeps its PyTorch shape.
 * The metadata records where the file came from. The output appears atomically or not at all.
 */
public final class Converter {
    /** Bumped whenever the native layout or the metadata changes (2: the packed Linear layout). */
    public static final String VERSION = "infinityj-convert/2";

    /** How Linear weights are stored. */
    public enum Layout {
        /** An Infinity transformer's and a T5 encoder's Linear weights packed ({@link PackedLayout#PANEL16_V1}) where their rows allow. */
        PACKED("packed"),
        /** Every tensor in its PyTorch shape ([out, in] for Linear weights). */
        PLAIN("plain");

        private final String label;

        Layout(String label) { this.label = label; }

        public String label() { return label; }

        public static Layout parse(String s) {
            for (Layout l : values()) if (l.label.equalsIgnoreCase(s)) return l;
            throw new BadInputException("--layout '" + s + "' is not one of packed, plain");
        }
    }

    /** Target precision of floating tensors. */
    public enum Precision {
        BF16("bf16"), F32("f32"), KEEP("keep");

        private final String label;

        Precision(String label) { this.label = label; }

        public String label() { return label; }

        public static Precision parse(String s) {
            for (Precision p : values()) if (p.label.equalsIgnoreCase(s)) return p;
            throw new BadInputException("--dtype '" + s + "' is not one of bf16, f32, keep");
        }

        DType target(DType source) {
            if (!source.isFloating() || this == KEEP) return source;
            return this == BF16 ? DType.BF16 : DType.F32;
        }
    }

    /** What was written. */
    public record Result(Path output, int tensors, long dataBytes, ModelKind kind, List<String> skipped,
                         Map<String, String> metadata, int packed) {}

    private Converter() {}

    /**
     * @param keyPath for PyTorch archives, the key path of the state dict (null = automatic)
     */
    public static Result convert(Path input, String keyPath, Path output, Precision precision, Layout layout) {
        if (output == null) throw new BadInputException("convert: no output file given (--out)");
        if (Files.isDirectory(output)) throw new BadInputException(output + ": is a directory, expected an output .safetensors file name");
        try (WeightSource src = Checkpoints.open(input, keyPath)) {
            if (Files.exists(output) && Files.isSameFile(input, output))
                throw new BadInputException(output + ": the output would overwrite the input");
            if (src.keys().isEmpty()) throw new BadInputException(input + ": holds no tensors; nothing to convert");
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("source", input.getFileName() == null ? input.toString() : input.getFileName().toString());
            meta.put("source_sha256", Checksums.sha256(identifyingFile(input, src)));
            if (keyPath != null) meta.put("source_key_path", keyPath);
            return write(src, output, precision, layout, meta, k -> true);
        } catch (IOException e) {
            throw new BadInputException(input + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes the tensors of {@code src} whose key {@code keep} accepts to {@code output} in the native
     * layout, atomically. {@code sourceMetadata} (source, source_sha256, ...) is recorded after
     * {@code format} and before {@code dtype}, {@code converter}, {@code model_kind} and the
     * layout entries ({@link PackedLayout}). A source that is itself a packed file is read through
     * its metadata, so converting a converted file again gives the layout asked for.
     */
    public static Result write(WeightSource src, Path output, Precision precision, Layout layout, Map<String, String> sourceMetadata,
                               Predicate<String> keep) {
        List<String> keys = src.keys().stream().filter(keep).toList();
        if (keys.isEmpty()) throw new BadInputException(src.describe() + ": holds no tensors to convert");
        ModelKind kind = ModelKind.detect(new LinkedHashSet<>(keys));
        // the transformer and the T5 encoder: each loader names its Linear weights (the VAE stays plain)
        Predicate<String> linear = layout != Layout.PACKED ? k -> false
                : kind == ModelKind.INFINITY_TRANSFORMER ? InfinityWeights::isLinearWeight
                : kind == ModelKind.T5_ENCODER ? T5Encoder::isLinearWeight
                : k -> false;
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        List<String> packedKeys = new ArrayList<>();
        long bytes = 0;
        for (String k : keys) {
            Tensor t = src.get(k);
            boolean srcPacked = src.isPackedLinear(k);
            long[] shape = src.logicalShape(k);
            DType to = precision.target(t.dtype());
            SafetensorsWriter.Item it;
            if (linear.test(k) && PackedLinear.packable(to, shape)) {
                packedKeys.add(k);
                it = new SafetensorsWriter.Item(k, to, PackedLinear.packedShape(shape),
                        () -> srcPacked ? cast(t, to) : PackedLinear.pack(CpuThreads.shared(), cast(t, to)));
            } else {
                it = new SafetensorsWriter.Item(k, to, shape, () -> cast(srcPacked ? PackedLinear.unpack(t) : t, to));
            }
            bytes += it.byteSize();
            items.add(it);
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.putAll(sourceMetadata);
        meta.put("dtype", precision.label());
        meta.put("converter", VERSION);
        meta.put("model_kind", kind.label());
        meta.putAll(PackedLayout.metadata(packedKeys));
        SafetensorsWriter.write(output, meta, items);
        return new Result(output, items.size(), bytes, kind, skipped(src), meta, packedKeys.size());
    }

    /** {@code t} in dtype {@code to}: itself when nothing changes; a tight loop for the common contiguous F32 → BF16 case. */
    static Tensor cast(Tensor t, DType to) {
        if (to == t.dtype()) return t;
        if (t.dtype() != DType.F32 || to != DType.BF16 || !t.isContiguous()) return t.to(to);
        Tensor out = Tensor.allocate(DType.BF16, t.shape());
        MemorySegment src = t.segment(), dst = out.storage();
        for (long i = 0, n = t.numel(); i < n; i++)
            dst.setAtIndex(Tensor.I16_LE, i, DType.f32ToBf16(src.getAtIndex(Tensor.F32_LE, i)));
        return out;
    }

    /** Keys of a PyTorch state dict whose values were not tensors (empty for other formats). */
    public static List<String> skipped(WeightSource src) {
        WeightSource s = src instanceof WeightNames.Renamed r ? r.inner() : src;
        return s instanceof PthFile.StateDict sd ? sd.skipped() : List.of();
    }

    /** The file whose hash identifies the source: the index of a sharded set, else the file itself. */
    public static Path identifyingFile(Path input, WeightSource src) {
        WeightSource s = src instanceof WeightNames.Renamed r ? r.inner() : src;
        if (s instanceof ShardedSafetensors sh) return sh.index();
        if (s instanceof SafetensorsFile f) return f.path();
        return input;
    }

}
