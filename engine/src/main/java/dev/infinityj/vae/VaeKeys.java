package dev.infinityj.vae;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The state-dict keys and shapes a configuration implies (module-native spelling, spec
 * Appendices B–C): for random-weight presets and benchmarks, and to check key lists.
 */
public final class VaeKeys {
    private VaeKeys() {}

    public static Map<String, long[]> decoder(VaeConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        int mid = c.midChannels();
        conv(m, "decoder.conv_in", c.codebookDim(), mid, 3);
        block(m, "decoder.mid.block_1", mid, mid);
        block(m, "decoder.mid.block_2", mid, mid);
        int in = mid;
        for (int i = c.levels() - 1; i >= 0; i--) {
            int out = c.channels(i);
            for (int j = 0; j <= c.numResBlocks(); j++) { block(m, "decoder.up." + i + ".block." + j, in, out); in = out; }
            if (c.upsamplesAt(i)) conv(m, "decoder.up." + i + ".upsample.conv", in, in, 3);
        }
        norm(m, "decoder.norm_out", in);
        conv(m, "decoder.conv_out", in, 3, 3);
        return m;
    }

    public static Map<String, long[]> encoder(VaeConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        int in = c.baseChannels();
        conv(m, "encoder.conv_in", 3, in, 3);
        for (int i = 0; i < c.levels(); i++) {
            int out = c.channels(i);
            for (int j = 0; j < c.numResBlocks(); j++) { block(m, "encoder.down." + i + ".block." + j, in, out); in = out; }
            if (c.downsamplesAt(i)) conv(m, "encoder.down." + i + ".downsample.conv", in, in, 3);
        }
        block(m, "encoder.mid.block_1", in, in);
        block(m, "encoder.mid.block_2", in, in);
        norm(m, "encoder.norm_out", in);
        conv(m, "encoder.conv_out", in, c.codebookDim(), 3);
        return m;
    }

    private static void conv(Map<String, long[]> m, String p, int in, int out, int k) {
        m.put(p + ".conv.weight", new long[] {out, in, k, k});
        m.put(p + ".conv.bias", new long[] {out});
    }

    private static void norm(Map<String, long[]> m, String p, int c) {
        m.put(p + ".norm.weight", new long[] {c});
        m.put(p + ".norm.bias", new long[] {c});
    }

    private static void block(Map<String, long[]> m, String p, int in, int out) {
        norm(m, p + ".norm1", in);
        conv(m, p + ".conv1", in, out, 3);
        norm(m, p + ".norm2", out);
        conv(m, p + ".conv2", out, out, 3);
        if (in != out) conv(m, p + ".nin_shortcut", in, out, 1);
    }
}
