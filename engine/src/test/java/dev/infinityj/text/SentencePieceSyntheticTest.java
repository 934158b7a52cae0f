package dev.infinityj.text;

import dev.infinityj.text.SentencePieceModel.Piece;
import dev.infinityj.text.SentencePieceModel.Type;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Behaviours the fixture model does not switch on (byte fallback, user-defined symbols, unused
 * pieces, identity normalisation), on hand-built models whose segmentation is worked out by hand.
 */
class SentencePieceSyntheticTest {

    /** ids: 0 <pad>, 1 </s>, 2 <unk>, then (byte fallback) 256 byte pieces, then the given pieces. */
    static SentencePieceModel model(boolean byteFallback, Piece... normal) {
        List<Piece> ps = new ArrayList<>(List.of(new Piece("<pad>", 0, Type.CONTROL), new Piece("</s>", 0, Type.CONTROL),
                new Piece("<unk>", 0, Type.UNKNOWN)));
        if (byteFallback) for (int b = 0; b < 256; b++) ps.add(new Piece(String.format("<0x%02X>", b), 0, Type.BYTE));
        ps.addAll(List.of(normal));
        return new SentencePieceModel(ps, SentencePieceModel.UNIGRAM, 2, -1, 1, 0, byteFallback, false, " \u2047 ", "identity",
                new byte[0], true, true, true, Map.of()).validated("synthetic");
    }

    static Piece p(String s, float score) { return new Piece(s, score, Type.NORMAL); }

    @Test
    void byteFallbackSpellsUnknownCharactersInUtf8Bytes() {
        SentencePieceModel m = model(true, p("\u2581", -2), p("a", -2), p("b", -2), p("\u2581ab", -3));
        SentencePieceTokenizer t = SentencePieceTokenizer.of(m, 512);
        int base = 3 + 256;                                  // first normal piece
        // "▁ab" (-3) beats "▁","a","b" (-6); é = C3 A9 and ß = C3 9F are not pieces
        assertArrayEquals(new int[]{base + 3, base, 3 + 0xC3, 3 + 0xA9, 3 + 0xC3, 3 + 0x9F}, t.encodeSentencePiece("ab éß"));
        assertEquals(List.of("\u2581ab", "\u2581", "<0xC3>", "<0xA9>", "<0xC3>", "<0x9F>"), t.encodeAsPieces("ab éß"));
        assertEquals("ab éß", t.decode(t.encodeSentencePiece("ab éß")));
        assertArrayEquals(new int[]{base + 3, base, 3 + 0xC3, 3 + 0xA9, 1}, t.encode("ab é"));
    }

    @Test
    void withoutByteFallbackUnknownsMergeAndDecodeAsQuestionMarks() {
        SentencePieceTokenizer t = SentencePieceTokenizer.of(model(false, p("\u2581", -2), p("a", -2)), 512);
        // ▁ a <unk:xyz> a <unk:é>   — the run "xyz" is one unknown
        assertArrayEquals(new int[]{3, 4, 2, 4, 2}, t.encodeSentencePiece("axyzaé"));
        assertEquals(List.of("\u2581", "a", "xyz", "a", "é"), t.encodeAsPieces("axyzaé"));
        assertEquals("a \u2047 a \u2047 ", t.decode(t.encodeSentencePiece("axyzaé")));
    }

    @Test
    void userDefinedSymbolsAreOnePieceAndUnusedPiecesAreSkipped() {
        SentencePieceModel m = model(false, p("\u2581", -1), p("a", -1), p("b", -1), new Piece("<sep>", 0, Type.USER_DEFINED),
                new Piece("ab", 0, Type.UNUSED));
        SentencePieceTokenizer t = SentencePieceTokenizer.of(m, 512);
        // "ab" is unused (score 0 would win), so a and b; <sep> is one piece (score 5·FLT_MIN − 0.1), never <, s, e, p
        assertArrayEquals(new int[]{3, 4, 5, 6, 4}, t.encodeSentencePiece("ab<sep>a"));
    }

    @Test
    void whitespaceRulesWithoutCharsmap() {
        SentencePieceTokenizer t = SentencePieceTokenizer.of(model(false, p("\u2581", -1), p("a", -1)), 512);
        assertEquals("\u2581a\u2581a", t.normalize("   a    a   "));
        assertEquals("", t.normalize("    "));
        assertArrayEquals(new int[]{1}, t.encode("   "));
    }

    @Test
    void truncationKeepsRoomForEos() {
        SentencePieceTokenizer t = SentencePieceTokenizer.of(model(false, p("\u2581", -1), p("a", -1)), 4);
        SentencePieceTokenizer.Encoding e = t.encodeWithInfo("aaaaa");            // ▁ a a a a a + EOS = 7
        assertArrayEquals(new int[]{3, 4, 4, 1}, e.ids());
        assertTrue(e.truncated());
        assertEquals(7, e.untruncatedLength());
        assertFalse(t.encodeWithInfo("aa").truncated());                            // ▁ a a + EOS = 4 fits
    }
}
