package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a weight file for the CLI commands. */
final class WeightFiles {
    private WeightFiles() {}

    static WeightSource open(Path p) {
        if (!Files.exists(p)) throw new BadInputException("weights " + p + " not found");
        if (p.toString().endsWith(".safetensors")) return SafetensorsFile.open(p);
        throw new BadInputException("weights " + p + ": only .safetensors can be read by this build (the .pth reader is not merged yet)");
    }
}
