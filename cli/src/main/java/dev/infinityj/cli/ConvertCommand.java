package dev.infinityj.cli;

import dev.infinityj.io.Converter;
import dev.infinityj.pipeline.ModelConverter;
import dev.infinityj.pipeline.ModelDirectory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code infinityj convert}, two forms: the published files → a model directory
 * ({@code --transformer/--vae/--t5 --out DIR}, {@link ModelConverter}), or one checkpoint → one
 * safetensors file in the native layout ({@code INPUT --out FILE}, {@link Converter}).
 */
@Command(name = "convert",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        customSynopsis = {
                "infinityj convert [--transformer FILE] [--vae FILE] [--t5 DIR [--t5-tokenizer FILE]] --out MODEL_DIR [--dtype bf16|f32] [--layout packed|plain] [--no-pairing-check] [--quiet]",
                "infinityj convert INPUT --out FILE.safetensors [--dtype bf16|f32|keep] [--layout packed|plain] [--key PATH]"},
        description = {
                "Model directory form: converts the published files (infinity_2b_reg.pth, infinity_vae_d32reg.pth, a "
                        + "google/flan-t5-xl folder) into MODEL_DIR, the folder --model reads: transformer.safetensors, "
                        + "vae.safetensors, t5/ (config.json, encoder-only model.safetensors, spiece.model/tokenizer.json) and "
                        + "manifest.json (each file's sha256, size, source and the source's sha256, and the pairing). Parts that "
                        + "do not belong together (transformer vs VAE codebook dim, transformer text channels vs T5 d_model) are "
                        + "refused before anything is written. Any part may be given alone to add or replace it in an existing "
                        + "MODEL_DIR. Files are staged in a hidden folder beside MODEL_DIR and moved in only when all are complete.",
                "Single-file form: converts one checkpoint (.pth/.pt/.bin PyTorch archive, .safetensors, or a sharded "
                        + "safetensors folder or index) into one .safetensors file in infinityj's native layout (docs/weights.md): "
                        + "the checkpoint's key names with wrapper prefixes (module., _orig_mod.) stripped, floating tensors cast "
                        + "to --dtype, integer buffers kept, nothing fused, written under a temporary name and "
                        + "renamed only when complete.",
                "Layout: by default (--layout packed) the Linear weights of an Infinity transformer and of a T5 encoder "
                        + "with rows a multiple of 16 are stored pre-packed in the CPU GEMM's panel order under their usual keys, "
                        + "declared in the file's metadata (infinityj.layout = linear-panel16-v1, infinityj.packed_keys), so "
                        + "loading them is zero-copy; --layout plain keeps every tensor in its PyTorch shape. The VAE is always plain.",
                ""})
public final class ConvertCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "INPUT", description = "Single-file form: the checkpoint to convert.")
    Path input;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR|FILE",
            description = "Model directory (with --transformer/--vae/--t5), or the output .safetensors file (with INPUT). Replaced atomically.")
    Path out;

    @Option(names = "--transformer", paramLabel = "FILE", description = "Infinity transformer checkpoint, e.g. infinity_2b_reg.pth.")
    Path transformer;

    @Option(names = "--vae", paramLabel = "FILE", description = "BSQ-VAE checkpoint, e.g. infinity_vae_d32reg.pth.")
    Path vae;

    @Option(names = "--t5", paramLabel = "DIR",
            description = "Hugging Face Flan-T5 folder (google/flan-t5-xl): config.json, model.safetensors or its shards "
                    + "(or pytorch_model.bin), spiece.model and/or tokenizer.json.")
    Path t5;

    @Option(names = "--t5-tokenizer", paramLabel = "FILE",
            description = "spiece.model or tokenizer.json to copy into t5/ when the --t5 folder has none.")
    Path t5Tokenizer;

    @Option(names = "--no-pairing-check", description = "Convert parts that do not pair (mismatched dims) anyway; the manifest records the numbers.")
    boolean noPairingCheck;

    @Option(names = {"-q", "--quiet"}, description = "No progress lines on stderr.")
    boolean quiet;

    @Option(names = "--dtype", paramLabel = "bf16|f32|keep", defaultValue = "bf16",
            description = "Precision of floating tensors: bf16 (default, round-to-nearest-even), f32, or keep (single-file form only).")
    String dtype;

    @Option(names = "--layout", paramLabel = "packed|plain", defaultValue = "packed",
            description = "How the transformer's Linear weights are stored: packed (default, zero-copy load on the CPU) or plain (PyTorch [out, in]).")
    String layout;

    @Option(names = "--key", paramLabel = "PATH",
            description = "Single-file form: key path of the state dict inside a PyTorch archive (e.g. vae, model/ema); default: automatic.")
    String key;

    @Override
    public Integer call() {
        Converter.Precision precision;
        try {
            precision = Converter.Precision.parse(dtype);
        } catch (dev.infinityj.BadInputException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "invalid value for option '--dtype': '" + dtype + "' (expected bf16, f32 or keep)");
        }
        Converter.Layout lay;
        try {
            lay = Converter.Layout.parse(layout);
        } catch (dev.infinityj.BadInputException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "invalid value for option '--layout': '" + layout + "' (expected packed or plain)");
        }
        boolean dirForm = transformer != null || vae != null || t5 != null;
        if (dirForm && input != null)
            throw new CommandLine.ParameterException(spec.commandLine(), "give either INPUT (one file) or --transformer/--vae/--t5 (a model directory), not both");
        if (!dirForm && input == null)
            throw new CommandLine.ParameterException(spec.commandLine(), "nothing to convert: give --transformer, --vae and/or --t5 with --out MODEL_DIR, or INPUT --out FILE");
        return dirForm ? modelDirectory(precision, lay) : singleFile(precision, lay);
    }

    private int modelDirectory(Converter.Precision precision, Converter.Layout lay) {
        if (precision == Converter.Precision.KEEP)
            throw new CommandLine.ParameterException(spec.commandLine(), "invalid value for option '--dtype': 'keep' applies only to the single-file form (expected bf16 or f32)");
        if (key != null)
            throw new CommandLine.ParameterException(spec.commandLine(), "--key applies only to the single-file form (INPUT --out FILE)");
        if (t5Tokenizer != null && t5 == null)
            throw new CommandLine.ParameterException(spec.commandLine(), "--t5-tokenizer applies only together with --t5");
        PrintWriter err = spec.commandLine().getErr();
        ModelConverter.Listener progress = quiet ? null : (file, tensors, bytes, seconds) -> {
            err.println(String.format(Locale.ROOT, "infinityj: wrote %s: %s%s bytes, %.1f s", file,
                    tensors > 0 ? tensors + " tensors, " : "", InspectCommand.groupDigits(bytes), seconds));
            err.flush();
        };
        ModelConverter.Result r = ModelConverter.convert(new ModelConverter.Request(transformer, vae, t5, t5Tokenizer, out,
                precision, !noPairingCheck, lay), progress);
        var o = spec.commandLine().getOut();
        o.printf("wrote model directory %s (%s, %s layout): %s%n", r.dir(), precision.label(), lay.label(),
                String.join(", ", r.files().stream().map(ModelDirectory.FileEntry::file).toList()));
        String why = r.pairing().mismatch();
        if (why != null && !quiet) err.println("infinityj: warning: " + why + " (converted because of --no-pairing-check)");
        o.flush();
        return 0;
    }

    private int singleFile(Converter.Precision precision, Converter.Layout lay) {
        Converter.Result r = Converter.convert(input, key, out, precision, lay);
        var o = spec.commandLine().getOut();
        o.printf("wrote %s: %d tensors, %s data bytes, dtype %s, model kind %s, layout %s%n", r.output(), r.tensors(),
                InspectCommand.groupDigits(r.dataBytes()), precision.label(), r.kind().label(),
                r.packed() > 0 ? dev.infinityj.io.PackedLayout.PANEL16_V1 + " (" + r.packed() + " Linear weights packed)" : dev.infinityj.io.PackedLayout.PLAIN);
        if (!r.skipped().isEmpty())
            spec.commandLine().getErr().println("infinityj: note: skipped " + r.skipped().size() + " non-tensor entr"
                    + (r.skipped().size() == 1 ? "y" : "ies") + ": " + String.join(", ", r.skipped()));
        o.flush();
        return 0;
    }
}
