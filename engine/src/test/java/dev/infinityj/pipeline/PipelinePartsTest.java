package dev.infinityj.pipeline;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backends;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.text.SentencePieceTokenizer;
import dev.infinityj.text.StandInTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Backends factory, the stand-in tokenizer, the bits file and the random "tiny" pipeline's bits ↔ image path. */
class PipelinePartsTest {
    @TempDir Path tmp;

    @Test
    void backendsFactory() {
        try (Backends.Selection s = Backends.open("cpu", 1)) {
            assertEquals("cpu", s.device());
            assertEquals(1, s.threads());
            assertNull(s.note());
        }
        try (Backends.Selection s = Backends.open("auto", 1)) {
            assertEquals("cpu", s.device());
            assertTrue(s.note().startsWith("CUDA backend unavailable: ") && s.note().endsWith("; using the CPU"), s.note());
        }
        assertTrue(assertThrows(BadInputException.class, () -> Backends.open("cuda", 0)).getMessage().startsWith("CUDA backend unavailable: "));
        assertTrue(assertThrows(BadInputException.class, () -> Backends.open("tpu", 0)).getMessage().contains("unknown device 'tpu'"));
        assertThrows(BadInputException.class, () -> Backends.open("cpu", -1));
    }

    @Test
    void standInTokenizerIsDeterministicAndTruncatesLikeT5() {
        StandInTokenizer t = new StandInTokenizer(32128);
        SentencePieceTokenizer.Encoding a = t.encodeWithInfo("A cat, on a MAT!");
        assertArrayEquals(a.ids(), t.encodeWithInfo("a  cat ,on a mat !").ids());
        assertEquals(List.of("a", "cat", ",", "on", "a", "mat", "!"), StandInTokenizer.pieces("A cat, on a MAT!"));
        assertEquals(8, a.ids().length);
        assertEquals(1, a.ids()[7]);
        assertEquals(a.ids()[0], a.ids()[4]);
        for (int id : a.ids()) assertTrue(id == 1 || (id >= 3 && id < 32128));
        SentencePieceTokenizer.Encoding l = t.encodeWithInfo("word ".repeat(600));
        assertEquals(512, l.ids().length);
        assertTrue(l.truncated());
        assertEquals(601, l.untruncatedLength());
        assertArrayEquals(new int[] {1}, t.encodeWithInfo("").ids());
    }

    @Test
    void bitsFileRoundTripAndRefusals() throws Exception {
        ScaleSchedules.Schedule s = ScaleSchedules.forAspect(0.75, "0.06M");
        List<byte[]> bits = new ArrayList<>();
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (ScaleSchedules.Grid g : s.grids()) {
            byte[] b = new byte[g.tokens() * 8];
            for (int i = 0; i < b.length; i++) b[i] = (byte) r.nextInt(2);
            bits.add(b);
        }
        Path f = tmp.resolve("b.safetensors");
        BitsFile.write(f, s, 8, bits, java.util.Map.of("source", "x.png"));
        BitsFile.Content c = BitsFile.read(f);
        assertEquals(s, c.schedule());
        assertEquals(8, c.tokenBits());
        for (int k = 0; k < s.scales(); k++) assertArrayEquals(bits.get(k), c.bits().get(k));
        assertEquals("x.png", c.metadata().get("source"));
        Path other = tmp.resolve("o.safetensors");
        dev.infinityj.io.SafetensorsWriter.write(other, java.util.Map.of(), java.util.Map.of("a", dev.infinityj.tensor.Tensor.ofFloats(new float[] {1}, 1)));
        assertTrue(assertThrows(BadInputException.class, () -> BitsFile.read(other)).getMessage().contains("not an infinityj bits file"));
        assertThrows(BadInputException.class, () -> BitsFile.read(tmp.resolve("none.safetensors")));
    }

    @Test
    void tinyRandomPipelineSumsCodesLikeTheGenerator() {
        try (Backends.Selection sel = Backends.open("cpu", 0); Pipeline p = Pipeline.random("tiny", 1, null, sel.backend())) {
            assertTrue(p.notes().stream().anyMatch(n -> n.contains("stand-in tokenizer")));
            assertEquals("tiny", p.modelInfo().get("preset"));
            ScaleSchedules.Schedule s = ScaleSchedules.forAspect(1.0, "0.06M");
            List<byte[]> bits = new ArrayList<>();
            for (ScaleSchedules.Grid g : s.grids()) bits.add(new byte[g.tokens() * 16]);   // every bit 0: codes −1/4
            float[] f = p.latentFromBits(bits, s).toFloatArray();
            assertEquals(16 * 16 * 16, f.length);
            // bilinear up of a constant map is that constant: f_hat = 7 × (−1/4) everywhere
            for (float v : f) assertEquals(-7 * 0.25f, v, 1e-5f);
            assertThrows(BadInputException.class, () -> p.latentFromBits(bits.subList(0, 3), s));
        }
    }
}
