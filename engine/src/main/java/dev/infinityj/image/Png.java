package dev.infinityj.image;

import dev.infinityj.BadInputException;
import dev.infinityj.InfinityjException;
import dev.infinityj.util.AtomicFiles;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * PNG reading and writing with java.base only (the GPU runtime image has no java.desktop, so no
 * ImageIO). Writes 8-bit RGB, non-interlaced, with text chunks (tEXt for Latin-1 values, iTXt
 * for anything else) for prompt/seed metadata. Reads non-interlaced 8-bit grey, grey+alpha, RGB
 * and RGBA with all five filter types, checks every chunk CRC, refuses truncated or oversized
 * data, and converts to RGB the way PIL's {@code convert('RGB')} does (grey replicated, alpha
 * dropped). Other formats are refused with a one-line message saying what is unsupported.
 */
public final class Png {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /** Refuse images above this many pixels (a hostile header must not make us allocate gigabytes). */
    public static final long MAX_PIXELS = 1L << 27;

    private Png() {}

    /** A decoded PNG: the image as RGB and its text chunks (keyword → text, file order). */
    public record Decoded(RgbImage image, Map<String, String> text) {}

    // ------------------------------------------------------------------------------------ write

    /** Writes {@code img} atomically (temp file in the same folder, then rename; see AtomicFiles). */
    public static void write(Path path, RgbImage img, Map<String, String> text) {
        AtomicFiles.writeBytes(path, encode(img, text));
    }

    /** The PNG file bytes of an 8-bit RGB image with the given text chunks. */
    public static byte[] encode(RgbImage img, Map<String, String> text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(SIGNATURE);
        byte[] ihdr = new byte[13];
        putInt(ihdr, 0, img.width());
        putInt(ihdr, 4, img.height());
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type RGB
        chunk(out, "IHDR", ihdr);
        if (text != null)
            for (Map.Entry<String, String> e : text.entrySet()) chunk(out, textChunkType(e.getKey(), e.getValue()), textChunk(e.getKey(), e.getValue()));
        chunk(out, "IDAT", deflate(filterRows(img)));
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static boolean latin1(String s) {
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) > 0xff || s.charAt(i) == 0) return false;
        return true;
    }

    private static String textChunkType(String key, String value) {
        if (key.isEmpty() || key.length() > 79 || !latin1(key) || key.startsWith(" ") || key.endsWith(" "))
            throw new BadInputException("PNG text keyword '" + key + "' is invalid (1-79 Latin-1 characters, no leading/trailing space)");
        return latin1(value) ? "tEXt" : "iTXt";
    }

    private static byte[] textChunk(String key, String value) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(key.getBytes(StandardCharsets.ISO_8859_1));
        b.write(0);
        if (latin1(value)) {
            b.writeBytes(value.getBytes(StandardCharsets.ISO_8859_1));
        } else {
            b.write(0); b.write(0);  // not compressed, method 0
            b.write(0);              // empty language tag
            b.write(0);              // empty translated keyword
            b.writeBytes(value.getBytes(StandardCharsets.UTF_8));
        }
        return b.toByteArray();
    }

    /** Filtered scanlines: per row the filter (of the five) with the smallest sum of |signed residuals|. */
    private static byte[] filterRows(RgbImage img) {
        int w = img.width(), h = img.height(), stride = w * 3;
        byte[] px = img.rgb();
        byte[] out = new byte[h * (stride + 1)];
        byte[] cand = new byte[stride];
        for (int y = 0; y < h; y++) {
            int row = y * stride, prev = row - stride;
            long best = Long.MAX_VALUE;
            for (int type = 0; type < 5; type++) {
                long cost = 0;
                for (int i = 0; i < stride; i++) {
                    int a = i >= 3 ? px[row + i - 3] & 0xff : 0;
                    int b = y > 0 ? px[prev + i] & 0xff : 0;
                    int c = i >= 3 && y > 0 ? px[prev + i - 3] & 0xff : 0;
                    int r = (px[row + i] & 0xff) - predict(type, a, b, c);
                    cand[i] = (byte) r;
                    cost += Math.abs((byte) r);
                }
                if (cost < best) {
                    best = cost;
                    out[y * (stride + 1)] = (byte) type;
                    System.arraycopy(cand, 0, out, y * (stride + 1) + 1, stride);
                }
            }
        }
        return out;
    }

    private static int predict(int type, int a, int b, int c) {
        return switch (type) {
            case 0 -> 0;
            case 1 -> a;
            case 2 -> b;
            case 3 -> (a + b) >>> 1;
            default -> paeth(a, b, c);
        };
    }

    private static int paeth(int a, int b, int c) {
        int p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static byte[] deflate(byte[] data) {
        Deflater d = new Deflater(6);
        try {
            d.setInput(data);
            d.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream(data.length / 2 + 64);
            byte[] buf = new byte[1 << 16];
            while (!d.finished()) out.write(buf, 0, d.deflate(buf));
            return out.toByteArray();
        } finally {
            d.end();
        }
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] len = new byte[4];
        putInt(len, 0, data.length);
        out.writeBytes(len);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        byte[] c = new byte[4];
        putInt(c, 0, (int) crc.getValue());
        out.writeBytes(c);
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24); b[at + 1] = (byte) (v >>> 16); b[at + 2] = (byte) (v >>> 8); b[at + 3] = (byte) v;
    }

    // ------------------------------------------------------------------------------------- read

    public static Decoded read(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new BadInputException(path + ": cannot read: " + e.getMessage(), e);
        }
        return decode(bytes, path.toString());
    }

    /** Decodes PNG bytes; {@code where} names the source in error messages. */
    public static Decoded decode(byte[] b, String where) {
        if (b.length < 8 || !java.util.Arrays.equals(b, 0, 8, SIGNATURE, 0, 8))
            throw new BadInputException(where + ": not a PNG file (bad signature)");
        int pos = 8;
        int width = 0, height = 0, colourType = -1;
        boolean seenIdat = false, idatEnded = false, seenEnd = false;
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        Map<String, String> text = new LinkedHashMap<>();
        while (!seenEnd) {
            if (pos + 8 > b.length) throw new BadInputException(where + ": truncated PNG (chunk header at byte " + pos + " cut off, no IEND)");
            long len = getInt(b, pos) & 0xffffffffL;
            String type = new String(b, pos + 4, 4, StandardCharsets.ISO_8859_1);
            if (len > Integer.MAX_VALUE || pos + 12 + len > b.length)
                throw new BadInputException(where + ": truncated PNG (chunk " + printable(type) + " of " + len + " bytes at byte " + pos + " runs past the end)");
            int n = (int) len, data = pos + 8;
            CRC32 crc = new CRC32();
            crc.update(b, pos + 4, 4 + n);
            if ((int) crc.getValue() != getInt(b, data + n))
                throw new BadInputException(where + ": corrupt PNG (CRC mismatch in chunk " + printable(type) + " at byte " + pos + ")");
            boolean first = pos == 8;
            if (first != type.equals("IHDR")) throw new BadInputException(where + ": corrupt PNG (IHDR must be the first chunk)");
            if (!type.equals("IDAT") && seenIdat) idatEnded = true;
            switch (type) {
                case "IHDR" -> {
                    if (n != 13) throw new BadInputException(where + ": corrupt PNG (IHDR length " + n + ")");
                    width = getInt(b, data);
                    height = getInt(b, data + 4);
                    int depth = b[data + 8] & 0xff;
                    colourType = b[data + 9] & 0xff;
                    int compression = b[data + 10], filter = b[data + 11], interlace = b[data + 12];
                    if (width <= 0 || height <= 0) throw new BadInputException(where + ": corrupt PNG (size " + Integer.toUnsignedString(width) + "x" + Integer.toUnsignedString(height) + ")");
                    if ((long) width * height > MAX_PIXELS) throw new BadInputException(where + ": PNG of " + width + "x" + height + " pixels is larger than the supported " + MAX_PIXELS + " pixels");
                    if (colourType == 3) throw new BadInputException(where + ": unsupported PNG: palette (indexed colour) images are not supported; save as 8-bit RGB");
                    if (colourType != 0 && colourType != 2 && colourType != 4 && colourType != 6)
                        throw new BadInputException(where + ": corrupt PNG (colour type " + colourType + ")");
                    if (depth != 8) throw new BadInputException(where + ": unsupported PNG: " + depth + "-bit samples; only 8-bit grey, grey+alpha, RGB and RGBA are supported");
                    if (compression != 0 || filter != 0) throw new BadInputException(where + ": corrupt PNG (compression " + compression + ", filter method " + filter + ")");
                    if (interlace != 0) throw new BadInputException(where + ": unsupported PNG: interlaced (Adam7) images are not supported; save without interlacing");
                }
                case "IDAT" -> {
                    if (idatEnded) throw new BadInputException(where + ": corrupt PNG (IDAT chunks not consecutive)");
                    seenIdat = true;
                    idat.write(b, data, n);
                }
                case "IEND" -> seenEnd = true;
                case "tEXt", "zTXt", "iTXt" -> readText(type, b, data, n, text, where);
                default -> {
                    if (Character.isUpperCase(type.charAt(0)) && !type.equals("PLTE"))
                        throw new BadInputException(where + ": unsupported PNG: critical chunk " + printable(type));
                }
            }
            pos = data + n + 4;
        }
        if (!seenIdat) throw new BadInputException(where + ": corrupt PNG (no image data)");
        int channels = switch (colourType) { case 0 -> 1; case 4 -> 2; case 2 -> 3; default -> 4; };
        int stride = width * channels;
        byte[] raw = inflate(idat.toByteArray(), (long) height * (stride + 1), where);
        return new Decoded(toRgb(unfilter(raw, width, height, channels, where), width, height, channels), Collections.unmodifiableMap(text));
    }

    private static String printable(String type) {
        return type.chars().allMatch(ch -> ch >= 'A' && ch <= 'z') ? "'" + type + "'" : "(non-ASCII type)";
    }

    private static void readText(String type, byte[] b, int at, int n, Map<String, String> out, String where) {
        int end = at + n, z = at;
        while (z < end && b[z] != 0) z++;
        if (z == end || z == at) return; // malformed text chunks are ancillary: ignore
        String key = new String(b, at, z - at, StandardCharsets.ISO_8859_1);
        int p = z + 1;
        try {
            switch (type) {
                case "tEXt" -> out.put(key, new String(b, p, end - p, StandardCharsets.ISO_8859_1));
                case "zTXt" -> {
                    if (p >= end) return;
                    out.put(key, new String(inflate(java.util.Arrays.copyOfRange(b, p + 1, end), 1 << 24, false, where), StandardCharsets.ISO_8859_1));
                }
                default -> { // iTXt: flag, method, language\0, translated keyword\0, UTF-8 text
                    if (p + 2 > end) return;
                    boolean compressed = b[p] != 0;
                    int q = p + 2;
                    while (q < end && b[q] != 0) q++;
                    q++;
                    while (q < end && b[q] != 0) q++;
                    q++;
                    if (q > end) return;
                    byte[] t = java.util.Arrays.copyOfRange(b, q, end);
                    if (compressed) t = inflate(t, 1 << 24, false, where);
                    out.put(key, new String(t, StandardCharsets.UTF_8));
                }
            }
        } catch (InfinityjException ignored) {
            // a broken ancillary text chunk does not make the image unreadable
        }
    }

    private static byte[] inflate(byte[] data, long expected, String where) { return inflate(data, expected, true, where); }

    /** Inflates exactly {@code expected} bytes ({@code exact=false}: at most that many); more, or fewer when exact, is an error. */
    private static byte[] inflate(byte[] data, long expected, boolean exact, String where) {
        if (expected > Integer.MAX_VALUE - 16) throw new BadInputException(where + ": PNG image data too large");
        Inflater inf = new Inflater();
        try {
            inf.setInput(data);
            byte[] out = new byte[(int) expected];
            int got = 0;
            while (got < out.length) {
                int k = inf.inflate(out, got, out.length - got);
                got += k;
                if (k == 0 && (inf.finished() || inf.needsInput() || inf.needsDictionary())) break;
            }
            if (got < out.length) {
                if (!exact && inf.finished()) return java.util.Arrays.copyOf(out, got);
                throw new BadInputException(where + ": truncated PNG (image data holds " + got + " of " + expected + " bytes)");
            }
            if (!inf.finished()) {
                byte[] one = new byte[1];
                if (inf.inflate(one) > 0) throw new BadInputException(where + ": corrupt PNG (more image data than " + expected + " bytes)");
            }
            return out;
        } catch (DataFormatException e) {
            throw new BadInputException(where + ": corrupt PNG (bad zlib data: " + e.getMessage() + ")");
        } finally {
            inf.end();
        }
    }

    /** Reverses the per-row filters in place; returns the unfiltered samples without filter bytes. */
    private static byte[] unfilter(byte[] raw, int w, int h, int bpp, String where) {
        int stride = w * bpp;
        byte[] out = new byte[h * stride];
        for (int y = 0; y < h; y++) {
            int type = raw[y * (stride + 1)] & 0xff;
            int src = y * (stride + 1) + 1, row = y * stride, prev = row - stride;
            for (int i = 0; i < stride; i++) {
                int a = i >= bpp ? out[row + i - bpp] & 0xff : 0;
                int b = y > 0 ? out[prev + i] & 0xff : 0;
                int c = i >= bpp && y > 0 ? out[prev + i - bpp] & 0xff : 0;
                int pred = switch (type) {
                    case 0, 1, 2, 3, 4 -> predict(type, a, b, c);
                    default -> throw new BadInputException(where + ": corrupt PNG (filter type " + type + " in row " + y + ")");
                };
                out[row + i] = (byte) (raw[src + i] + pred);
            }
        }
        return out;
    }

    private static RgbImage toRgb(byte[] s, int w, int h, int ch) {
        if (ch == 3) return new RgbImage(w, h, s);
        byte[] rgb = new byte[w * h * 3];
        for (int p = 0; p < w * h; p++) {
            int at = p * ch;
            if (ch <= 2) { rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = s[at]; }
            else { rgb[p * 3] = s[at]; rgb[p * 3 + 1] = s[at + 1]; rgb[p * 3 + 2] = s[at + 2]; }
        }
        return new RgbImage(w, h, rgb);
    }

    private static int getInt(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }
}
