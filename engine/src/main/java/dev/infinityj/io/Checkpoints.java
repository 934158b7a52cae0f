package dev.infinityj.io;

import dev.infinityj.BadInputException;
import dev.infinityj.io.pth.PthFile;
import dev.infinityj.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The one entry point for reading weights, whatever the format: a {@code .safetensors} file, a
 * sharded set (its folder or its {@code *.index.json}), or a PyTorch archive ({@code .pth},
 * {@code .pt}, {@code .bin}, {@code .ckpt}). Keys come back with wrapper prefixes stripped
 * ({@link WeightNames#stripWrapperPrefixes}).
 * <p>
 * For a PyTorch archive whose root is not itself a dict of tensors, {@link #open(Path)} descends
 * into the single nested dict ({@code {'vae': sd}}) or, for training wrappers, into the first of
 * {@value #PREFERRED_DESCRIPTION} that exists; {@link #open(Path, String)} takes an explicit key path.
 */
public final class Checkpoints {
    /** Keys of training wrappers under which the model's state dict usually lives, in order of preference. */
    public static final List<String> PREFERRED_KEYS = List.of("state_dict", "model", "module", "model_state_dict", "ema", "vae", "gpt", "net");
    /** File name endings read as PyTorch archives (other names are sniffed: zip → PyTorch, else safetensors). */
    public static final List<String> PTH_SUFFIXES = List.of(".pth", ".pt", ".bin", ".ckpt", ".tar");
    static final String PREFERRED_DESCRIPTION = "state_dict, model, module, model_state_dict, ema, vae, gpt, net";

    private Checkpoints() {}

    public static WeightSource open(Path path) { return open(path, null); }

    /**
     * @param keyPath for PyTorch archives, the key path of the state dict inside the pickle
     *                ({@code "vae"}, {@code "model/ema"}; {@code ""} = the root); {@code null} = automatic
     */
    public static WeightSource open(Path path, String keyPath) {
        if (path == null) throw new BadInputException("no checkpoint path given");
        if (!Files.exists(path)) throw new BadInputException(path + ": not found (expected a .safetensors, .pth/.pt/.bin file or a sharded safetensors folder)");
        String name = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(Locale.ROOT);
        WeightSource src;
        if (Files.isDirectory(path) || name.endsWith(".index.json")) {
            refuseKeyPath(path, keyPath);
            if (Files.isDirectory(path) && !Files.exists(path.resolve(ShardedSafetensors.INDEX_NAME))) {
                List<Path> single = list(path, ".safetensors");
                if (single.size() == 1) return WeightNames.stripWrapperPrefixes(SafetensorsFile.open(single.get(0)));
            }
            src = ShardedSafetensors.open(path);
        } else if (name.endsWith(".safetensors") || (!PTH_SUFFIXES.stream().anyMatch(name::endsWith) && !isZip(path))) {
            refuseKeyPath(path, keyPath);
            src = SafetensorsFile.open(path);
        } else {
            src = openPth(path, keyPath);
        }
        return WeightNames.stripWrapperPrefixes(src);
    }

    private static PthFile.StateDict openPth(Path path, String keyPath) {
        PthFile f = PthFile.open(path);
        try {
            if (keyPath != null) return f.stateDict(keyPath);
            String p = "";
            for (int depth = 0; depth < 4; depth++) {
                if (!(f.at(p) instanceof Map<?, ?> m))
                    throw new BadInputException(path + ": the pickled object" + (p.isEmpty() ? "" : " at '" + p + "'") + " is not a dict (expected a state dict)");
                if (m.values().stream().anyMatch(v -> v instanceof Tensor)) return f.stateDict(p);
                List<Object> dicts = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) if (e.getValue() instanceof Map<?, ?>) dicts.add(e.getKey());
                Object next = null;
                if (dicts.size() == 1) next = dicts.get(0);
                else for (String k : PREFERRED_KEYS) if (dicts.contains(k)) { next = k; break; }
                if (!(next instanceof String s))
                    throw new BadInputException(path + ": no tensors at " + (p.isEmpty() ? "the root" : "'" + p + "'")
                            + " and no single state dict to descend into (keys: " + keysOf(m) + "); pass a key path (--key)");
                p = p.isEmpty() ? s : p + "/" + s;
            }
            throw new BadInputException(path + ": no dict of tensors within 4 levels; pass a key path (--key)");
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private static String keysOf(Map<?, ?> m) {
        List<String> l = new ArrayList<>();
        for (Object k : m.keySet()) { if (l.size() == 8) { l.add("..."); break; } l.add(String.valueOf(k)); }
        return l.isEmpty() ? "none" : String.join(", ", l);
    }

    private static void refuseKeyPath(Path path, String keyPath) {
        if (keyPath != null && !keyPath.isEmpty())
            throw new BadInputException(path + ": a key path ('" + keyPath + "') applies only to PyTorch archives");
    }

    private static List<Path> list(Path dir, String suffix) {
        try (var s = Files.list(dir)) {
            return s.filter(x -> x.getFileName().toString().endsWith(suffix)).toList();
        } catch (java.io.IOException e) {
            throw new BadInputException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    /** Zip archives start with a local file header "PK\3\4" (an empty archive with "PK\5\6"). */
    private static boolean isZip(Path p) {
        if (!Files.isRegularFile(p)) return false;
        try (var in = Files.newInputStream(p)) {
            byte[] b = in.readNBytes(4);
            return b.length == 4 && b[0] == 'P' && b[1] == 'K' && (b[2] == 3 || b[2] == 5);
        } catch (java.io.IOException e) {
            throw new BadInputException(p + ": cannot read: " + e.getMessage(), e);
        }
    }
}
