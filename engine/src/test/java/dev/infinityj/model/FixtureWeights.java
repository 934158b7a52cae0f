package dev.infinityj.model;

import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a fixture's transformer weights with the io package's {@code Checkpoints.open} (.pth
 * reader, from the io branch). Until that class is on the classpath, a throwaway safetensors
 * conversion in /tmp/ij is used where present; otherwise the test is skipped.
 */
final class FixtureWeights {
    private FixtureWeights() {}

    static WeightSource open(Path dir) {
        try {
            Class<?> c = Class.forName("dev.infinityj.io.Checkpoints");
            return (WeightSource) c.getMethod("open", Path.class).invoke(null, dir.resolve("model.pth"));
        } catch (ClassNotFoundException e) {
            Path st = Path.of("/tmp/ij", dir.getFileName().toString(), "model.safetensors");
            Assumptions.assumeTrue(Files.exists(st), "skipped: no .pth reader yet and no converted " + st);
            return SafetensorsFile.open(st);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause() instanceof RuntimeException re ? re : new RuntimeException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new RuntimeException(e);
        }
    }
}
