package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backends;
import dev.infinityj.image.RgbImage;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.pipeline.BitsFile;
import dev.infinityj.pipeline.Pipeline;
import dev.infinityj.util.AtomicFiles;
import dev.infinityj.util.Json;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code infinityj tokenize IMAGE --out BITS}: an image → its multi-scale bits (VAE encoder + BSQ), as a bits file. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Encode an image into Infinity's multi-scale bits (VAE encoder + multi-scale BSQ) and write a bits file.",
                "Bits file: safetensors, one U8 tensor scale.NN [h, w, d] per scale + metadata (docs/generate.md).",
                "For the T5 token ids of a prompt, see tokenize-text."})
public final class TokenizeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "PNG image (resized to cover and centre-cropped to the schedule's size, as the official transform).")
    Path image;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "Bits file to write (.safetensors).")
    Path out;

    @Option(names = "--aspect", paramLabel = "W:H", description = "Aspect ratio (default: the image's own, snapped to the nearest template).")
    String aspect;

    @Option(names = "--pn", paramLabel = "BUDGET", description = "Pixel budget 0.06M, 0.25M, 0.60M or 1M (default: the one nearest the image's size).")
    String pn;

    @Option(names = {"-q", "--quiet"}, description = "No notes on stderr.")
    boolean quiet;

    @Mixin
    ModelOptions modelOptions = new ModelOptions();

    /** The schedule for an image: --aspect or the image's ratio; --pn or the budget nearest its size. */
    static ScaleSchedules.Schedule scheduleFor(RgbImage img, String aspect, String pn) {
        double hDivW = aspect != null ? GenerateCommand.parseAspect("--aspect", aspect) : (double) img.height() / img.width();
        ScaleSchedules.PixelBudget b = pn != null ? ScaleSchedules.PixelBudget.parse(pn.matches("(?i).*m") ? pn.toUpperCase(Locale.ROOT) : pn + "M")
                : GenerateCommand.budgetForSide("--pn", (int) Math.round(Math.sqrt((double) img.width() * img.height())), false);
        return ScaleSchedules.forAspect(hDivW, b);
    }

    @Override
    public Integer call() {
        PrintWriter stdout = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (!out.getFileName().toString().endsWith(".safetensors"))
            throw new BadInputException("--out " + out + ": a bits file must end in .safetensors");
        AtomicFiles.checkWritable(out, "--out");
        RgbImage img = readImage("IMAGE", image);
        ScaleSchedules.Schedule s = scheduleFor(img, aspect, pn);
        ModelOptions.Source src = modelOptions.source(null, null);
        try (Backends.Selection sel = modelOptions.backend(); Pipeline p = modelOptions.load(src, sel)) {
            if (!quiet) {
                if (sel.note() != null) err.println("infinityj: note: " + sel.note());
                for (String n : p.notes()) if (!n.startsWith("no spiece")) err.println("infinityj: note: " + n);
            }
            Pipeline.Tokens t = p.tokenize(img, s);
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("source", image.getFileName().toString());
            meta.put("model", Json.write(p.modelInfo()));
            BitsFile.write(out, s, t.tokenBits(), t.bits(), meta);
            stdout.printf(Locale.ROOT, "wrote %s: %d scales (%s), %dx%d px, %d bits per token, %.1f s%n", out, s.scales(), BitsFile.grids(s),
                    s.pixelWidth(), s.pixelHeight(), t.tokenBits(), t.encodeNanos() / 1e9);
        }
        stdout.flush();
        err.flush();
        return 0;
    }

    static RgbImage readImage(String what, Path p) {
        if (!java.nio.file.Files.isRegularFile(p)) throw new BadInputException(what + " " + p + ": file not found");
        return dev.infinityj.image.Png.read(p).image();
    }
}
