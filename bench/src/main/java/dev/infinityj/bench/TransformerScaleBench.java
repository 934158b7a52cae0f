package dev.infinityj.bench;

import dev.infinityj.backend.Backend;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.model.GenerationOptions;
import dev.infinityj.model.InfinityConfig;
import dev.infinityj.model.InfinityGenerator;
import dev.infinityj.model.InfinityModel;
import dev.infinityj.model.InfinityWeights;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Per-scale latency of the transformer loop on a real model shape with random BF16 weights made
 * in memory (no file): CFG batch 2, cfg 3, τ 0.5, top-k 900 / top-p 0.97. A plain timed main rather
 * than JMH, because one 2B run takes tens of seconds and the harness's forks and iterations would
 * multiply that; each repetition is one full generation, timed per scale.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar \
 *   dev.infinityj.bench.TransformerScaleBench [preset=2b] [pn=0.06M] [reps=2] [scales=all] [textTokens=32]</pre>
 */
public final class TransformerScaleBench {
    private TransformerScaleBench() {}

    public static void main(String[] args) throws IOException {
        String preset = args.length > 0 ? args[0] : "2b";
        String pn = args.length > 1 ? args[1] : "0.06M";
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int scalesLimit = args.length > 3 && !args[3].equals("all") ? Integer.parseInt(args[3]) : Integer.MAX_VALUE;
        int textTokens = args.length > 4 ? Integer.parseInt(args[4]) : 32;

        InfinityConfig config = InfinityConfig.preset(preset);
        ScaleSchedules.Schedule full = ScaleSchedules.forAspect(1.0, pn);
        ScaleSchedules.Schedule schedule = full;
        if (scalesLimit < full.scales()) // a prefix of the schedule, for smoke runs of big shapes on slow backends
            schedule = new ScaleSchedules.Schedule(full.template(), full.budget(), full.grids().subList(0, scalesLimit));
        Backend backend = new CpuBackend();
        long t0 = System.nanoTime();
        RandomWeightSource weights = RandomWeightSource.of(preset, InfinityWeights.expectedShapes(config), DType.BF16, 1);
        InfinityModel model = InfinityModel.load(config, weights, backend);
        System.out.printf(Locale.ROOT, "model %s (%d blocks, C %d), random BF16 weights %.2f GB, built in %.1f s; backend %s%n",
                preset, config.depth(), config.width(), weights.totalBytes() / 1e9, (System.nanoTime() - t0) / 1e9, backend.name());
        System.out.printf(Locale.ROOT, "schedule %s%s, CFG batch 2%n", ScaleSchedules.describe(full),
                schedule == full ? "" : " (first " + schedule.scales() + " scales only)");

        float[] text = new float[textTokens * config.textChannels()];
        long s = 12345;
        for (int i = 0; i < text.length; i++) { s = s * 6364136223846793005L + 1442695040888963407L; text[i] = ((s >>> 40) * 0x1p-24f - 0.5f) * 0.4f; }
        Tensor cond = Tensor.ofFloats(text, textTokens, config.textChannels());
        GenerationOptions opt = GenerationOptions.builder(schedule).cfg(3).tau(0.5).seed(1).build();

        for (int r = 0; r < reps; r++) {
            InfinityGenerator.Result res = new InfinityGenerator(model).generate(cond, null, opt, List.of());
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < res.scaleNanos().length; k++)
                b.append(String.format(Locale.ROOT, " %d:%.0f", schedule.grid(k).h(), res.scaleNanos()[k] / 1e6));
            System.out.printf(Locale.ROOT, "rep %d: text %.0f ms, per scale (side:ms)%s, total %.0f ms%n",
                    r, res.textNanos() / 1e6, b, res.totalNanos() / 1e6);
        }
        System.out.printf(Locale.ROOT, "peak RSS %s%n", peakRss());
    }

    private static String peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return line.substring(6).trim();
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        return "n/a";
    }
}
