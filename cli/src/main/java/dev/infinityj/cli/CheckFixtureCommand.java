package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.WeightSource;
import dev.infinityj.model.FixtureCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code infinityj check-fixture DIR}: runs a fixture folder (config.json + model weights +
 * case.safetensors, the format of ../shared/fixtures) teacher-forced and prints, per scale, the
 * max abs / relative error of the cond, uncond and CFG logits (against {@code *.f64_nobf16}) and
 * of the accumulated latent. Exit status 1 when an acceptance bound of issue 3 is exceeded.
 */
@Command(name = "check-fixture", mixinStandardHelpOptions = true,
        description = "Teacher-forced conformance check of the transformer on a fixture folder (config.json, model.pth, case.safetensors).")
public final class CheckFixtureCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "DIR", description = "fixture folder")
    Path dir;

    @Option(names = "--weights", paramLabel = "FILE", description = "transformer weights, any format Checkpoints reads (default: DIR/model.pth, or DIR/model.safetensors)")
    Path weights;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (!Files.isDirectory(dir)) throw new BadInputException("check-fixture: " + dir + " is not a folder");
        for (String f : new String[]{"config.json", "case.safetensors"})
            if (!Files.isRegularFile(dir.resolve(f))) throw new BadInputException("check-fixture: " + dir.resolve(f) + " not found");
        Path w = weights != null ? weights : Files.exists(dir.resolve("model.pth")) ? dir.resolve("model.pth") : dir.resolve("model.safetensors");
        PrintWriter out = spec.commandLine().getOut();
        FixtureCheck.Report r;
        try (WeightSource src = Checkpoints.open(w)) {
            r = FixtureCheck.run(dir, src, new CpuBackend(), null);
        }
        out.printf(Locale.ROOT, "%s (teacher-forced; logits vs *.f64_nobf16; max abs / relative to the reference's max)%n", r.name());
        out.printf(Locale.ROOT, "%-5s %-7s %-22s %-22s %-22s %s%n", "scale", "grid", "logits_cond", "logits_uncond", "logits_cfg", "latent");
        for (FixtureCheck.ScaleErr e : r.scales())
            out.printf(Locale.ROOT, "%-5d %-7s %-22s %-22s %-22s %s%n", e.scale(), e.grid().h() + "x" + e.grid().w(),
                    fmt(e.cond()), e.uncond() == null ? "-" : fmt(e.uncond()), fmt(e.cfg()), fmt(e.latent()));
        out.printf(Locale.ROOT, "all   mean  %-22s %-22s %-22s%n", String.format(Locale.ROOT, "%.3g", r.cond().meanAbs()),
                r.uncond() == null ? "-" : String.format(Locale.ROOT, "%.3g", r.uncond().meanAbs()), String.format(Locale.ROOT, "%.3g", r.cfg().meanAbs()));
        if (r.zeroProbBits() > 0)
            out.printf(Locale.ROOT, "note: %d recorded bits sit on the top-p boundary and get probability 0 from these (unrounded) logits%n", r.zeroProbBits());
        List<String> fails = r.failures();
        out.printf(Locale.ROOT, "bounds: logits_cond/uncond max %.2g mean %.2g, logits_cfg max %.2g mean %.2g, latent max %.2g%n",
                FixtureCheck.COND_MAX, FixtureCheck.COND_MEAN, FixtureCheck.CFG_MAX, FixtureCheck.CFG_MEAN, FixtureCheck.LATENT_MAX);
        if (fails.isEmpty()) {
            out.println("PASS");
            return 0;
        }
        for (String f : fails) out.println("FAIL: " + f);
        return 1;
    }

    private static String fmt(FixtureCheck.Err e) {
        return String.format(Locale.ROOT, "%.3g / %.3g", e.maxAbs(), e.relative());
    }
}
