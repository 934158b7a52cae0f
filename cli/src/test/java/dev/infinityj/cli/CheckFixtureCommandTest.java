package dev.infinityj.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

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
        Run r = run("check-fixture", dir.toString());
        assertEquals(0, r.rc(), r.out() + r.err());
        assertTrue(r.out().contains("PASS"), r.out());
        assertEquals(7, r.out().lines().filter(l -> l.matches("^[0-6] +\\d+x\\d+ .*")).count(), r.out());
    }
}
