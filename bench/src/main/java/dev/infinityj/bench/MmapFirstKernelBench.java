package dev.infinityj.bench;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.SafetensorsWriter;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Time from "open this weights file" to "the first kernel has consumed one of its tensors", for a
 * large safetensors file: the mmap + header parse + validation of {@link SafetensorsFile#open},
 * then one GEMV (M = 1) straight from the mapped BF16 bytes (issue 2: under a second for 4 GB).
 * Writes the file first if absent (BF16 tensors of 2048 × 8192 filled with a pattern, so every
 * page is real data, not a sparse hole). Reports the page cache state it ran in: a file just
 * written is in the page cache; cold-disk numbers need the cache dropped by the operator.
 *
 * <pre>java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *   -cp bench/target/benchmarks.jar dev.infinityj.bench.MmapFirstKernelBench [FILE (default: java.io.tmpdir/infinityj-4g.safetensors)] [gigabytes=4]</pre>
 */
public final class MmapFirstKernelBench {
    private MmapFirstKernelBench() {}

    public static void main(String[] args) throws Exception {
        Path file = args.length > 0 ? Path.of(args[0]) : Path.of(System.getProperty("java.io.tmpdir"), "infinityj-4g.safetensors");
        double gb = args.length > 1 ? Double.parseDouble(args[1]) : 4;
        long rows = 2048, cols = 8192, per = rows * cols * 2;
        int n = (int) Math.ceil(gb * 1e9 / per);
        if (!Files.exists(file)) {
            long t = System.nanoTime();
            List<SafetensorsWriter.Item> items = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int seed = i;
                items.add(new SafetensorsWriter.Item("w." + i, DType.BF16, new long[]{rows, cols}, () -> {
                    Tensor w = Tensor.allocate(DType.BF16, rows, cols);
                    var s = w.segment();
                    for (long j = 0; j < rows * cols; j++) s.setAtIndex(Tensor.I16_LE, j, (short) (0x3c00 + ((j * 31 + seed) & 0xff)));
                    return w;
                }));
            }
            SafetensorsWriter.write(file, Map.of(), items);
            System.out.printf(Locale.ROOT, "wrote %s: %d tensors, %.2f GB in %.1f s%n", file, n, Files.size(file) / 1e9, (System.nanoTime() - t) / 1e9);
        }
        CpuBackend be = new CpuBackend();
        Tensor x = Tensor.allocate(DType.F32, 1, cols);
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                long t1 = System.nanoTime();
                String last = "w." + (f.keys().size() - 1); // the far end of the file
                Tensor w = f.get(last);
                Tensor y = be.linear(x, w, null);
                long t2 = System.nanoTime();
                System.out.printf(Locale.ROOT, "rep %d: %.2f GB, %d tensors: open+validate %.1f ms, first kernel done at %.1f ms (y[0]=%.3f)%n",
                        rep, Files.size(file) / 1e9, f.keys().size(), (t1 - t0) / 1e6, (t2 - t0) / 1e6, y.getFloat(0, 0));
            }
        }
    }
}
