package dev.infinityj.io;

import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face sharded safetensors set: {@code model.safetensors.index.json} with a
 * {@code weight_map} (key → shard file name, relative to the index's folder). Every shard is
 * opened (mmapped) up front and the index is validated: every shard exists and stays inside the
 * folder, every listed key is in its shard, and no shard holds tensors the index does not list.
 */
public final class ShardedSafetensors implements WeightSource {
    public static final String INDEX_NAME = "model.safetensors.index.json";

    private final Path index;
    private final Map<String, SafetensorsFile> byKey;
    private final List<SafetensorsFile> shards;

    private ShardedSafetensors(Path index, Map<String, SafetensorsFile> byKey, List<SafetensorsFile> shards) {
        this.index = index;
        this.byKey = byKey;
        this.shards = shards;
    }

    /** Opens a set from its index file, or from a directory holding {@value #INDEX_NAME} (or one other *.safetensors.index.json). */
    public static ShardedSafetensors open(Path indexOrDir) {
        Path index = findIndex(indexOrDir);
        String where = index.toString();
        String text;
        try { text = Files.readString(index); }
        catch (IOException e) { throw new BadInputException(where + ": cannot read: " + e.getMessage(), e); }
        Map<String, Object> root;
        try { root = Json.parseObject(text, where); }
        catch (BadInputException e) { throw new WeightFormatException(e.getMessage(), e); }
        if (!(root.get("weight_map") instanceof Map<?, ?> wm))
            throw new WeightFormatException(where + ": no \"weight_map\" object (expected a Hugging Face sharded safetensors index)");
        Path dir = index.toAbsolutePath().getParent();
        Map<String, SafetensorsFile> files = new LinkedHashMap<>();
        Map<String, SafetensorsFile> byKey = new LinkedHashMap<>();
        try {
            for (Map.Entry<?, ?> e : wm.entrySet()) {
                String key = (String) e.getKey();
                if (!(e.getValue() instanceof String file))
                    throw new WeightFormatException(where + ": weight_map entry '" + key + "' is not a file name");
                SafetensorsFile shard = files.get(file);
                if (shard == null) {
                    if (!file.endsWith(".safetensors"))
                        throw new WeightFormatException(where + ": shard '" + file + "' is not a .safetensors file (only safetensors shard sets are supported)");
                    Path p = dir.resolve(file).normalize();
                    if (!p.getParent().equals(dir.normalize()))
                        throw new WeightFormatException(where + ": refused shard name '" + file + "' (must be a file in the index's folder)");
                    if (!Files.isRegularFile(p))
                        throw new WeightFormatException(where + ": shard '" + file + "' listed for '" + key + "' does not exist");
                    shard = SafetensorsFile.open(p);
                    files.put(file, shard);
                }
                if (!shard.contains(key))
                    throw new WeightFormatException(where + ": key '" + key + "' is listed in shard '" + file + "' but that shard does not hold it");
                byKey.put(key, shard);
            }
            for (Map.Entry<String, SafetensorsFile> f : files.entrySet())
                for (String k : f.getValue().keys())
                    if (byKey.get(k) != f.getValue() && !k.equals("__metadata__"))
                        throw new WeightFormatException(where + ": shard '" + f.getKey() + "' holds '" + k + "', which the weight_map "
                                + (byKey.containsKey(k) ? "assigns to another shard" : "does not list"));
        } catch (RuntimeException e) {
            files.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new ShardedSafetensors(index, Collections.unmodifiableMap(byKey), List.copyOf(files.values()));
    }

    static Path findIndex(Path p) {
        if (!Files.exists(p)) throw new BadInputException(p + ": not found (expected a sharded safetensors index or its folder)");
        if (!Files.isDirectory(p)) return p;
        Path std = p.resolve(INDEX_NAME);
        if (Files.isRegularFile(std)) return std;
        List<Path> found = new ArrayList<>();
        try (var s = Files.list(p)) {
            s.filter(x -> x.getFileName().toString().endsWith(".safetensors.index.json")).forEach(found::add);
        } catch (IOException e) { throw new BadInputException(p + ": cannot list: " + e.getMessage(), e); }
        if (found.size() == 1) return found.get(0);
        throw new BadInputException(p + ": directory without " + (found.isEmpty() ? "a *.safetensors.index.json" : "a single index (found " + found.size() + ")"));
    }

    public Path index() { return index; }

    public List<SafetensorsFile> shards() { return shards; }

    @Override public Set<String> keys() { return byKey.keySet(); }

    @Override public boolean contains(String key) { return byKey.containsKey(key); }

    @Override
    public Tensor get(String key) {
        SafetensorsFile f = byKey.get(key);
        if (f == null) throw new WeightFormatException(index + ": no tensor named '" + key + "'");
        return f.get(key);
    }

    @Override
    public boolean isPackedLinear(String key) {
        SafetensorsFile f = byKey.get(key);
        return f != null && f.isPackedLinear(key);
    }

    @Override public String describe() { return index.toString(); }

    @Override public void close() { shards.forEach(SafetensorsFile::close); }
}
