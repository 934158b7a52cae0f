package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.InfinityjException;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;

import java.lang.reflect.InvocationTargetException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a weight file for the CLI commands through the io package's {@code Checkpoints.open(Path)}
 * (.pth, safetensors, shard sets). Bridge: that class lands from the io branch; until it is on the
 * classpath only .safetensors files are read (here directly). Replace by a plain call once merged.
 */
final class WeightFiles {
    private WeightFiles() {}

    static WeightSource open(Path p) {
        if (!Files.exists(p)) throw new BadInputException("weights " + p + " not found");
        try {
            Class<?> c = Class.forName("dev.infinityj.io.Checkpoints");
            return (WeightSource) c.getMethod("open", Path.class).invoke(null, p);
        } catch (ClassNotFoundException e) {
            if (p.toString().endsWith(".safetensors")) return SafetensorsFile.open(p);
            throw new BadInputException("weights " + p + ": only .safetensors can be read by this build (no .pth reader on the classpath)");
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof InfinityjException ie) throw ie;
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
