package dev.infinityj.text;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A deterministic stand-in for the Flan-T5 SentencePiece tokenizer, used ONLY by the
 * {@code --random-weights} presets when no {@code spiece.model} / {@code tokenizer.json} is at
 * hand. It is not SentencePiece and its ids mean nothing to a real T5: it exists so that the
 * random-weights pipeline has the real shapes (token count grows with the prompt, EOS = 1,
 * at most 512 ids) without shipping or downloading a tokenizer.
 *
 * <p>Rule: NFKC, lower-case, split into runs of letters/digits and single other non-space
 * characters; each piece maps to {@code 3 + (FNV-1a-32(UTF-8 piece) mod (vocab − 3))}; then
 * EOS (1). Truncated to 512 ids including EOS, like the official tokenizer.
 */
public final class StandInTokenizer {
    public static final String DESCRIPTION = "stand-in tokenizer (FNV-1a hash of words, not SentencePiece; random-weights only)";

    private final int vocab;
    private final int maxLength;

    public StandInTokenizer(int vocab) { this(vocab, SentencePieceTokenizer.T5_MAX_LENGTH); }

    public StandInTokenizer(int vocab, int maxLength) {
        if (vocab < 4) throw new IllegalArgumentException("vocab " + vocab);
        this.vocab = vocab;
        this.maxLength = maxLength;
    }

    public static List<String> pieces(String text) {
        String s = Normalizer.normalize(text, Normalizer.Form.NFKC).toLowerCase(Locale.ROOT);
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            if (Character.isWhitespace(cp)) { i += Character.charCount(cp); continue; }
            int j = i;
            if (Character.isLetterOrDigit(cp)) {
                while (j < s.length() && Character.isLetterOrDigit(s.codePointAt(j))) j += Character.charCount(s.codePointAt(j));
            } else j += Character.charCount(cp);
            out.add(s.substring(i, j));
            i = j;
        }
        return out;
    }

    public SentencePieceTokenizer.Encoding encodeWithInfo(String text) {
        List<String> p = pieces(text);
        int full = p.size() + 1, keep = Math.min(p.size(), maxLength - 1);
        int[] ids = new int[keep + 1];
        for (int k = 0; k < keep; k++) {
            int h = 0x811C9DC5;
            for (byte b : p.get(k).getBytes(java.nio.charset.StandardCharsets.UTF_8)) { h ^= b & 0xff; h *= 0x01000193; }
            ids[k] = 3 + (int) (Integer.toUnsignedLong(h) % (vocab - 3));
        }
        ids[keep] = 1;
        return new SentencePieceTokenizer.Encoding(ids, full > ids.length, full);
    }

    public int maxLength() { return maxLength; }
}
