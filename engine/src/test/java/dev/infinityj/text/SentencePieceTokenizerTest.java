package dev.infinityj.text;

import dev.infinityj.BadInputException;
import dev.infinityj.testing.Fixtures;
import dev.infinityj.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Conformance against ../shared/fixtures/spm-unigram: cases.json is sentencepiece 0.1.97's own
 * output, hf_tokenizer.json the Hugging Face T5Tokenizer's (the one Infinity runs).
 */
class SentencePieceTokenizerTest {

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> cases(Path dir, String file) throws IOException {
        Map<String, Object> j = Json.parseObject(Files.readString(dir.resolve(file)), file);
        return (List<Map<String, Object>>) j.get("cases");
    }

    static int[] ints(Object list) {
        List<?> l = (List<?>) list;
        int[] r = new int[l.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Number) l.get(i)).intValue();
        return r;
    }

    static String show(String s) { return s.length() > 60 ? s.substring(0, 60) + "…" : s; }

    @Test
    @SuppressWarnings("unchecked")
    void modelProtoMatchesTrainerVocabDump() throws IOException {
        Path dir = Fixtures.dir("spm-unigram");
        SentencePieceModel m = SentencePieceModel.parseModelProto(Files.readAllBytes(dir.resolve("spiece.model")), "spiece.model");
        List<Object> vocab = (List<Object>) Json.parse(Files.readString(dir.resolve("vocab.json")), "vocab.json");
        assertEquals(vocab.size(), m.pieces().size());
        for (Object o : vocab) {
            Map<String, Object> v = (Map<String, Object>) o;
            SentencePieceModel.Piece p = m.pieces().get(((Number) v.get("id")).intValue());
            assertEquals(v.get("piece"), p.piece());
            assertEquals(((Number) v.get("score")).floatValue(), p.score(), 0f, p.piece());
            assertEquals(((String) v.get("type")).toUpperCase(), p.type().name(), p.piece());
        }
        assertEquals(2, m.unkId());
        assertEquals(1, m.eosId());
        assertEquals(0, m.padId());
        assertEquals(-1, m.bosId());
        assertFalse(m.byteFallback());
        assertEquals("nmt_nfkc", m.normalizerName());
        assertTrue(m.addDummyPrefix() && m.removeExtraWhitespaces() && m.escapeWhitespaces());
        assertTrue(m.precompiledCharsmap().length > 100_000, "nmt_nfkc charsmap present");
    }

    @Test
    void everyCaseMatchesSentencePiece() throws IOException {
        Path dir = Fixtures.dir("spm-unigram");
        SentencePieceTokenizer sp = SentencePieceTokenizer.loadSentencePiece(dir.resolve("spiece.model"));
        List<Map<String, Object>> cases = cases(dir, "cases.json");
        assertEquals(60, cases.size());
        for (Map<String, Object> c : cases) {
            String text = (String) c.get("text");
            assertArrayEquals(ints(c.get("ids")), sp.encodeSentencePiece(text), "ids of '" + show(text) + "'");
            assertEquals(c.get("pieces"), sp.encodeAsPieces(text), "pieces of '" + show(text) + "'");
            assertArrayEquals(ints(c.get("ids_t5_max512")), sp.encode(text), "ids_t5_max512 of '" + show(text) + "'");
            assertArrayEquals(ints(c.get("ids_with_eos")), sp.withMaxLength(Integer.MAX_VALUE).encode(text), "ids_with_eos of '" + show(text) + "'");
            assertEquals(c.get("decoded"), sp.decode(ints(c.get("ids"))), "decoded of '" + show(text) + "'");
        }
    }

    /** Both HF-style loaders (spiece.model and a tokenizer.json) against the HF reference. */
    static void checkAgainstHf(SentencePieceTokenizer t, Path dir) throws IOException {
        assertEquals(500, t.vocabSize());
        List<Map<String, Object>> hf = cases(dir, "hf_tokenizer.json");
        boolean sawTruncation = false;
        for (Map<String, Object> c : hf) {
            String text = (String) c.get("text");
            int[] full = ints(c.get("ids"));
            assertArrayEquals(full, t.withMaxLength(Integer.MAX_VALUE).encode(text), "HF ids of '" + show(text) + "'");
            SentencePieceTokenizer.Encoding e = t.encodeWithInfo(text);
            assertArrayEquals(ints(c.get("max512_unpadded")), e.ids(), "HF max512 ids of '" + show(text) + "'");
            assertEquals(full.length > 512, e.truncated(), "truncated flag of '" + show(text) + "'");
            assertEquals(full.length, e.untruncatedLength());
            sawTruncation |= e.truncated();
        }
        assertTrue(sawTruncation, "the fixture's 2831-token case exercises truncation");
    }

    @Test
    void everyCaseMatchesHuggingFaceFromSpieceModel() throws IOException {
        Path dir = Fixtures.dir("spm-unigram");
        SentencePieceTokenizer t = SentencePieceTokenizer.load(dir.resolve("spiece.model"));
        checkAgainstHf(t, dir);
        assertEquals(499, t.pieceToId("<extra_id_0>"));
        assertEquals(400, t.pieceToId("<extra_id_99>"));
        // special tokens inside text: cut out, the text around them encoded on its own
        int[] ids = t.withMaxLength(Integer.MAX_VALUE).encode("a dog</s>a dog");
        int[] dog = t.encodeSentencePiece("a dog");
        assertEquals(2 * dog.length + 2, ids.length);
        assertEquals(1, ids[dog.length]);
    }

    /**
     * tokenizer.json in the layout transformers' T5 converter writes (Sequence[Precompiled,
     * Replace(" {2,}")], Sequence[WhitespaceSplit, Metaspace], TemplateProcessing "$A </s>",
     * Unigram vocab + added tokens). The pieces and charsmap come from the fixture's vocab.json
     * and spiece.model; what is tested is the tokenizer.json route to the HF reference ids.
     */
    @Test
    @SuppressWarnings("unchecked")
    void everyCaseMatchesHuggingFaceFromTokenizerJson(@TempDir Path tmp) throws IOException {
        Path dir = Fixtures.dir("spm-unigram");
        SentencePieceModel m = SentencePieceModel.parseModelProto(Files.readAllBytes(dir.resolve("spiece.model")), "spiece.model");
        List<Object> vocabJson = (List<Object>) Json.parse(Files.readString(dir.resolve("vocab.json")), "vocab.json");
        List<Object> vocab = new ArrayList<>();
        for (Object o : vocabJson) {
            Map<String, Object> v = (Map<String, Object>) o;
            vocab.add(List.of(v.get("piece"), v.get("score")));
        }
        List<Object> added = new ArrayList<>();
        for (String[] s : new String[][]{{"0", "<pad>"}, {"1", "</s>"}, {"2", "<unk>"}})
            added.add(token(Integer.parseInt(s[0]), s[1]));
        for (int i = 99; i >= 0; i--) {
            vocab.add(List.of("<extra_id_" + i + ">", 0.0));
            added.add(token(499 - i, "<extra_id_" + i + ">"));
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("version", "1.0");
        json.put("added_tokens", added);
        json.put("normalizer", Map.of("type", "Sequence", "normalizers", List.of(
                Map.of("type", "Precompiled", "precompiled_charsmap", Base64.getEncoder().encodeToString(m.precompiledCharsmap())),
                Map.of("type", "Replace", "pattern", Map.of("Regex", " {2,}"), "content", " "))));
        json.put("pre_tokenizer", Map.of("type", "Sequence", "pretokenizers", List.of(
                Map.of("type", "WhitespaceSplit"),
                Map.of("type", "Metaspace", "replacement", "\u2581", "prepend_scheme", "always", "split", true))));
        json.put("post_processor", Map.of("type", "TemplateProcessing",
                "single", List.of(Map.of("Sequence", Map.of("id", "A", "type_id", 0)), Map.of("SpecialToken", Map.of("id", "</s>", "type_id", 0))),
                "special_tokens", Map.of("</s>", Map.of("id", "</s>", "ids", List.of(1), "tokens", List.of("</s>")))));
        json.put("decoder", Map.of("type", "Metaspace", "replacement", "\u2581", "prepend_scheme", "always", "split", true));
        json.put("model", Map.of("type", "Unigram", "unk_id", 2, "vocab", vocab, "byte_fallback", false));
        Files.writeString(tmp.resolve("tokenizer.json"), Json.writePretty(json));

        SentencePieceTokenizer t = SentencePieceTokenizer.load(tmp);   // folder → tokenizer.json
        checkAgainstHf(t, dir);
    }

    private static Map<String, Object> token(int id, String content) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("id", id); t.put("content", content); t.put("single_word", false); t.put("lstrip", false);
        t.put("rstrip", false); t.put("normalized", false); t.put("special", true);
        return t;
    }

    @Test
    void corruptModelFilesGiveOneLineErrors(@TempDir Path tmp) throws IOException {
        Path bad = tmp.resolve("spiece.model");
        Files.write(bad, new byte[]{0x0a, (byte) 0xff, 0x01});
        BadInputException e = assertThrows(BadInputException.class, () -> SentencePieceTokenizer.load(bad));
        assertTrue(e.getMessage().contains("spiece.model"), e.getMessage());
        assertThrows(BadInputException.class, () -> SentencePieceTokenizer.load(tmp.resolve("missing")));
        Path json = tmp.resolve("tokenizer.json");
        Files.writeString(json, "{\"model\": {\"type\": \"BPE\"}}");
        assertTrue(assertThrows(BadInputException.class, () -> SentencePieceTokenizer.load(json)).getMessage().contains("Unigram"));
    }
}
