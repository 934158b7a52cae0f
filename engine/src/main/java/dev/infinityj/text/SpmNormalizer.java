package dev.infinityj.text;

import dev.infinityj.BadInputException;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * SentencePiece's normaliser (normalizer.cc), on UTF-8 bytes. The precompiled charsmap is a
 * darts-clone double-array trie over source byte strings plus a blob of NUL-terminated
 * replacement strings: blob = [uint32 LE trie size][trie units][replacements]. At each position
 * the LONGEST matching rule is applied; where none matches, one UTF-8 character passes as is (a
 * malformed byte becomes U+FFFD). Whitespace handling follows Normalize(): leading spaces dropped,
 * a dummy "▁" prefix, runs of spaces collapsed, trailing spaces dropped, spaces escaped as "▁".
 * User-defined symbols pass through unnormalised (the PrefixMatcher of normalizer.cc).
 */
final class SpmNormalizer {
    static final byte[] SPACE_SYMBOL = "\u2581".getBytes(StandardCharsets.UTF_8);
    private static final byte[] REPLACEMENT_CHAR = {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD};

    private final int[] units;          // darts-clone double array (null = identity normalisation)
    private final byte[] normalized;    // replacement strings, NUL-terminated
    private final boolean addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces;
    private final PieceTrie userDefined; // may be null

    SpmNormalizer(SentencePieceModel m, List<String> userDefinedSymbols, String source) {
        byte[] cm = m.precompiledCharsmap();
        if (cm.length == 0) {
            units = null;
            normalized = new byte[0];
        } else {
            int trieSize = SentencePieceModel.charsmapTrieSize(cm);
            if (trieSize < 0 || trieSize % 4 != 0 || 4L + trieSize > cm.length)
                throw new BadInputException(source + ": precompiled_charsmap trie size " + trieSize + " does not fit the " + cm.length + "-byte blob");
            units = new int[trieSize / 4];
            ByteBuffer.wrap(cm, 4, trieSize).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(units);
            normalized = java.util.Arrays.copyOfRange(cm, 4 + trieSize, cm.length);
        }
        addDummyPrefix = m.addDummyPrefix();
        removeExtraWhitespaces = m.removeExtraWhitespaces();
        escapeWhitespaces = m.escapeWhitespaces();
        if (userDefinedSymbols.isEmpty()) userDefined = null;
        else {
            userDefined = new PieceTrie();
            for (String s : userDefinedSymbols) userDefined.put(s.getBytes(StandardCharsets.UTF_8), 0);
        }
    }

    /** Length in bytes of the UTF-8 character starting with byte {@code b} (sentencepiece's OneCharLen). */
    static int oneCharLen(byte b) {
        return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4".charAt((b & 0xff) >> 4);
    }

    /** Length of a valid UTF-8 character at {@code pos}, or 0 when malformed (string_util::DecodeUTF8). */
    private static int validUtf8Len(byte[] s, int pos, int end) {
        int c = s[pos] & 0xff;
        if (c < 0x80) return 1;
        int len, min;
        int cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (pos + len > end) return 0;
        for (int i = 1; i < len; i++) {
            int t = s[pos + i] & 0xff;
            if ((t & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (t & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        return len;
    }

    // darts-clone unit accessors
    private static boolean hasLeaf(int unit) { return ((unit >>> 8) & 1) == 1; }
    private static int value(int unit) { return unit & 0x7fffffff; }
    private static int label(int unit) { return unit & (0x80000000 | 0xff); }
    private static int offset(int unit) { return (unit >>> 10) << ((unit & (1 << 9)) >>> 6); }

    /**
     * darts-clone commonPrefixSearch, keeping only the longest hit: returns {length, value} of the
     * longest key that is a prefix of s[pos, end), or null.
     */
    private int[] longestRule(byte[] s, int pos, int end) {
        int nodePos = 0;
        int unit = units[nodePos];
        nodePos ^= offset(unit);
        int bestLen = 0, bestValue = 0;
        for (int i = pos; i < end; i++) {
            int key = s[i] & 0xff;
            nodePos ^= key;
            if (nodePos < 0 || nodePos >= units.length) return bestLen == 0 ? null : new int[]{bestLen, bestValue};
            unit = units[nodePos];
            if (label(unit) != key) break;
            nodePos ^= offset(unit);
            if (hasLeaf(unit)) {
                if (nodePos < 0 || nodePos >= units.length) break;
                bestLen = i - pos + 1;
                bestValue = value(units[nodePos]);
            }
        }
        return bestLen == 0 ? null : new int[]{bestLen, bestValue};
    }

    /** NormalizePrefix: {consumed bytes, replacement bytes}. */
    private byte[] normalizePrefix(byte[] s, int pos, int end, int[] consumed) {
        if (userDefined != null) {
            int n = userDefined.longestPrefix(s, pos, end);
            if (n > 0) { consumed[0] = n; return java.util.Arrays.copyOfRange(s, pos, pos + n); }
        }
        int[] rule = units == null ? null : longestRule(s, pos, end);
        if (rule == null) {
            int n = validUtf8Len(s, pos, end);
            if (n == 0) { consumed[0] = 1; return REPLACEMENT_CHAR; }
            consumed[0] = n;
            return java.util.Arrays.copyOfRange(s, pos, pos + n);
        }
        consumed[0] = rule[0];
        int v = rule[1], e = v;
        if (v < 0 || v >= normalized.length) throw new BadInputException("precompiled_charsmap: replacement offset " + v + " outside the blob");
        while (e < normalized.length && normalized[e] != 0) e++;
        return java.util.Arrays.copyOfRange(normalized, v, e);
    }

    /** Normalize(): the UTF-8 bytes the segmenter sees. */
    byte[] normalize(byte[] in) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + 8);
        int pos = 0, end = in.length;
        int[] used = new int[1];
        if (removeExtraWhitespaces) {                               // ignore heading spaces
            while (pos < end) {
                byte[] p = normalizePrefix(in, pos, end, used);
                if (!(p.length == 1 && p[0] == ' ')) break;
                pos += used[0];
            }
        }
        if (pos >= end) return new byte[0];
        if (addDummyPrefix) writeSpace(out);
        boolean prevSpace = removeExtraWhitespaces;
        while (pos < end) {
            byte[] sp = normalizePrefix(in, pos, end, used);
            int from = 0;
            while (prevSpace && from < sp.length && sp[from] == ' ') from++; // drop spaces after a space
            if (from < sp.length) {
                for (int i = from; i < sp.length; i++) {
                    if (escapeWhitespaces && sp[i] == ' ') out.writeBytes(SPACE_SYMBOL);
                    else out.write(sp[i]);
                }
                prevSpace = sp[sp.length - 1] == ' ';
            }
            pos += used[0];
            if (!removeExtraWhitespaces) prevSpace = false;
        }
        byte[] r = out.toByteArray();
        if (removeExtraWhitespaces) {                               // ignore trailing spaces
            byte[] space = escapeWhitespaces ? SPACE_SYMBOL : new byte[]{' '};
            int len = r.length;
            while (len >= space.length && java.util.Arrays.equals(r, len - space.length, len, space, 0, space.length)) len -= space.length;
            if (len != r.length) r = java.util.Arrays.copyOf(r, len);
        }
        return r;
    }

    private void writeSpace(ByteArrayOutputStream out) {
        if (escapeWhitespaces) out.writeBytes(SPACE_SYMBOL); else out.write(' ');
    }
}
