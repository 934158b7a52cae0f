package dev.infinityj.cli;

import picocli.CommandLine;

import java.io.InputStream;
import java.util.Properties;

/** --version: our version plus the runtime facts that matter for speed (JDK, vector width, cores). */
public final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() throws Exception {
        Properties p = new Properties();
        try (InputStream in = VersionProvider.class.getResourceAsStream("/infinityj-version.properties")) {
            if (in != null) p.load(in);
        }
        String vector;
        try {
            vector = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit";
        } catch (Throwable t) {
            vector = "unavailable (run with --add-modules jdk.incubator.vector)";
        }
        return new String[] {
                "infinityj " + p.getProperty("version", "dev"),
                "JVM: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"),
                "OS: " + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                        + ", " + Runtime.getRuntime().availableProcessors() + " logical CPUs",
                "Vector API: " + vector + " floats",
        };
    }
}
