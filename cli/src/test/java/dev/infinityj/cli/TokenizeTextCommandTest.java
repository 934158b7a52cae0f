package dev.infinityj.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class TokenizeTextCommandTest {
    @Test
    void printsIdsAndWarnsOnTruncation() {
        Path spm = Path.of(System.getProperty("infinityj.fixtures", "../shared/fixtures")).resolve("spm-unigram/spiece.model");
        Assumptions.assumeTrue(Files.isRegularFile(spm), "skipped: fixture " + spm + " not found");
        var cl = Main.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int rc = cl.execute("tokenize-text", "--tokenizer", spm.toString(), "a dog", "x ".repeat(600));
        assertEquals(0, rc, err.toString());
        String[] lines = out.toString().split("\n");
        assertEquals("6 3 9 13 81 1", lines[0]);                 // fixture: ids_with_eos of "a dog"
        assertEquals(512, lines[1].split(" ").length);
        assertTrue(err.toString().contains("truncated to 512"), err.toString());
        StringWriter err2 = new StringWriter();
        cl.setErr(new PrintWriter(err2));
        assertEquals(1, cl.execute("tokenize-text", "--tokenizer", spm.resolveSibling("nope.model").toString(), "a"));
        assertTrue(err2.toString().contains("nope.model"), err2.toString());
    }
}
