package dev.infinityj.cli;

import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.Converter;
import dev.infinityj.io.ModelKind;
import dev.infinityj.io.PackedLayout;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.ShardedSafetensors;
import dev.infinityj.io.WeightNames;
import dev.infinityj.io.WeightSource;
import dev.infinityj.io.pth.PthFile;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.util.Json;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code infinityj inspect}: what a checkpoint holds. */
@Command(name = "inspect",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "List a checkpoint's tensors (key, dtype, shape), its parameter count, total bytes and detected "
                + "model kind (infinity-transformer, bsq-vae, t5-encoder). Reads .safetensors, sharded safetensors "
                + "(folder or index) and PyTorch .pth/.pt/.bin archives (nothing in them is executed). Keys are shown "
                + "with wrapper prefixes stripped.")
public final class InspectCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "Checkpoint to inspect.")
    Path file;

    @Option(names = "--key", paramLabel = "PATH", description = "Key path of the state dict inside a PyTorch archive; default: automatic.")
    String key;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        try (WeightSource src = Checkpoints.open(file, key)) {
            PrintWriter out = spec.commandLine().getOut();
            List<Map<String, Object>> tensors = new ArrayList<>();
            Map<String, Long> perDtype = new TreeMap<>();
            long params = 0, bytes = 0;
            int width = 0;
            for (String k : src.keys()) {
                Tensor t = src.get(k);
                long n = t.numel();
                params += n;
                bytes += n * t.dtype().byteSize();
                perDtype.merge(t.dtype().safetensorsName(), 1L, Long::sum);
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", k);
                e.put("dtype", t.dtype().safetensorsName());
                e.put("shape", t.shape());
                if (src.isPackedLinear(k)) e.put("packed_from", src.logicalShape(k)); // stored [N/16, K, 16]; the weight is [N, K]
                tensors.add(e);
                width = Math.max(width, k.length());
            }
            ModelKind kind = ModelKind.detect(src.keys());
            List<String> skipped = Converter.skipped(src);
            Map<String, String> metadata = metadata(src);
            String layout = layout(tensors);
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("path", file.toString());
                o.put("format", format(src));
                o.put("model_kind", kind.label());
                o.put("layout", layout);
                o.put("tensors", (long) tensors.size());
                o.put("parameters", params);
                o.put("bytes", bytes);
                o.put("dtypes", perDtype);
                o.put("skipped", skipped);
                o.put("metadata", metadata);
                o.put("keys", tensors);
                out.print(Json.writePretty(o));
            } else {
                for (Map<String, Object> e : tensors)
                    out.printf("%-" + width + "s  %-4s  %s%s%n", e.get("name"), e.get("dtype"), Arrays.toString((long[]) e.get("shape")),
                            e.containsKey("packed_from") ? "  packed from " + Arrays.toString((long[]) e.get("packed_from")) : "");
                out.println();
                out.println("file:        " + file);
                out.println("format:      " + format(src));
                out.println("model kind:  " + kind.label());
                out.println("layout:      " + layout);
                out.println("tensors:     " + tensors.size() + "  " + perDtype);
                out.println("parameters:  " + groupDigits(params));
                out.println("bytes:       " + groupDigits(bytes));
                if (!metadata.isEmpty()) out.println("metadata:    " + metadata);
                if (!skipped.isEmpty()) out.println("skipped:     " + skipped.size() + " non-tensor entries: " + String.join(", ", skipped));
            }
            out.flush();
        }
        return 0;
    }

    private static WeightSource unwrap(WeightSource s) {
        return s instanceof WeightNames.Renamed r ? r.inner() : s;
    }

    static String format(WeightSource src) {
        WeightSource s = unwrap(src);
        if (s instanceof SafetensorsFile) return "safetensors";
        if (s instanceof ShardedSafetensors sh) return "sharded safetensors (" + sh.shards().size() + " shards)";
        if (s instanceof PthFile.StateDict) return "pytorch zip archive";
        return s.getClass().getSimpleName();
    }

    static Map<String, String> metadata(WeightSource src) {
        WeightSource s = unwrap(src);
        return s instanceof SafetensorsFile f ? f.metadata() : Map.of();
    }

    static String groupDigits(long n) { return String.format("%,d", n); }

    /** "plain", or the packed layout's name and how many keys use it (PackedLayout). */
    static String layout(List<Map<String, Object>> tensors) {
        long packed = tensors.stream().filter(e -> e.containsKey("packed_from")).count();
        if (packed == 0) return PackedLayout.PLAIN;
        return PackedLayout.PANEL16_V1 + " (" + packed + " Linear weights stored [N/16, K, 16])";
    }

}
