package dev.infinityj.image;

import dev.infinityj.BadInputException;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import static org.junit.jupiter.api.Assertions.*;

class PngTest {

    static RgbImage randomImage(int w, int h, long seed) {
        byte[] px = new byte[w * h * 3];
        Random r = new Random(seed);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) // mix of smooth gradients (favouring Sub/Up/Avg/Paeth) and noise
                    px[(y * w + x) * 3 + c] = (byte) (y < h / 2 ? x * 3 + y * 2 + c * 40 : r.nextInt(256));
        return new RgbImage(w, h, px);
    }

    @Test
    void roundTripWithText(@TempDir Path dir) throws Exception {
        RgbImage img = randomImage(37, 23, 1);
        Map<String, String> text = new LinkedHashMap<>();
        text.put("prompt", "a café at dusk");           // Latin-1 → tEXt
        text.put("negative", "ぼやけた, blurry ✗");      // not Latin-1 → iTXt
        text.put("seed", "42");
        Path p = dir.resolve("out.png");
        Png.write(p, img, text);
        try (var s = Files.list(dir)) { assertEquals(1, s.count(), "temp file left behind"); }
        Png.Decoded d = Png.read(p);
        assertArrayEquals(img.rgb(), d.image().rgb());
        assertEquals(37, d.image().width());
        assertEquals(23, d.image().height());
        assertEquals(text, d.text());
        byte[] bytes = Files.readAllBytes(p);
        String raw = new String(bytes, StandardCharsets.ISO_8859_1);
        assertTrue(raw.contains("tEXtprompt"));
        assertTrue(raw.contains("iTXtnegative"));
        // overwrite in place
        Png.write(p, randomImage(5, 4, 2), Map.of());
        assertEquals(5, Png.read(p).image().width());
    }

    // --- an independent minimal encoder for test inputs: explicit colour type and per-row filter types

    static byte[] chunk(String type, byte[] data) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(be(data.length));
        byte[] t = type.getBytes(StandardCharsets.ISO_8859_1);
        o.writeBytes(t);
        o.writeBytes(data);
        CRC32 c = new CRC32();
        c.update(t);
        c.update(data);
        o.writeBytes(be((int) c.getValue()));
        return o.toByteArray();
    }

    static byte[] be(int v) { return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v}; }

    static byte[] ihdr(int w, int h, int depth, int colour, int interlace) {
        byte[] d = new byte[13];
        System.arraycopy(be(w), 0, d, 0, 4);
        System.arraycopy(be(h), 0, d, 4, 4);
        d[8] = (byte) depth; d[9] = (byte) colour; d[12] = (byte) interlace;
        return d;
    }

    static byte[] zlib(byte[] raw) {
        Deflater d = new Deflater();
        d.setInput(raw);
        d.finish();
        byte[] buf = new byte[raw.length * 2 + 64];
        int n = d.deflate(buf);
        d.end();
        return java.util.Arrays.copyOf(buf, n);
    }

    /** PNG of samples [h][w*ch] filtered with row y using filter filters[y % filters.length] (forward filters per the PNG spec). */
    static byte[] png(int w, int h, int colour, int ch, int[] samples, int[] filters) {
        int stride = w * ch;
        byte[] raw = new byte[h * (stride + 1)];
        for (int y = 0; y < h; y++) {
            int f = filters[y % filters.length];
            raw[y * (stride + 1)] = (byte) f;
            for (int i = 0; i < stride; i++) {
                int x = samples[y * stride + i];
                int a = i >= ch ? samples[y * stride + i - ch] : 0;
                int b = y > 0 ? samples[(y - 1) * stride + i] : 0;
                int c = y > 0 && i >= ch ? samples[(y - 1) * stride + i - ch] : 0;
                int p = a + b - c;
                int pr = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
                int pred = switch (f) { case 0 -> 0; case 1 -> a; case 2 -> b; case 3 -> (a + b) / 2; default -> pr; };
                raw[y * (stride + 1) + 1 + i] = (byte) (x - pred);
            }
        }
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        o.writeBytes(chunk("IHDR", ihdr(w, h, 8, colour, 0)));
        byte[] z = zlib(raw);
        int half = z.length / 2; // split the stream across two IDAT chunks
        o.writeBytes(chunk("IDAT", java.util.Arrays.copyOfRange(z, 0, half)));
        o.writeBytes(chunk("IDAT", java.util.Arrays.copyOfRange(z, half, z.length)));
        o.writeBytes(chunk("IEND", new byte[0]));
        return o.toByteArray();
    }

    @Test
    void readsAllColourTypesAndFilters() {
        int w = 13, h = 11;
        Random r = new Random(7);
        int[][] types = {{0, 1}, {4, 2}, {2, 3}, {6, 4}};
        for (int[] t : types) {
            int colour = t[0], ch = t[1];
            int[] s = new int[w * h * ch];
            for (int i = 0; i < s.length; i++) s[i] = i % 5 == 0 ? r.nextInt(256) : (i * 7) & 0xff;
            byte[] file = png(w, h, colour, ch, s, new int[] {0, 1, 2, 3, 4});
            RgbImage img = Png.decode(file, "test").image();
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < 3; c++) {
                        int want = ch <= 2 ? s[(y * w + x) * ch] : s[(y * w + x) * ch + c];
                        assertEquals(want, img.get(x, y, c), "colour type " + colour + " pixel " + x + "," + y + " c" + c);
                    }
        }
    }

    static byte[] withHeader(byte[] ihdrData) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        o.writeBytes(chunk("IHDR", ihdrData));
        o.writeBytes(chunk("IDAT", zlib(new byte[64])));
        o.writeBytes(chunk("IEND", new byte[0]));
        return o.toByteArray();
    }

    @Test
    void unsupportedFormatsAreNamed() {
        assertMessage(withHeader(ihdr(4, 4, 16, 2, 0)), "16-bit");
        assertMessage(withHeader(ihdr(4, 4, 8, 3, 0)), "palette");
        assertMessage(withHeader(ihdr(4, 4, 8, 2, 1)), "interlaced");
        assertMessage(withHeader(ihdr(4, 4, 1, 0, 0)), "1-bit");
        assertMessage(withHeader(ihdr(1 << 20, 1 << 20, 8, 2, 0)), "larger than");
        assertMessage("GIF89a....".getBytes(StandardCharsets.ISO_8859_1), "not a PNG");
    }

    static void assertMessage(byte[] file, String part) {
        BadInputException e = assertThrows(BadInputException.class, () -> Png.decode(file, "x.png"));
        assertTrue(e.getMessage().contains(part), e.getMessage());
        assertTrue(e.getMessage().startsWith("x.png: "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void truncatedAndCorruptFilesAreRefused() {
        byte[] good = Png.encode(randomImage(20, 9, 3), Map.of("k", "v"));
        assertNotNull(Png.decode(good, "ok").image());
        for (int n = 0; n < good.length; n++) {
            byte[] cut = java.util.Arrays.copyOf(good, n);
            assertThrows(BadInputException.class, () -> Png.decode(cut, "cut"), "prefix of " + n + " bytes accepted");
        }
        Random r = new Random(5);
        for (int i = 0; i < 300; i++) { // any flipped byte after the signature breaks a CRC (or the signature)
            byte[] bad = good.clone();
            int at = r.nextInt(bad.length);
            bad[at] ^= (byte) (1 + r.nextInt(255));
            assertThrows(BadInputException.class, () -> Png.decode(bad, "flip"), "flip at " + at + " accepted");
        }
        // valid CRCs but too little image data
        int w = 8, h = 8;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        o.writeBytes(chunk("IHDR", ihdr(w, h, 8, 2, 0)));
        o.writeBytes(chunk("IDAT", zlib(new byte[(w * 3 + 1) * (h - 1)])));
        o.writeBytes(chunk("IEND", new byte[0]));
        assertMessage(o.toByteArray(), "truncated");
    }

    @Test
    void fixturePngsEqualStoredPixels() {
        Path dir = Fixtures.dir("vae-roundtrip");
        try (SafetensorsFile cs = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            for (String name : new String[] {"sq", "wide"}) {
                compare(Png.read(dir.resolve(name + "-input.png")).image(), cs.get(name + ".input.image_rgb_u8"), name + "-input");
                compare(Png.read(dir.resolve(name + "-recon.png")).image(), cs.get(name + ".dec.img_u8_rgb"), name + "-recon");
            }
        }
    }

    static void compare(RgbImage img, Tensor ref, String what) {
        assertEquals(ref.dim(0), img.height(), what);
        assertEquals(ref.dim(1), img.width(), what);
        long[] v = ref.toLongArray();
        for (int i = 0; i < v.length; i++) assertEquals(v[i], img.rgb()[i] & 0xff, what + " byte " + i);
    }
}
