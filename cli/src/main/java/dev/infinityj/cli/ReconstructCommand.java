package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backends;
import dev.infinityj.image.Png;
import dev.infinityj.image.RgbImage;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.pipeline.BitsFile;
import dev.infinityj.pipeline.Pipeline;
import dev.infinityj.util.AtomicFiles;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code infinityj reconstruct INPUT --out PNG}: bits file (or an image, tokenized first) → decoded image. */
@Command(name = "reconstruct", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Decode a bits file (from infinityj tokenize) to a PNG; given a PNG instead, tokenize it first (a VAE round trip).")
public final class ReconstructCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "INPUT", description = "A bits file (.safetensors) or a PNG image.")
    Path input;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "PNG to write.")
    Path out;

    @Option(names = "--aspect", paramLabel = "W:H", description = "For an image input: aspect ratio (default: the image's own).")
    String aspect;

    @Option(names = "--pn", paramLabel = "BUDGET", description = "For an image input: pixel budget (default: nearest the image's size).")
    String pn;

    @Option(names = {"-q", "--quiet"}, description = "No notes on stderr.")
    boolean quiet;

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    @Override
    public Integer call() {
        PrintWriter stdout = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (!out.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) throw new BadInputException("--out " + out + ": must end in .png");
        AtomicFiles.checkWritable(out, "--out");
        boolean isBits = input.getFileName().toString().endsWith(".safetensors");
        BitsFile.Content bits = null;
        RgbImage img = null;
        if (isBits) {
            bits = BitsFile.read(input);
            if (aspect != null || pn != null) throw new BadInputException("--aspect/--pn apply to an image input; a bits file carries its schedule");
        } else img = TokenizeCommand.readImage("INPUT", input);
        ModelOptions.Source src = modelOptions.source(null, null);
        try (Backends.Selection sel = modelOptions.backend(); Pipeline p = modelOptions.load(src, sel)) {
            if (!quiet) {
                if (sel.note() != null) err.println("infinityj: note: " + sel.note());
                for (String n : p.notes()) if (!n.startsWith("no spiece")) err.println("infinityj: note: " + n);
            }
            long t0 = System.nanoTime();
            ScaleSchedules.Schedule s;
            List<byte[]> b;
            if (bits != null) {
                int d = p.transformerConfig().codebookDim();
                if (bits.tokenBits() != d)
                    throw new BadInputException(input + ": " + bits.tokenBits() + " bits per token, but this model uses " + d + " (made with another VAE)");
                s = bits.schedule();
                b = bits.bits();
            } else {
                s = TokenizeCommand.scheduleFor(img, aspect, pn);
                b = p.tokenize(img, s).bits();
            }
            RgbImage rec = p.reconstruct(b, s);
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("Software", "infinityj");
            meta.put("infinityj:reconstructed-from", input.getFileName().toString());
            Png.write(out, rec, meta);
            stdout.printf(Locale.ROOT, "wrote %s (%dx%d, %d scales, %.1f s)%n", out, rec.width(), rec.height(), s.scales(), (System.nanoTime() - t0) / 1e9);
        }
        stdout.flush();
        return 0;
    }
}
