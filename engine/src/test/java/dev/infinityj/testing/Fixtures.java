package dev.infinityj.testing;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates ../shared/fixtures (relative to the project root; surefire passes it as the system
 * property {@code infinityj.fixtures}). Where the folder is absent (a user's clone), tests that
 * need it are skipped with a message; nothing else depends on it.
 */
public final class Fixtures {
    private Fixtures() {}

    public static Path root() {
        String p = System.getProperty("infinityj.fixtures");
        Path root = p != null ? Path.of(p) : Path.of("../shared/fixtures");
        return root.toAbsolutePath().normalize();
    }

    /** The fixture folder {@code name}, or skips the calling test if it is not there. */
    public static Path dir(String name) {
        Path d = root().resolve(name);
        Assumptions.assumeTrue(Files.isDirectory(d),
                "skipped: fixture folder " + d + " not found (the ../shared/fixtures folder ships only with the project's workspace)");
        return d;
    }
}
