package dev.infinityj.text;

import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Finds the weights of a Hugging Face T5 folder: {@code model.safetensors}, or the sharded
 * {@code model-0000N-of-0000M.safetensors} set named by {@code model.safetensors.index.json}
 * (google/flan-t5-xl's layout). {@code pytorch_model*.bin} needs the .pth reader
 * ({@code dev.infinityj.io.Checkpoints}, the io work); until it is on this branch such folders
 * get a clear error. Interim home: once {@code Checkpoints.open} lands this class delegates to it.
 */
final class T5Files {
    private T5Files() {}

    static WeightSource open(Path dir) {
        if (!Files.isDirectory(dir)) throw new BadInputException(dir + ": not a folder (expected a Hugging Face T5 folder with config.json and weights)");
        Path single = dir.resolve("model.safetensors");
        if (Files.isRegularFile(single)) return SafetensorsFile.open(single);
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index)) return Sharded.open(index);
        if (Files.isRegularFile(dir.resolve("pytorch_model.bin")) || Files.isRegularFile(dir.resolve("pytorch_model.bin.index.json")))
            throw new BadInputException(dir + ": pytorch_model*.bin weights are not readable yet on this build; convert them to safetensors "
                    + "(or use a folder with model.safetensors / model.safetensors.index.json)");
        throw new BadInputException(dir + ": no T5 weights found (expected model.safetensors or model.safetensors.index.json)");
    }

    /** A sharded safetensors set: the index's weight_map sends each key to its shard. */
    static final class Sharded implements WeightSource {
        private final Path index;
        private final Map<String, SafetensorsFile> byKey = new LinkedHashMap<>();
        private final Map<String, SafetensorsFile> shards = new LinkedHashMap<>();

        private Sharded(Path index) { this.index = index; }

        static Sharded open(Path index) {
            String text;
            try { text = Files.readString(index); }
            catch (IOException e) { throw new BadInputException(index + ": cannot read: " + e.getMessage(), e); }
            Map<String, Object> j = Json.parseObject(text, index.toString());
            if (!(j.get("weight_map") instanceof Map<?, ?> wm) || wm.isEmpty())
                throw new WeightFormatException(index + ": no \"weight_map\" object (expected {\"weight_map\": {key: shard file}})");
            Sharded s = new Sharded(index);
            try {
                for (Map.Entry<?, ?> e : wm.entrySet()) {
                    String key = String.valueOf(e.getKey()), file = String.valueOf(e.getValue());
                    Path shard = index.resolveSibling(file).normalize();
                    if (file.contains("/") || file.contains("\\") || !shard.getParent().equals(index.getParent().normalize()))
                        throw new WeightFormatException(index + ": shard '" + file + "' for '" + key + "' must be a file name in the same folder");
                    SafetensorsFile f = s.shards.computeIfAbsent(file, x -> SafetensorsFile.open(shard));
                    if (!f.contains(key))
                        throw new WeightFormatException(index + ": weight_map sends '" + key + "' to " + file + ", which does not hold it");
                    s.byKey.put(key, f);
                }
            } catch (RuntimeException ex) {
                s.close();
                throw ex;
            }
            return s;
        }

        @Override public Set<String> keys() { return new LinkedHashSet<>(byKey.keySet()); }
        @Override public boolean contains(String key) { return byKey.containsKey(key); }

        @Override
        public Tensor get(String key) {
            SafetensorsFile f = byKey.get(key);
            if (f == null) throw new WeightFormatException(index + ": no tensor named '" + key + "' in the weight_map");
            return f.get(key);
        }

        @Override public String describe() { return index.toString(); }

        @Override public void close() { shards.values().forEach(SafetensorsFile::close); }
    }
}
