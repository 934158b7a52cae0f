package dev.infinityj.bench;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.backend.Backend;
import dev.infinityj.io.Converter;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.model.InfinityConfig;
import dev.infinityj.model.InfinityModel;
import dev.infinityj.model.InfinityWeights;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Opening a converted 2B-shaped transformer file until the model is ready on the CPU backend,
 * packed vs plain layout (docs/weights.md), and the process's RSS after it: plain files are packed
 * at load (reading every weight page and keeping a packed copy beside the mapping), packed files
 * are used in place. Run each load in a fresh JVM.
 *
 * <pre>java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:MaxDirectMemorySize=16g \
 *   -cp bench/target/benchmarks.jar dev.infinityj.bench.LayoutLoadBench write FILE packed|plain [preset=2b]
 * ... LayoutLoadBench load FILE</pre>
 *
 * "Ready" = {@link InfinityModel#load} returned and the four Linear weights the model prepares on
 * first use (text projections, shared AdaLN, head AdaLN) prepared too. "touched" then reads one
 * long per 4 KiB of every tensor the model uses — a stand-in for the first forward pass, after
 * which a packed file's weights are resident too.
 */
public final class LayoutLoadBench {
    private LayoutLoadBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) throw new IllegalArgumentException("usage: write FILE packed|plain [preset] | load FILE");
        Path file = Path.of(args[1]);
        if (args[0].equals("write")) {
            InfinityConfig c = InfinityConfig.preset(args.length > 3 ? args[3] : "2b");
            Converter.Layout layout = Converter.Layout.parse(args[2]);
            long t = System.nanoTime();
            var src = RandomWeightSource.of(c.name(), InfinityWeights.expectedShapes(c), DType.BF16, 1);
            Converter.Result r = Converter.write(src, file, Converter.Precision.BF16, layout, Map.of("source", "random " + c.name()), k -> true);
            System.out.printf(Locale.ROOT, "wrote %s: %d tensors (%d packed), %.2f GB, %.1f s%n", file, r.tensors(), r.packed(),
                    Files.size(file) / 1e9, (System.nanoTime() - t) / 1e9);
            return;
        }
        System.out.printf(Locale.ROOT, "before: %s%n", rss());
        long t0 = System.nanoTime();
        SafetensorsFile f = SafetensorsFile.open(file);
        long t1 = System.nanoTime();
        InfinityConfig cfg = InfinityConfig.inferFrom(f, false);
        Backend be = new CpuBackend();
        InfinityModel m = InfinityModel.load(cfg, f, be);
        List<Tensor> lazy = new ArrayList<>(); // what InfinityModel.linearParam prepares on first use
        for (String k : new String[]{"text_proj_for_ca.0.weight", "text_proj_for_ca.2.weight", "shared_ada_lin.1.weight", "head_nm.ada_lin.1.weight"})
            lazy.add(be.linearWeight(f.get(k)));
        long t2 = System.nanoTime();
        System.out.printf(Locale.ROOT, "%s (%s, %.2f GB): open %.1f ms, model ready %.2f s; %s%n", file.getFileName(), f.layout(),
                Files.size(file) / 1e9, (t1 - t0) / 1e6, (t2 - t0) / 1e9, rss());
        long sum = 0;
        for (String k : f.keys()) {
            MemorySegment s = f.bytes(k);
            for (long o = 0; o + 8 <= s.byteSize(); o += 4096) sum += s.get(ValueLayout.JAVA_LONG_UNALIGNED, o);
        }
        System.out.printf(Locale.ROOT, "after touching every weight page of the file once: %s (%d)%n", rss(), sum & 1);
        if (m == null || lazy.isEmpty()) throw new AssertionError();
        f.close();
    }

    /** VmRSS and its split (anonymous = heap + native copies; file = mapped file pages) from /proc/self/status. */
    static String rss() throws java.io.IOException {
        StringBuilder b = new StringBuilder();
        for (String l : Files.readAllLines(Path.of("/proc/self/status")))
            if (l.startsWith("VmRSS") || l.startsWith("RssAnon") || l.startsWith("RssFile")) {
                String[] p = l.trim().split("\\s+");
                b.append(b.isEmpty() ? "" : ", ").append(p[0].replace(":", "")).append(' ')
                        .append(String.format(Locale.ROOT, "%.2f GB", Long.parseLong(p[1]) * 1024 / 1e9));
            }
        return b.toString();
    }
}
