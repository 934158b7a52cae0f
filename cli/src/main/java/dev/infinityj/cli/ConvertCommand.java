package dev.infinityj.cli;

import dev.infinityj.io.Converter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code infinityj convert}: any checkpoint → safetensors in the native layout (docs/weights.md). */
@Command(name = "convert",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Convert a checkpoint (.pth/.pt/.bin PyTorch archive, .safetensors, or a sharded safetensors "
                + "folder or index) into one .safetensors file in infinityj's native layout (docs/weights.md): the "
                + "checkpoint's key names with wrapper prefixes (module., _orig_mod.) stripped, floating tensors cast to "
                + "--dtype, integer buffers kept, nothing transposed or fused. The file is written under a temporary name "
                + "and renamed only when complete.")
public final class ConvertCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "INPUT", description = "Checkpoint to convert.")
    Path input;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "Output .safetensors file (replaced atomically if it exists).")
    Path out;

    @Option(names = "--dtype", paramLabel = "bf16|f32|keep", defaultValue = "bf16",
            description = "Precision of floating tensors: bf16 (default, round-to-nearest-even), f32, or keep.")
    String dtype;

    @Option(names = "--key", paramLabel = "PATH",
            description = "Key path of the state dict inside a PyTorch archive (e.g. vae, model/ema); default: automatic.")
    String key;

    @Override
    public Integer call() {
        Converter.Precision precision;
        try {
            precision = Converter.Precision.parse(dtype);
        } catch (dev.infinityj.BadInputException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "invalid value for option '--dtype': '" + dtype + "' (expected bf16, f32 or keep)");
        }
        Converter.Result r = Converter.convert(input, key, out, precision);
        var o = spec.commandLine().getOut();
        o.printf("wrote %s: %d tensors, %s data bytes, dtype %s, model kind %s%n", r.output(), r.tensors(),
                InspectCommand.groupDigits(r.dataBytes()), precision.label(), r.kind().label());
        if (!r.skipped().isEmpty())
            spec.commandLine().getErr().println("infinityj: note: skipped " + r.skipped().size() + " non-tensor entr"
                    + (r.skipped().size() == 1 ? "y" : "ies") + ": " + String.join(", ", r.skipped()));
        o.flush();
        return 0;
    }
}
