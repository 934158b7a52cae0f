package dev.infinityj.io;

import dev.infinityj.WeightFormatException;
import dev.infinityj.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The one home of checkpoint key renaming: wrapper prefixes added by training tools
 * ({@code module.} from DistributedDataParallel / DataParallel, {@code _orig_mod.} from
 * {@code torch.compile}) are stripped when EVERY key carries them (repeatedly, so
 * {@code module._orig_mod.x} becomes {@code x}); a prefix only some keys carry is a real
 * submodule name and stays.
 */
public final class WeightNames {
    public static final List<String> WRAPPER_PREFIXES = List.of("module.", "_orig_mod.");

    private WeightNames() {}

    /** new name → original name, in the original order. */
    public static Map<String, String> stripWrapperPrefixes(Set<String> keys) {
        int strip = 0;
        outer:
        while (!keys.isEmpty()) {
            for (String p : WRAPPER_PREFIXES) {
                final int s = strip;
                if (keys.stream().allMatch(k -> k.startsWith(p, s) && k.length() > s + p.length())) {
                    strip += p.length();
                    continue outer;
                }
            }
            break;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : keys) out.put(k.substring(strip), k);
        return Collections.unmodifiableMap(out);
    }

    /** {@code source} with wrapper prefixes stripped from its keys (itself when there are none). */
    public static WeightSource stripWrapperPrefixes(WeightSource source) {
        Map<String, String> names = stripWrapperPrefixes(source.keys());
        boolean same = names.entrySet().stream().allMatch(e -> e.getKey().equals(e.getValue()));
        if (same) return source;
        return new Renamed(source, names);
    }

    /** A source seen through renamed keys (new name → original name). */
    public static final class Renamed implements WeightSource {
        private final WeightSource inner;
        private final Map<String, String> names;

        Renamed(WeightSource inner, Map<String, String> names) {
            this.inner = inner;
            this.names = names;
        }

        /** The source with the original names (e.g. a PthFile.StateDict, for its skipped keys). */
        public WeightSource inner() { return inner; }

        /** The original name of {@code key}. */
        public String originalName(String key) { return names.get(key); }

        @Override public Set<String> keys() { return names.keySet(); }
        @Override public boolean contains(String key) { return names.containsKey(key); }
        @Override public Tensor get(String key) {
            String orig = names.get(key);
            if (orig == null) throw new WeightFormatException(inner.describe() + ": no tensor named '" + key + "'");
            return inner.get(orig);
        }
        @Override public boolean isPackedLinear(String key) { String o = names.get(key); return o != null && inner.isPackedLinear(o); }
        @Override public String describe() { return inner.describe(); }
        @Override public void close() { inner.close(); }
    }
}
