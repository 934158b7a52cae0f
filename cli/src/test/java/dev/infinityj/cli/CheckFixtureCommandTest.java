package dev.infinityj.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckFixtureCommandTest {

    private record Run(int rc, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int rc = cl.execute(args);
        return new Run(rc, out.toString(), err.toString());
    }

    @Test
    void missingFolderIsOneLineError(@TempDir Path tmp) {
        Run r = run("check-fixture", tmp.resolve("nope").toString());
        assertEquals(1, r.rc());
        assertTrue(r.err().startsWith("infinityj: error: check-fixture:") && r.err().strip().lines().count() == 1, r.err());
        r = run("check-fixture", tmp.toString());
        assertEquals(1, r.rc());
        assertTrue(r.err().contains("config.json not found"), r.err());
    }

    @Test
    void tinyFixturePasses() {
        Path dir = Path.of(System.getProperty("infinityj.fixtures", "../shared/fixtures")).resolve("infinity-tiny-a").toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.isDirectory(dir), "skipped: " + dir + " not found");
        List<String> args = new ArrayList<>(List.of("check-fixture", dir.toString()));
        boolean pthReader;
        try { Class.forName("dev.infinityj.io.Checkpoints"); pthReader = true; } catch (ClassNotFoundException e) { pthReader = false; }
        if (!pthReader) {
            Path st = Path.of("/tmp/ij/infinity-tiny-a/model.safetensors");
            Assumptions.assumeTrue(Files.exists(st), "skipped: no .pth reader on the classpath and no converted " + st);
            args.addAll(List.of("--weights", st.toString()));
        }
        Run r = run(args.toArray(String[]::new));
        assertEquals(0, r.rc(), r.out() + r.err());
        assertTrue(r.out().contains("PASS"), r.out());
        assertEquals(7, r.out().lines().filter(l -> l.matches("^[0-6] +\\d+x\\d+ .*")).count(), r.out());
    }
}
