package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backends;
import dev.infinityj.image.Png;
import dev.infinityj.image.RgbImage;
import dev.infinityj.model.GenerationOptions;
import dev.infinityj.model.ScaleListener;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.pipeline.Pipeline;
import dev.infinityj.util.AtomicFiles;
import dev.infinityj.util.Checksums;
import dev.infinityj.util.Json;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code infinityj generate}: text → image(s), the product's main command. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate images from text prompts.",
                "Without weight files: infinityj generate --preset 2b --random-weights --prompt \"a cat\" (a noise image of the real pipeline)."})
public final class GenerateCommand implements Callable<Integer> {
    public static final long DEFAULT_SEED = 42;
    public static final String DEFAULT_OUT = "infinityj-{index:03}-{seed}.png";
    /** PNG tEXt keyword holding every option as JSON ({@code --from-png} reads it back). */
    public static final String META_KEY = "infinityj";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "The prompt.")
    String prompt;

    @Option(names = "--negative-prompt", paramLabel = "TEXT", description = "Negative prompt (default: none = the model's learned unconditional rows).")
    String negativePrompt;

    @Option(names = {"-s", "--seed"}, paramLabel = "N", description = "Sampling seed (default: " + DEFAULT_SEED + "; -1 = random). Image i of a batch uses seed+i.")
    Long seed;

    @Option(names = "--cfg", paramLabel = "X[,X...]", description = "CFG scale: one value or one per scale (default: 3).")
    String cfg;

    @Option(names = "--tau", paramLabel = "X[,X...]", description = "Sampling temperature: one value or one per scale (default: 0.5).")
    String tau;

    @Option(names = "--top-k", paramLabel = "K", description = "Top-k per bit pair, 0 = off (default: " + GenerationOptions.DEFAULT_TOP_K + ").")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "Top-p in [0, 1], 0 = off (default: " + GenerationOptions.DEFAULT_TOP_P + ").")
    Double topP;

    @Option(names = "--cfg-until-scale", paramLabel = "K", description = "Use CFG on the first K scales only (cfg = 1 after; 0 = every scale, the default).")
    Integer cfgUntilScale;

    @Option(names = "--aspect", paramLabel = "W:H", description = "Aspect ratio: 1:1, 16:9, 3:4, ... or a number W/H (default 1:1); snapped to the nearest of the 15 templates.")
    String aspect;

    @Option(names = {"-W", "--width"}, paramLabel = "PX", description = "Width; with --height, snapped to the nearest template and pixel budget (the tool says which).")
    Integer width;

    @Option(names = {"-H", "--height"}, paramLabel = "PX", description = "Height (with --width).")
    Integer height;

    @Option(names = "--pn", paramLabel = "BUDGET", description = "Pixel budget: 0.06M, 0.25M, 0.60M or 1M (default: 1M with --model, 0.06M with --random-weights).")
    String pn;

    @Option(names = "--resolution", paramLabel = "PX", description = "Same as --pn by image side: 256, 512, 768 or 1024.")
    Integer resolution;

    @Option(names = {"-n", "--batch"}, paramLabel = "N", description = "Images per prompt (default: 1).")
    Integer batch;

    @Option(names = "--prompts", paramLabel = "FILE", description = "Prompts file: one per line, or JSON Lines with per-line options (" +
            "negative_prompt, seed, cfg, tau, top_k, top_p, aspect, pn, batch, out).")
    Path promptsFile;

    @Option(names = {"-o", "--out"}, paramLabel = "PATTERN", description = "Output PNG path; {seed}, {index}, {index:03}, {prompt_slug} are replaced (default: " + DEFAULT_OUT + ").")
    String out;

    @Option(names = "--previews", description = "Also write a PNG per scale (decoded from the accumulated latent): OUT.scale-NN.png.")
    boolean previews;

    @Option(names = "--init-image", paramLabel = "FILE", description = "Image-to-image: the first --keep-scales scales come from this image (encoded by the VAE).")
    Path initImage;

    @Option(names = "--keep-scales", paramLabel = "K", description = "With --init-image: how many scales to take from the image (default: half the schedule).")
    Integer keepScales;

    @Option(names = "--from-png", paramLabel = "FILE", description = "Replay: take the prompt, seed and every option from an infinityj PNG's metadata (options given here override).")
    Path fromPng;

    @Option(names = {"-q", "--quiet"}, description = "No progress or notes on stderr (warnings and errors still).")
    boolean quiet;

    @Option(names = "--json", description = "One JSON object per image on stdout (file, seed, schedule, timings); no progress.")
    boolean json;

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    /** The settings of one prompt (CLI, overridden per line by a JSONL prompts file or taken from a PNG). */
    static final class Job implements Cloneable {
        String prompt, negative, aspectText;
        long seed = DEFAULT_SEED;
        PerScaleList cfg = PerScaleList.parse("--cfg", "3"), tau = PerScaleList.parse("--tau", "0.5");
        int topK = GenerationOptions.DEFAULT_TOP_K, cfgUntil, batch = 1;
        double topP = GenerationOptions.DEFAULT_TOP_P;
        double hDivW = 1.0;
        ScaleSchedules.PixelBudget budget;
        String sizeNote;
        OutputPattern out = new OutputPattern(DEFAULT_OUT);
        Path initImage;
        Integer keepScales;
        String where = "";
        // resolved
        ScaleSchedules.Schedule schedule;
        double[] cfgValues, tauValues;

        @Override public Job clone() {
            try { return (Job) super.clone(); } catch (CloneNotSupportedException e) { throw new AssertionError(e); }
        }
    }

    @Override
    public Integer call() {
        PrintWriter stdout = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        Progress progress = new Progress(err, json ? Progress.Mode.QUIET : Progress.detect(quiet));

        // ---- 1. every input checked before the model is loaded
        Map<String, Object> replay = fromPng == null ? null : readReplay(fromPng);
        Job base = new Job();
        String replayPreset = null;
        Long replayWeightSeed = null;
        if (replay != null) {
            applyReplay(base, replay);
            if (replay.get("model") instanceof Map<?, ?> m && Boolean.TRUE.equals(m.get("random_weights"))) {
                replayPreset = String.valueOf(m.get("preset"));
                if (m.get("weight_seed") instanceof Number n) replayWeightSeed = n.longValue();
            }
        }
        ModelOptions.Source source = modelOptions.source(replayPreset, replayWeightSeed);
        applyCli(base, source);
        if (fromPng == null && promptsFile == null && prompt == null)
            throw new BadInputException("give --prompt TEXT, --prompts FILE or --from-png FILE");
        if (promptsFile != null && (prompt != null || fromPng != null))
            throw new BadInputException("--prompts excludes --prompt and --from-png");
        List<Job> jobs = new ArrayList<>();
        if (promptsFile != null) {
            for (PromptsFile.Entry e : PromptsFile.read(promptsFile)) {
                Job j = base.clone();
                j.prompt = e.prompt();
                j.where = promptsFile + ":" + e.line() + ": ";
                applyOverrides(j, e.overrides());
                jobs.add(j);
            }
        } else {
            if (base.prompt == null) throw new BadInputException("--prompt: required");
            jobs.add(base);
        }
        boolean randomSeed = false;
        for (Job j : jobs) {
            resolve(j, source);
            if (j.seed == -1) { j.seed = new SecureRandom().nextLong() & 0x7fff_ffff_ffffL; randomSeed = true; }
        }
        // output paths: all resolved, distinct and writable before anything runs
        Map<Path, String> paths = new LinkedHashMap<>();
        int index = 0;
        for (Job j : jobs)
            for (int i = 0; i < j.batch; i++, index++) {
                Path p = j.out.resolve(j.seed + i, index, j.prompt);
                AtomicFiles.checkWritable(p, "--out");
                Path key = p.toAbsolutePath().normalize();
                if (paths.containsKey(key))
                    throw new BadInputException("--out: images " + paths.get(key) + " and " + index + " would both be written to " + p
                            + " (add {index} or {seed} to the pattern)");
                if (fromPng != null && key.equals(fromPng.toAbsolutePath().normalize()))
                    throw new BadInputException("--out " + p + " would overwrite the --from-png file; give another --out");
                paths.put(key, Integer.toString(index));
            }
        Map<Path, RgbImage> initImages = new HashMap<>();
        for (Job j : jobs)
            if (j.initImage != null) initImages.computeIfAbsent(j.initImage, GenerateCommand::readInitImage);

        // ---- 2. load once, run every image
        long loadStart = System.nanoTime();
        try (Backends.Selection sel = modelOptions.backend(); Pipeline pipe = modelOptions.load(source, sel)) {
            double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
            long runStart = System.nanoTime();
            List<String> notes = new ArrayList<>();
            if (sel.note() != null) notes.add(sel.note());
            notes.addAll(pipe.notes());
            for (Job j : jobs) if (j.sizeNote != null) notes.add(j.where + j.sizeNote);
            if (randomSeed) notes.add("random seed: " + jobs.getFirst().seed);
            if (!quiet && !json) {
                for (String n : notes) progress.message("infinityj: note: " + n);
                progress.message(String.format(Locale.ROOT, "infinityj: %s on %s (%d threads), loaded in %.1f s", source.describe(), sel.device(),
                        sel.threads(), loadSeconds));
            }
            checkReplayModel(replay, pipe, err);
            index = 0;
            for (Job j : jobs) {
                for (int i = 0; i < j.batch; i++, index++) {
                    long s = j.seed + i;
                    Path target = j.out.resolve(s, index, j.prompt);
                    var enc = pipe.tokenize(j.prompt);
                    if (enc.truncated())
                        err.println("infinityj: warning: " + j.where + "prompt has " + enc.untruncatedLength() + " tokens; truncated to "
                                + enc.ids().length + " (incl. EOS) as the official tokenizer does");
                    Pipeline.Request req = new Pipeline.Request(j.prompt, j.negative, s, j.cfgValues, j.tauValues, j.topK, j.topP,
                            j.cfgUntil, j.schedule, j.initImage == null ? null : initImages.get(j.initImage), keep(j));
                    String label = jobs.size() * j.batch > 1 ? "image " + (index + 1) : "image";
                    List<ScaleListener> listeners = new ArrayList<>();
                    listeners.add(ev -> progress.scale(label, ev.scale(), ev.scales(), ev.grid().h(), ev.grid().w(), ev.nanos() / 1e6));
                    if (previews) listeners.add(ev -> Png.write(previewPath(target, ev.scale()), pipe.decode(ev.latent()), Map.of(
                            "Software", "infinityj", "infinityj:preview", "scale " + (ev.scale() + 1) + " of " + ev.scales())));
                    Pipeline.Output o = pipe.generate(req, listeners);
                    Png.write(target, o.image(), metadata(j, s, pipe));
                    report(stdout, progress, target, j, s, o, notes);
                }
            }
            if (index > 1 && !quiet && !json)
                progress.message(String.format(Locale.ROOT, "infinityj: %d images in %.1f s (%.1f s per image; model loaded once in %.1f s)",
                        index, (System.nanoTime() - runStart) / 1e9, (System.nanoTime() - runStart) / 1e9 / index, loadSeconds));
            stdout.flush();
            err.flush();
        }
        return 0;
    }

    private int keep(Job j) {
        if (j.initImage == null) return 0;
        return j.keepScales != null ? j.keepScales : j.schedule.scales() / 2;
    }

    static Path previewPath(Path target, int scale) {
        String f = target.getFileName().toString();
        String stem = f.substring(0, f.length() - 4);
        return target.resolveSibling(String.format(Locale.ROOT, "%s.scale-%02d.png", stem, scale + 1));
    }

    // ------------------------------------------------------------------ options → job

    private void applyCli(Job j, ModelOptions.Source source) {
        if (prompt != null) j.prompt = prompt;
        if (negativePrompt != null) j.negative = negativePrompt;
        if (seed != null) {
            if (seed < -1) throw new BadInputException("--seed must be >= 0 (or -1 = random), got " + seed);
            j.seed = seed;
        }
        if (cfg != null) j.cfg = PerScaleList.parse("--cfg", cfg);
        if (tau != null) j.tau = PerScaleList.parse("--tau", tau);
        if (topK != null) j.topK = topK;
        if (topP != null) j.topP = topP;
        if (cfgUntilScale != null) j.cfgUntil = cfgUntilScale;
        if (batch != null) j.batch = batch;
        if (out != null) j.out = new OutputPattern(out);
        if (initImage != null) j.initImage = initImage;
        if (keepScales != null) j.keepScales = keepScales;
        if (keepScales != null && initImage == null && j.initImage == null) throw new BadInputException("--keep-scales needs --init-image FILE");
        if (aspect != null && (width != null || height != null)) throw new BadInputException("--aspect excludes --width/--height");
        if ((width == null) != (height == null)) throw new BadInputException("--width and --height go together");
        if (pn != null && resolution != null) throw new BadInputException("--pn and --resolution are the same setting; give one");
        if (aspect != null) { j.hDivW = parseAspect("--aspect", aspect); j.aspectText = aspect; }
        if (pn != null) j.budget = ScaleSchedules.PixelBudget.parse(pn.endsWith("M") || pn.endsWith("m") ? pn.toUpperCase(Locale.ROOT) : pn + "M");
        if (resolution != null) j.budget = budgetForSide("--resolution", resolution, true);
        if (width != null) {
            for (int[] v : new int[][] {{width, 0}, {height, 1}})
                if (v[0] < 16 || v[0] > 8192) throw new BadInputException((v[1] == 0 ? "--width" : "--height") + " must be in [16, 8192], got " + v[0]);
            j.hDivW = (double) height / width;
            if (j.budget == null) j.budget = budgetForSide("--width/--height", (int) Math.round(Math.sqrt((double) width * height)), false);
            j.aspectText = width + "x" + height;
        }
        if (j.budget == null && replayBudget == null) j.budget = source.random() ? ScaleSchedules.PixelBudget.P0_06M : ScaleSchedules.PixelBudget.P1M;
        if (j.budget == null) j.budget = replayBudget;
    }

    private ScaleSchedules.PixelBudget replayBudget;

    /** "16:9" = width:height → h/w 9/16; a plain number is W/H. */
    static double parseAspect(String option, String text) {
        String t = text.trim();
        double wOverH;
        try {
            if (t.contains(":")) {
                String[] p = t.split(":");
                if (p.length != 2) throw new NumberFormatException();
                wOverH = Double.parseDouble(p[0]) / Double.parseDouble(p[1]);
            } else wOverH = Double.parseDouble(t);
        } catch (NumberFormatException e) {
            throw new BadInputException(option + ": '" + text + "' is not an aspect ratio (expected W:H such as 1:1, 16:9, 3:4, or a number W/H)");
        }
        if (!(wOverH >= 0.2 && wOverH <= 5) || Double.isNaN(wOverH))
            throw new BadInputException(option + ": " + text + " is out of range (W/H must be between 1:5 and 5:1; the templates span 1:3 to 3:1)");
        return 1 / wOverH;
    }

    static ScaleSchedules.PixelBudget budgetForSide(String option, int side, boolean exact) {
        int[] sides = {256, 512, 768, 1024};
        ScaleSchedules.PixelBudget[] b = ScaleSchedules.PixelBudget.values();
        if (exact) {
            for (int i = 0; i < sides.length; i++) if (sides[i] == side) return b[i];
            throw new BadInputException(option + ": " + side + " is not a supported resolution (expected 256, 512, 768 or 1024)");
        }
        int best = 0;
        for (int i = 1; i < sides.length; i++) if (Math.abs(sides[i] - side) < Math.abs(sides[best] - side)) best = i;
        return b[best];
    }

    private void applyOverrides(Job j, Map<String, String> ov) {
        String w = j.where;
        try {
            for (Map.Entry<String, String> e : ov.entrySet()) {
                String v = e.getValue();
                switch (e.getKey()) {
                    case "negative_prompt" -> j.negative = v;
                    case "seed" -> { j.seed = parseLong("seed", v); if (j.seed < -1) throw new BadInputException("seed must be >= 0, got " + v); }
                    case "cfg" -> j.cfg = PerScaleList.parse("cfg", v);
                    case "tau" -> j.tau = PerScaleList.parse("tau", v);
                    case "top_k" -> j.topK = (int) parseLong("top_k", v);
                    case "top_p" -> j.topP = parseDouble("top_p", v);
                    case "aspect" -> { j.hDivW = parseAspect("aspect", v); j.aspectText = v; }
                    case "pn" -> j.budget = ScaleSchedules.PixelBudget.parse(v);
                    case "batch" -> j.batch = (int) parseLong("batch", v);
                    case "out" -> j.out = new OutputPattern(v);
                    default -> throw new BadInputException("unknown key " + e.getKey());
                }
            }
        } catch (BadInputException e) {
            throw new BadInputException(w + e.getMessage());
        }
    }

    private static long parseLong(String key, String v) {
        try { return Long.parseLong(v.endsWith(".0") ? v.substring(0, v.length() - 2) : v); }
        catch (NumberFormatException e) { throw new BadInputException(key + ": '" + v + "' is not an integer"); }
    }

    private static double parseDouble(String key, String v) {
        try { return Double.parseDouble(v); }
        catch (NumberFormatException e) { throw new BadInputException(key + ": '" + v + "' is not a number"); }
    }

    /** Schedule, per-scale lists and ranges of one job (errors name the option and, for prompts files, the line). */
    private void resolve(Job j, ModelOptions.Source source) {
        String w = j.where;
        try {
            j.schedule = ScaleSchedules.forAspect(j.hDivW, j.budget);
            double template = j.schedule.template();
            if (j.aspectText != null && Math.abs(template - j.hDivW) > 1e-3)
                j.sizeNote = String.format(Locale.ROOT, "%s snapped to the nearest template h/w %s: %dx%d px (%s)", j.aspectText, template,
                        j.schedule.pixelWidth(), j.schedule.pixelHeight(), j.budget.label);
            else if (width != null && (width != j.schedule.pixelWidth() || height != j.schedule.pixelHeight()))
                j.sizeNote = String.format(Locale.ROOT, "%dx%d snapped to %dx%d px (template h/w %s, %s)", width, height,
                        j.schedule.pixelWidth(), j.schedule.pixelHeight(), template, j.budget.label);
            int k = j.schedule.scales();
            j.cfg.requireRange(0, true, 100);
            j.tau.requireRange(0, false, 100);
            j.cfgValues = j.cfg.expand(k);
            j.tauValues = j.tau.expand(k);
            if (j.topK < 0 || j.topK > 1_000_000) throw new BadInputException("--top-k must be in [0, 1000000] (0 = off), got " + j.topK);
            if (!(j.topP >= 0 && j.topP <= 1)) throw new BadInputException("--top-p must be in [0, 1] (0 = off), got " + j.topP);
            if (j.cfgUntil < 0 || j.cfgUntil > k)
                throw new BadInputException("--cfg-until-scale must be in [0, " + k + "] for this " + k + "-scale schedule (0 = CFG on every scale), got " + j.cfgUntil);
            if (j.batch < 1 || j.batch > 10_000) throw new BadInputException("--batch must be in [1, 10000], got " + j.batch);
            if (j.keepScales != null && (j.keepScales < 0 || j.keepScales > k))
                throw new BadInputException("--keep-scales must be in [0, " + k + "] for this " + k + "-scale schedule, got " + j.keepScales);
            if (j.prompt.isBlank()) throw new BadInputException("--prompt: empty prompt");
        } catch (BadInputException e) {
            throw w.isEmpty() ? e : new BadInputException(w + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ metadata and replay

    Map<String, String> metadata(Job j, long s, Pipeline pipe) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", 1);
        m.put("prompt", j.prompt);
        m.put("negative_prompt", j.negative == null ? "" : j.negative);
        m.put("seed", s);
        m.put("cfg", toList(j.cfgValues));
        m.put("tau", toList(j.tauValues));
        m.put("top_k", j.topK);
        m.put("top_p", j.topP);
        m.put("cfg_until_scale", j.cfgUntil);
        m.put("template", j.schedule.template());
        m.put("pn", j.schedule.budget().label);
        m.put("width", j.schedule.pixelWidth());
        m.put("height", j.schedule.pixelHeight());
        m.put("scales", j.schedule.scales());
        if (j.initImage != null) {
            m.put("init_image", j.initImage.toString());
            m.put("init_image_sha256", Checksums.sha256(j.initImage));
            m.put("keep_scales", keep(j));
        }
        m.put("model", pipe.modelInfo());
        m.put("tokenizer", pipe.tokenizerDescription());
        Map<String, String> t = new LinkedHashMap<>();
        t.put("Software", "infinityj");
        t.put("prompt", j.prompt);
        if (j.negative != null && !j.negative.isBlank()) t.put("negative_prompt", j.negative);
        t.put("seed", Long.toString(s));
        t.put("parameters", j.prompt + (j.negative != null && !j.negative.isBlank() ? "\nNegative prompt: " + j.negative : "")
                + String.format(Locale.ROOT, "\nSteps: %d scales, Sampler: Infinity bitwise, CFG scale: %s, Tau: %s, Top-k: %d, Top-p: %s, Seed: %d, Size: %dx%d, Model: %s",
                j.schedule.scales(), compact(j.cfgValues), compact(j.tauValues), j.topK, j.topP, s, j.schedule.pixelWidth(), j.schedule.pixelHeight(), modelName(pipe)));
        t.put(META_KEY, Json.write(m));
        return t;
    }

    private static String modelName(Pipeline pipe) {
        Map<String, Object> i = pipe.modelInfo();
        return i.containsKey("preset") ? i.get("preset") + " (random weights)" : String.valueOf(i.get("model_dir"));
    }

    /** "3" when every scale has the same value, else "3,3,2.5,...". */
    static String compact(double[] v) {
        boolean same = true;
        for (double x : v) same &= x == v[0];
        return new PerScaleList("", same ? new double[] {v[0]} : v).toString();
    }

    private static List<Object> toList(double[] v) {
        List<Object> l = new ArrayList<>();
        for (double x : v) l.add(x);
        return l;
    }

    private static Map<String, Object> readReplay(Path png) {
        Png.Decoded d = Png.read(png);
        String meta = d.text().get(META_KEY);
        if (meta == null) throw new BadInputException("--from-png " + png + ": no infinityj metadata (tEXt '" + META_KEY + "'); only PNGs written by infinityj generate can be replayed");
        return Json.parseObject(meta, "--from-png " + png);
    }

    private void applyReplay(Job j, Map<String, Object> m) {
        String w = "--from-png " + fromPng + ": ";
        try {
            j.prompt = (String) m.get("prompt");
            String neg = (String) m.get("negative_prompt");
            j.negative = neg == null || neg.isEmpty() ? null : neg;
            j.seed = ((Number) m.get("seed")).longValue();
            j.cfg = PerScaleList.parse("--cfg", joined(m.get("cfg")));
            j.tau = PerScaleList.parse("--tau", joined(m.get("tau")));
            j.topK = ((Number) m.get("top_k")).intValue();
            j.topP = ((Number) m.get("top_p")).doubleValue();
            j.cfgUntil = ((Number) m.get("cfg_until_scale")).intValue();
            j.hDivW = ((Number) m.get("template")).doubleValue();
            replayBudget = ScaleSchedules.PixelBudget.parse((String) m.get("pn"));
            if (m.get("init_image") instanceof String s) {
                j.initImage = Path.of(s);
                j.keepScales = ((Number) m.get("keep_scales")).intValue();
            }
        } catch (ClassCastException | NullPointerException e) {
            throw new BadInputException(w + "incomplete or invalid infinityj metadata");
        }
        if (j.prompt == null) throw new BadInputException(w + "metadata has no prompt");
    }

    private static String joined(Object o) {
        if (!(o instanceof List<?> l)) throw new ClassCastException();
        StringBuilder b = new StringBuilder();
        for (Object x : l) b.append(b.isEmpty() ? "" : ",").append(x);
        return b.toString();
    }

    private void checkReplayModel(Map<String, Object> replay, Pipeline pipe, PrintWriter err) {
        if (replay == null || !(replay.get("model") instanceof Map<?, ?> was)) return;
        Map<String, Object> now = pipe.modelInfo();
        boolean same = was.containsKey("checksums") ? String.valueOf(was.get("checksums")).equals(String.valueOf(now.get("checksums")))
                : String.valueOf(was.get("preset")).equals(String.valueOf(now.get("preset")))
                && String.valueOf(was.get("weight_seed")).equals(String.valueOf(now.get("weight_seed")))
                && String.valueOf(was.get("tokenizer")).equals(String.valueOf(now.get("tokenizer")));
        if (!same) err.println("infinityj: warning: --from-png " + fromPng + " was made with another model (" + Json.write(was)
                + "); the replay will not give the same image");
        if (replay.get("init_image") instanceof String s && replay.get("init_image_sha256") instanceof String sha
                && Files.isRegularFile(Path.of(s)) && !sha.equals(Checksums.sha256(Path.of(s))))
            err.println("infinityj: warning: --init-image " + s + " changed since the PNG was made; the replay will differ");
    }

    // ------------------------------------------------------------------ reporting

    private void report(PrintWriter stdout, Progress progress, Path target, Job j, long s, Pipeline.Output o, List<String> notes) {
        Pipeline.Timings t = o.timings();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("file", target.toString());
            m.put("prompt", j.prompt);
            m.put("seed", s);
            m.put("width", o.image().width());
            m.put("height", o.image().height());
            m.put("template", o.schedule().template());
            m.put("pn", o.schedule().budget().label);
            m.put("prompt_tokens", o.promptTokens());
            m.put("timings_ms", Timing.toJson(t, o.schedule()));
            m.put("notes", notes);
            stdout.println(Json.write(m));
        } else {
            stdout.printf(Locale.ROOT, "wrote %s (%dx%d, seed %d, %.1f s)%n", target, o.image().width(), o.image().height(), s, t.totalNanos() / 1e9);
            if (!quiet) for (String line : Timing.table(t, o.schedule()).split("\n")) progress.message(line);
        }
        stdout.flush();
    }

    static RgbImage readInitImage(Path p) {
        if (!Files.isRegularFile(p)) throw new BadInputException("--init-image " + p + ": file not found");
        try { return Png.read(p).image(); }
        catch (BadInputException e) { throw new BadInputException("--init-image " + e.getMessage()); }
    }
}
