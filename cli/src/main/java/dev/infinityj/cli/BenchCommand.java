package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backends;
import dev.infinityj.cuda.CudaBackend;
import dev.infinityj.cuda.CudaContext;
import dev.infinityj.model.GenerationOptions;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.pipeline.Pipeline;
import dev.infinityj.util.Json;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code infinityj bench}: the whole pipeline timed per stage (tokenizer, T5, text conditioning,
 * each scale, VAE, total) over warm-up + measured repetitions, mean ± sd, with the machine facts
 * (JDK, vector width, threads, device). The prompt cache is off so T5 runs every repetition.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Time the pipeline per stage (mean ± sd over repetitions); markdown or JSON.",
                "Example: infinityj bench --preset 2b --random-weights --pn 0.06M --warmup 1 --reps 3"})
public final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", defaultValue = "a photo of a cat sitting on a wooden table, soft light",
            description = "Prompt (default: \"${DEFAULT-VALUE}\").")
    String prompt;

    @Option(names = "--pn", paramLabel = "BUDGET", description = "Pixel budget (default: 0.06M).")
    String pn = "0.06M";

    @Option(names = "--aspect", paramLabel = "W:H", defaultValue = "1:1", description = "Aspect ratio (default: ${DEFAULT-VALUE}).")
    String aspect;

    @Option(names = "--cfg", paramLabel = "X", defaultValue = "3", description = "CFG (default: ${DEFAULT-VALUE}).")
    String cfg;

    @Option(names = "--cfg-until-scale", paramLabel = "K", defaultValue = "0", description = "CFG on the first K scales only (0 = all).")
    int cfgUntilScale;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "1", description = "Unmeasured runs first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--reps", paramLabel = "N", defaultValue = "3", description = "Measured runs (default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--format", paramLabel = "FMT", defaultValue = "markdown", description = "markdown or json (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = {"-q", "--quiet"}, description = "No per-run progress on stderr.")
    boolean quiet;

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @Override
    public Integer call() {
        PrintWriter stdout = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        String fmt = format.toLowerCase(Locale.ROOT);
        if (!fmt.equals("markdown") && !fmt.equals("json")) throw new BadInputException("--format: unknown format '" + format + "' (expected markdown or json)");
        if (warmup < 0 || warmup > 100) throw new BadInputException("--warmup must be in [0, 100], got " + warmup);
        if (reps < 1 || reps > 1000) throw new BadInputException("--reps must be in [1, 1000], got " + reps);
        ScaleSchedules.Schedule s = ScaleSchedules.forAspect(GenerateCommand.parseAspect("--aspect", aspect),
                ScaleSchedules.PixelBudget.parse(pn.matches("(?i).*m") ? pn.toUpperCase(Locale.ROOT) : pn + "M"));
        double[] cfgs = PerScaleList.parse("--cfg", cfg).requireRange(0, true, 100).expand(s.scales());
        ModelOptions.Source src = modelOptions.source(null, null);
        long l0 = System.nanoTime();
        try (Backends.Selection sel = modelOptions.backend(); Pipeline p = modelOptions.load(src, sel)) {
            double loadS = (System.nanoTime() - l0) / 1e9;
            p.promptCache(false);
            if (!quiet) {
                if (sel.note() != null) err.println("infinityj: note: " + sel.note());
                for (String n : p.notes()) err.println("infinityj: note: " + n);
            }
            Pipeline.Request req = new Pipeline.Request(prompt, null, 1, cfgs, new double[] {0.5}, GenerationOptions.DEFAULT_TOP_K,
                    GenerationOptions.DEFAULT_TOP_P, cfgUntilScale, s, null, 0);
            List<List<Timing.Row>> runs = new ArrayList<>();
            CudaContext gpu = sel.backend() instanceof CudaBackend cb ? cb.context() : null;
            for (int r = 0; r < warmup + reps; r++) {
                if (gpu != null && r == warmup) gpu.resetPeakMemory(); // the peak of the measured runs
                Pipeline.Output o = p.generate(req, List.of());
                boolean measured = r >= warmup;
                if (measured) runs.add(Timing.rows(o.timings(), s));
                if (!quiet) err.printf(Locale.ROOT, "infinityj: %s %d/%d: %.1f s%n", measured ? "run" : "warm-up", measured ? r - warmup + 1 : r + 1,
                        measured ? reps : warmup, o.timings().totalNanos() / 1e9);
            }
            Map<String, Object> facts = new LinkedHashMap<>();
            facts.put("jdk", System.getProperty("java.vm.name") + " " + Runtime.version());
            facts.put("vector_width", vectorWidth());
            facts.put("device", sel.device());
            facts.put("threads", sel.threads());
            facts.put("model", src.describe());
            facts.put("schedule", ScaleSchedules.describe(s));
            facts.put("cfg_until_scale", cfgUntilScale);
            facts.put("warmup", warmup);
            facts.put("reps", reps);
            facts.put("load_s", Math.round(loadS * 100) / 100.0);
            if (gpu != null) {
                // in use: what live tensors held at the peak; reserved: what the device pool held from the driver
                CudaContext.MemoryStats m = gpu.memoryStats();
                facts.put("gpu_peak_in_use_gib", Math.round(m.peakInUseBytes() / (double) (1L << 30) * 100) / 100.0);
                facts.put("gpu_peak_reserved_gib", Math.round(m.peakReservedBytes() / (double) (1L << 30) * 100) / 100.0);
                facts.put("gpu_allocations", m.requests() + " requests, " + m.driverAllocations() + " from the driver");
            }
            List<Map<String, Object>> stages = new ArrayList<>();
            for (int i = 0; i < runs.getFirst().size(); i++) {
                double sum = 0, sq = 0;
                for (List<Timing.Row> run : runs) sum += run.get(i).ms();
                double mean = sum / runs.size();
                for (List<Timing.Row> run : runs) sq += (run.get(i).ms() - mean) * (run.get(i).ms() - mean);
                double sd = runs.size() > 1 ? Math.sqrt(sq / (runs.size() - 1)) : 0;
                Map<String, Object> st = new LinkedHashMap<>();
                st.put("stage", runs.getFirst().get(i).stage().trim());
                st.put("mean_ms", Math.round(mean * 100) / 100.0);
                st.put("sd_ms", Math.round(sd * 100) / 100.0);
                stages.add(st);
            }
            if (fmt.equals("json")) {
                Map<String, Object> m = new LinkedHashMap<>(facts);
                m.put("stages", stages);
                stdout.println(Json.writePretty(m).stripTrailing());
            } else {
                stdout.println("# infinityj bench");
                stdout.println();
                for (Map.Entry<String, Object> e : facts.entrySet()) stdout.println("- " + e.getKey().replace('_', ' ') + ": " + e.getValue());
                stdout.println();
                stdout.println("| stage | mean ms | ± sd ms |");
                stdout.println("|---|---:|---:|");
                for (Map<String, Object> st : stages)
                    stdout.printf(Locale.ROOT, "| %s | %.1f | %.1f |%n", st.get("stage"), (Double) st.get("mean_ms"), (Double) st.get("sd_ms"));
            }
        }
        stdout.flush();
        return 0;
    }

    /** Preferred float vector: lanes × 32 bits, or "n/a" without the jdk.incubator.vector module. */
    static String vectorWidth() {
        try {
            Class<?> fv = Class.forName("jdk.incubator.vector.FloatVector");
            Object species = fv.getField("SPECIES_PREFERRED").get(null);
            int lanes = (int) Class.forName("jdk.incubator.vector.VectorSpecies").getMethod("length").invoke(species);
            return lanes * 32 + " bits (" + lanes + " floats)";
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return "n/a (jdk.incubator.vector not loaded)";
        }
    }
}
