package dev.infinityj.io;

import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.util.Json;

import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * THE home of how a safetensors file declares that some of its Linear weights are stored packed
 * under their usual key: [N, K] kept as a [N/16, K, 16] tensor in {@link PackedLinear}'s element
 * order (its class comment is the definition: K blocks of 1024, 16-row panels inside, BF16
 * halves interleaved). Two {@code __metadata__} entries, always together:
 *
 * <ul>
 * <li>{@value #LAYOUT} = {@value #PANEL16_V1} — the layout's name and version (a future layout
 *     gets a new name; a reader refuses names it does not know, so nothing is ever read in a
 *     layout it does not understand);</li>
 * <li>{@value #PACKED_KEYS} = a JSON array of the keys stored packed, in file order (explicit,
 *     so no reader has to guess from shapes: an ordinary rank-3 tensor can end in 16 too).</li>
 * </ul>
 *
 * Files written with the plain PyTorch layout say {@value #LAYOUT} = {@value #PLAIN}; files
 * without {@value #LAYOUT} (other tools', older conversions) are plain. Old readers that do not
 * know this metadata still fail safely: a packed key's shape is not the [N, K] they check.
 */
public final class PackedLayout {
    public static final String LAYOUT = "infinityj.layout";
    public static final String PACKED_KEYS = "infinityj.packed_keys";
    public static final String PLAIN = "plain";
    public static final String PANEL16_V1 = "linear-panel16-v1";

    private PackedLayout() {}

    /** The metadata entries declaring {@code packedKeys} packed ({@value #PLAIN} when there are none). */
    public static Map<String, String> metadata(Collection<String> packedKeys) {
        Map<String, String> m = new LinkedHashMap<>();
        if (packedKeys.isEmpty()) {
            m.put(LAYOUT, PLAIN);
        } else {
            m.put(LAYOUT, PANEL16_V1);
            m.put(PACKED_KEYS, Json.write(List.copyOf(packedKeys)));
        }
        return m;
    }

    /** The layout name a file declares ({@value #PLAIN} when it declares none). */
    public static String layoutOf(Map<String, String> metadata) { return metadata.getOrDefault(LAYOUT, PLAIN); }

    /**
     * The keys of a file stored packed, checked against its header: the layout must be one this
     * build knows, the key list present exactly when the layout is packed, and every listed key a
     * tensor of a packed shape [N/16, K, 16] (F32/BF16/F16). Any inconsistency is a one-line
     * {@link WeightFormatException} naming the file (and the key).
     */
    static Set<String> read(String where, Map<String, String> metadata, Map<String, SafetensorsFile.Entry> entries) {
        String layout = metadata.get(LAYOUT);
        String list = metadata.get(PACKED_KEYS);
        if (layout == null || layout.equals(PLAIN)) {
            if (list != null)
                throw new WeightFormatException(where + ": __metadata__ lists packed keys (" + PACKED_KEYS + ") but "
                        + (layout == null ? "declares no " + LAYOUT : LAYOUT + " is '" + PLAIN + "'")
                        + " (expected " + LAYOUT + " '" + PANEL16_V1 + "'); the file is inconsistent, convert the checkpoint again");
            return Set.of();
        }
        if (!layout.equals(PANEL16_V1))
            throw new WeightFormatException(where + ": unknown tensor layout '" + layout + "' in __metadata__ " + LAYOUT
                    + " (this build reads '" + PLAIN + "' and '" + PANEL16_V1 + "'); convert the checkpoint again with this build");
        if (list == null)
            throw new WeightFormatException(where + ": " + LAYOUT + " is '" + PANEL16_V1 + "' but __metadata__ has no " + PACKED_KEYS
                    + " (expected a JSON array of the packed keys); the file is inconsistent, convert the checkpoint again");
        Object parsed;
        try {
            parsed = Json.parse(list, where + " (__metadata__ " + PACKED_KEYS + ")");
        } catch (BadInputException e) {
            throw new WeightFormatException(e.getMessage(), e);
        }
        if (!(parsed instanceof List<?> keys))
            throw new WeightFormatException(where + ": __metadata__ " + PACKED_KEYS + " is not a JSON array of tensor names");
        Set<String> out = new LinkedHashSet<>();
        for (Object o : keys) {
            if (!(o instanceof String k)) throw new WeightFormatException(where + ": " + PACKED_KEYS + " holds " + o + ", expected tensor names (strings)");
            SafetensorsFile.Entry e = entries.get(k);
            if (e == null) throw new WeightFormatException(where + ": " + PACKED_KEYS + " names '" + k + "', which is not a tensor in the file");
            if (!out.add(k)) throw new WeightFormatException(where + ": " + PACKED_KEYS + " names '" + k + "' twice");
            if (!PackedLinear.isPackedShape(e.dtype(), e.shape()))
                throw new WeightFormatException(where + ": tensor '" + k + "' is " + e.dtype() + Arrays.toString(e.shape()) + " but " + PACKED_KEYS
                        + " says it is packed (" + PANEL16_V1 + " stores a Linear weight [N, K] as F32/BF16/F16 [N/16, K, 16])");
        }
        return Collections.unmodifiableSet(out);
    }
}
