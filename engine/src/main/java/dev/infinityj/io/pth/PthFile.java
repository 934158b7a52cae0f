package dev.infinityj.io.pth;

import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * A PyTorch {@code torch.save} zip archive ({@code <top>/data.pkl}, {@code <top>/data/<key>},
 * {@code <top>/version}, optionally {@code <top>/byteorder}; any top folder name), memory-mapped.
 * The pickle is read by {@link RestrictedUnpickler}: nothing is executed. Tensors are zero-copy
 * strided views into the mapping and stay valid until {@link #close()}.
 * <p>
 * The unpickled root is navigable by key path: {@code stateDict("vae")} is the dict stored under
 * key {@code 'vae'}; path segments are separated by {@code /} (or {@code .} where no key contains
 * the dotted name), and list elements are addressed by index.
 */
public final class PthFile implements AutoCloseable {
    private final Path path;
    private final Arena arena;
    private final Object root;
    private final String prefix;

    private PthFile(Path path, Arena arena, Object root, String prefix) {
        this.path = path;
        this.arena = arena;
        this.root = root;
        this.prefix = prefix;
    }

    public static PthFile open(Path path) {
        if (!Files.exists(path)) throw new BadInputException(path + ": file not found (expected a PyTorch .pth/.pt/.bin checkpoint)");
        if (Files.isDirectory(path)) throw new BadInputException(path + ": is a directory, expected a PyTorch .pth/.pt/.bin checkpoint file");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) throw new WeightFormatException(path + ": empty file (expected a PyTorch zip archive)");
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            String where = path.toString();
            ZipArchive zip = ZipArchive.open(where, map);
            String pkl = null;
            for (String name : zip.entries().keySet()) {
                if (name.equals("data.pkl") || (name.endsWith("/data.pkl") && name.indexOf('/') == name.length() - "/data.pkl".length())) {
                    if (pkl != null) throw new WeightFormatException(where + ": two pickles in one archive ('" + pkl + "' and '" + name + "')");
                    pkl = name;
                }
            }
            if (pkl == null) throw new WeightFormatException(where + ": zip archive without <top>/data.pkl (not a torch.save checkpoint)");
            String prefix = pkl.substring(0, pkl.length() - "data.pkl".length());
            ZipArchive.Entry bo = zip.entry(prefix + "byteorder");
            if (bo != null) {
                String order = new String(zip.stored(bo).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).strip();
                if (!order.equals("little"))
                    throw new WeightFormatException(where + ": byteorder '" + order + "' is not supported (only little-endian checkpoints; re-save on a little-endian machine)");
            }
            Object root = RestrictedUnpickler.load(where + " (" + pkl + ")", zip.stored(zip.entry(pkl)), key -> {
                ZipArchive.Entry e = zip.entry(prefix + "data/" + key);
                if (e == null) throw new WeightFormatException(where + ": storage '" + key + "' has no archive entry " + prefix + "data/" + key);
                return zip.stored(e);
            });
            return new PthFile(path, arena, root, prefix);
        } catch (IOException e) {
            arena.close();
            throw new BadInputException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() { return path; }

    /** The archive's top folder name (e.g. {@code "model"} or {@code "archive"}). */
    public String topFolder() { return prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1); }

    /** The unpickled root: a Map, List, {@link Tensor} or scalar. */
    public Object root() { return root; }

    /** The value at {@code keyPath} ("" = root), or throws naming the missing segment and the available keys. */
    public Object at(String keyPath) {
        Object cur = root;
        String rest = keyPath == null ? "" : keyPath;
        String done = "";
        while (!rest.isEmpty()) {
            String seg;
            if (cur instanceof Map<?, ?> m) {
                seg = matchKey(m.keySet(), rest);
                if (seg == null) throw new BadInputException(path + ": no key '" + firstSegment(rest) + "' at "
                        + (done.isEmpty() ? "the root" : "'" + done + "'") + " (keys: " + preview(m.keySet()) + ")");
                cur = m.get(seg);
            } else if (cur instanceof List<?> || cur instanceof RestrictedUnpickler.PyTuple) {
                List<?> l = cur instanceof List<?> ll ? ll : ((RestrictedUnpickler.PyTuple) cur).items();
                seg = firstSegment(rest);
                int i;
                try { i = Integer.parseInt(seg); } catch (NumberFormatException e) { i = -1; }
                if (i < 0 || i >= l.size()) throw new BadInputException(path + ": '" + seg + "' is not an index of the list at '" + done + "' (size " + l.size() + ")");
                cur = l.get(i);
            } else {
                throw new BadInputException(path + ": cannot descend into '" + firstSegment(rest) + "': '" + done + "' is not a dict or list");
            }
            done = done.isEmpty() ? seg : done + "/" + seg;
            rest = rest.substring(Math.min(rest.length(), seg.length() + 1));
        }
        return cur;
    }

    /** Longest key that equals {@code rest} or is followed in it by '/' or '.'. */
    private static String matchKey(Set<?> keys, String rest) {
        String best = null;
        for (Object k : keys) {
            String s = String.valueOf(k);
            if (rest.equals(s) || (rest.startsWith(s) && (rest.charAt(s.length()) == '/' || rest.charAt(s.length()) == '.')))
                if (best == null || s.length() > best.length()) best = s;
        }
        return best;
    }

    private static String firstSegment(String rest) {
        int i = rest.indexOf('/');
        return i < 0 ? rest : rest.substring(0, i);
    }

    static String preview(Set<?> keys) {
        List<String> l = new ArrayList<>();
        for (Object k : keys) { if (l.size() == 8) { l.add("..."); break; } l.add(String.valueOf(k)); }
        return l.isEmpty() ? "none" : String.join(", ", l);
    }

    /** The dict at {@code keyPath} as a WeightSource over its tensor values; other values are listed as skipped. */
    public StateDict stateDict(String keyPath) {
        Object v = at(keyPath);
        if (!(v instanceof Map<?, ?> m))
            throw new BadInputException(path + ": '" + (keyPath == null ? "" : keyPath) + "' is not a dict of tensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        List<String> skipped = new ArrayList<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String k = String.valueOf(e.getKey());
            if (e.getValue() instanceof Tensor t && e.getKey() instanceof String) tensors.put(k, t);
            else skipped.add(k);
        }
        String desc = path + (keyPath == null || keyPath.isEmpty() ? "" : " [" + keyPath + "]");
        return new StateDict(desc, Collections.unmodifiableMap(tensors), Collections.unmodifiableList(skipped), this);
    }

    /** Unmaps the file; tensors obtained from it must not be used afterwards. */
    @Override
    public void close() { if (arena.scope().isAlive()) arena.close(); }

    /** A dict of tensors inside a .pth archive. Closing it closes the archive. */
    public static final class StateDict implements WeightSource {
        private final String describe;
        private final Map<String, Tensor> tensors;
        private final List<String> skipped;
        private final PthFile owner;

        StateDict(String describe, Map<String, Tensor> tensors, List<String> skipped, PthFile owner) {
            this.describe = describe;
            this.tensors = tensors;
            this.skipped = skipped;
            this.owner = owner;
        }

        @Override public Set<String> keys() { return tensors.keySet(); }
        @Override public boolean contains(String key) { return tensors.containsKey(key); }
        @Override public Tensor get(String key) {
            Tensor t = tensors.get(key);
            if (t == null) throw new WeightFormatException(describe + ": no tensor named '" + key + "'");
            return t;
        }
        /** Keys whose values are not tensors (nested dicts, numbers, ...). */
        public List<String> skipped() { return skipped; }
        public PthFile file() { return owner; }
        @Override public String describe() { return describe; }
        @Override public void close() { owner.close(); }
    }
}
