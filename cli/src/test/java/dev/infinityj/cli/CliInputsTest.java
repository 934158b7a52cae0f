package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class CliInputsTest {
    @Test
    void outputPatternPlaceholders() {
        OutputPattern p = new OutputPattern("out/{prompt_slug}-{seed}-{index:03}.png");
        assertEquals(Path.of("out/a-cafe-in-paris-at-dusk-42-007.png"), p.resolve(42, 7, "A café in Paris, at dusk!"));
        assertFalse(p.collides());
        assertTrue(new OutputPattern("x.png").collides());
        assertEquals("untitled", OutputPattern.slug("东京"));
        assertTrue(OutputPattern.slug("word ".repeat(40)).length() <= 48);
        BadInputException e = assertThrows(BadInputException.class, () -> new OutputPattern("{steps}.png"));
        assertTrue(e.getMessage().contains("{steps}"));
        assertThrows(BadInputException.class, () -> new OutputPattern("a{seed.png"));
        assertThrows(BadInputException.class, () -> new OutputPattern("a.jpg"));
    }

    @Test
    void perScaleLists() {
        assertArrayEquals(new double[] {3, 3, 3}, PerScaleList.parse("--cfg", "3").expand(3));
        assertArrayEquals(new double[] {1, 2.5}, PerScaleList.parse("--cfg", "1, 2.5").expand(2));
        BadInputException e = assertThrows(BadInputException.class, () -> PerScaleList.parse("--tau", "1,2").expand(7));
        assertTrue(e.getMessage().startsWith("--tau"));
        assertThrows(BadInputException.class, () -> PerScaleList.parse("--cfg", "x"));
        assertThrows(BadInputException.class, () -> PerScaleList.parse("--tau", "0").requireRange(0, false, 100));
        assertEquals("3,3.5", PerScaleList.parse("--cfg", "3,3.5").toString());
    }

    @Test
    void promptsFilePlainAndJsonl(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("p.txt");
        Files.writeString(f, "# comment\na red fox\n\n{\"prompt\": \"a cat\", \"seed\": 5, \"cfg\": [3, 4]}\n");
        List<PromptsFile.Entry> es = PromptsFile.read(f);
        assertEquals(2, es.size());
        assertEquals("a red fox", es.get(0).prompt());
        assertEquals(4, es.get(1).line());
        assertEquals("5", es.get(1).overrides().get("seed"));
        assertEquals("3,4", es.get(1).overrides().get("cfg"));
        Files.writeString(f, "{\"prompt\": \"a\", \"steps\": 3}\n");
        BadInputException e = assertThrows(BadInputException.class, () -> PromptsFile.read(f));
        assertTrue(e.getMessage().contains(":1") && e.getMessage().contains("steps"), e.getMessage());
        assertThrows(BadInputException.class, () -> PromptsFile.read(dir.resolve("missing.txt")));
        assertThrows(BadInputException.class, () -> PromptsFile.read(dir));
    }
}
