package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backend;
import dev.infinityj.backend.Backends;
import dev.infinityj.pipeline.ModelDirectory;
import dev.infinityj.pipeline.Pipeline;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;

/**
 * Where the model comes from and what it runs on, shared by generate, tokenize, reconstruct and
 * bench: {@code --model DIR} (or {@code INFINITYJ_HOME}), or {@code --preset NAME --random-weights};
 * {@code --device cpu|cuda|auto}, {@code --offload} (T5 on the CPU beside a GPU) and {@code --threads}.
 */
public final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Converted model directory (infinityj convert). Default: $INFINITYJ_HOME.")
    Path model;

    @Option(names = "--preset", paramLabel = "NAME",
            description = "Model shape for --random-weights: 2b, 8b, layer12..layer48, tiny.")
    String preset;

    @Option(names = "--random-weights",
            description = "Run the full pipeline on seeded random weights of the preset's real shapes (no files; the image is noise).")
    boolean randomWeights;

    @Option(names = "--weight-seed", paramLabel = "N", defaultValue = "1",
            description = "Seed of the random weights (default: ${DEFAULT-VALUE}).")
    long weightSeed;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "With --random-weights: a spiece.model / tokenizer.json (or a folder with one) instead of the stand-in tokenizer.")
    Path tokenizer;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto",
            description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}: the CPU until the CUDA backend is verified on hardware; says why).")
    String device;

    @Option(names = "--cuda-lib", paramLabel = "DIR", split = ",",
            description = "Extra folders holding libcuda.so.1 / libcublas.so.* (searched first; also LD_LIBRARY_PATH, standard places, pip's site-packages/nvidia/*/lib).")
    List<Path> cudaLib = new java.util.ArrayList<>();

    @Option(names = "--offload",
            description = "Keep the T5 text encoder on the CPU while the transformer and VAE run on the GPU (for cards with about 12 GB). Needs --device cuda; an error with cpu or auto.")
    boolean offload;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "CPU threads (default: 0 = one per physical core).")
    int threads;

    /** What the user asked for, checked before anything is loaded. */
    public record Source(Path modelDir, String preset, boolean random) {
        public String describe() { return random ? "preset " + preset + " (random weights)" : "model directory " + modelDir; }
    }

    /** Checks the options (no loading): exactly one model source. {@code fallbackPreset}: from --from-png metadata. */
    Source source(String fallbackPreset, Long fallbackWeightSeed) {
        if (threads < 0 || threads > 4096) throw new BadInputException("--threads must be in [0, 4096] (0 = one per physical core), got " + threads);
        String dev = device == null ? "auto" : device.trim().toLowerCase(java.util.Locale.ROOT);
        if (!dev.equals("cpu") && !dev.equals("cuda") && !dev.equals("auto"))
            throw new BadInputException("--device: unknown device '" + device + "' (expected cpu, cuda or auto)");
        if (offload && !dev.equals("cuda"))
            throw new BadInputException("--offload keeps the T5 encoder on the CPU while the transformer and VAE run on a GPU: it needs --device cuda"
                    + (dev.equals("cpu") ? " (with --device cpu everything runs on the CPU already)" : " (--device auto runs on the CPU for now)"));
        if (preset != null && !randomWeights)
            throw new BadInputException("--preset " + preset + " needs --random-weights (a preset is only a shape; real weights come from --model DIR)");
        if (randomWeights) {
            if (model != null) throw new BadInputException("--random-weights and --model exclude each other");
            String p = preset != null ? preset : "2b";
            Pipeline.preset(p);
            return new Source(null, p, true);
        }
        if (tokenizer != null) throw new BadInputException("--tokenizer is only used with --random-weights (a model directory has its own)");
        if (model != null) return new Source(model, null, false);
        if (fallbackPreset != null) {   // a random-weights PNG being replayed: its preset beats INFINITYJ_HOME
            Pipeline.preset(fallbackPreset);
            if (fallbackWeightSeed != null) weightSeed = fallbackWeightSeed;
            return new Source(null, fallbackPreset, true);
        }
        String home = System.getenv("INFINITYJ_HOME");
        if (home != null && !home.isBlank()) return new Source(Path.of(home), null, false);
        throw new BadInputException("no model: give --model DIR (or set INFINITYJ_HOME) with converted weights, or run without files: "
                + "--preset 2b --random-weights; to get the real weights, " + ModelDirectory.howToGet());
    }

    Backends.Selection backend() { return Backends.open(device, threads, cudaLib); }

    /**
     * Loads the pipeline once (the caller closes it). With --offload the T5 encoder gets its own CPU
     * backend ({@code --threads} threads), which the pipeline closes last.
     */
    Pipeline load(Source s, Backends.Selection be) {
        Backends.Selection text = offload ? Backends.open("cpu", threads) : null;
        try {
            Backend tb = text == null ? be.backend() : text.backend();
            Pipeline p = s.random() ? Pipeline.random(s.preset(), weightSeed, tokenizer, be.backend(), tb)
                    : Pipeline.load(ModelDirectory.open(s.modelDir()), be.backend(), tb);
            return text == null ? p : p.closeWith(text);
        } catch (RuntimeException e) {
            if (text != null) text.close();
            throw e;
        }
    }
}
