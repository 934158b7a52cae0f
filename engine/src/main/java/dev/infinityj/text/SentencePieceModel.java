package dev.infinityj.text;

import dev.infinityj.BadInputException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The content of a SentencePiece model that encoding needs: the pieces (string, score, type),
 * the trainer settings (special ids, byte fallback, model type) and the normaliser settings.
 * Read from {@code spiece.model} (the ModelProto protobuf, decoded by hand from the wire format:
 * sentencepiece_model.proto field numbers) or from a Hugging Face {@code tokenizer.json}
 * (Unigram model + Precompiled normaliser + Metaspace pre-tokenizer).
 */
public record SentencePieceModel(
        List<Piece> pieces,
        int modelType,
        int unkId, int bosId, int eosId, int padId,
        boolean byteFallback,
        boolean treatWhitespaceAsSuffix,
        String unkSurface,
        String normalizerName,
        byte[] precompiledCharsmap,
        boolean addDummyPrefix,
        boolean removeExtraWhitespaces,
        boolean escapeWhitespaces,
        /** Tokens the Hugging Face tokenizer cuts out of the text before normalisation (content → id). */
        Map<String, Integer> specialTokens) {

    public enum Type { NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE }

    public record Piece(String piece, float score, Type type) {}

    public static final int UNIGRAM = 1, BPE = 2, WORD = 3, CHAR = 4;

    // ------------------------------------------------------------------ ModelProto (protobuf)

    /** Minimal protobuf wire-format reader (varint, 64-bit, length-delimited, 32-bit). */
    private static final class Wire {
        final byte[] b; int pos; final int end; final String src;
        Wire(byte[] b, int from, int to, String src) { this.b = b; this.pos = from; this.end = to; this.src = src; }
        boolean more() { return pos < end; }
        BadInputException bad(String what) { return new BadInputException(src + ": malformed SentencePiece model protobuf at byte " + pos + ": " + what); }
        long varint() {
            long r = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) throw bad("truncated varint");
                int x = b[pos++] & 0xff;
                r |= (long) (x & 0x7f) << shift;
                if ((x & 0x80) == 0) return r;
            }
            throw bad("varint longer than 10 bytes");
        }
        int fixed32() {
            if (pos + 4 > end) throw bad("truncated 32-bit field");
            int v = (b[pos] & 0xff) | (b[pos + 1] & 0xff) << 8 | (b[pos + 2] & 0xff) << 16 | (b[pos + 3] & 0xff) << 24;
            pos += 4;
            return v;
        }
        /** Returns [from, to) of a length-delimited field's payload and skips it. */
        int[] bytes() {
            long n = varint();
            if (n < 0 || n > end - pos) throw bad("length " + n + " runs past the end");
            int[] r = {pos, pos + (int) n};
            pos += (int) n;
            return r;
        }
        void skip(int wireType) {
            switch (wireType) {
                case 0 -> varint();
                case 1 -> { if (pos + 8 > end) throw bad("truncated 64-bit field"); pos += 8; }
                case 2 -> bytes();
                case 5 -> fixed32();
                default -> throw bad("unsupported wire type " + wireType);
            }
        }
        String string(int[] r) { return new String(b, r[0], r[1] - r[0], StandardCharsets.UTF_8); }
    }

    /** Parses a serialized {@code ModelProto} (the bytes of {@code spiece.model}). */
    public static SentencePieceModel parseModelProto(byte[] data, String source) {
        Wire w = new Wire(data, 0, data.length, source);
        List<Piece> pieces = new ArrayList<>();
        int modelType = UNIGRAM, unk = 0, bos = 1, eos = 2, pad = -1;
        boolean byteFallback = false, wsSuffix = false;
        String unkSurface = " \u2047 ";
        String normName = "";
        byte[] charsmap = new byte[0];
        boolean dummy = true, removeWs = true, escapeWs = true;
        while (w.more()) {
            long tag = w.varint();
            int field = (int) (tag >>> 3), wt = (int) (tag & 7);
            if (field == 1 && wt == 2) {                       // repeated SentencePiece pieces
                int[] r = w.bytes();
                Wire p = new Wire(data, r[0], r[1], source);
                String piece = null; float score = 0; int type = 1;
                while (p.more()) {
                    long t = p.varint();
                    int f = (int) (t >>> 3), pt = (int) (t & 7);
                    if (f == 1 && pt == 2) piece = p.string(p.bytes());
                    else if (f == 2 && pt == 5) score = Float.intBitsToFloat(p.fixed32());
                    else if (f == 3 && pt == 0) type = (int) p.varint();
                    else p.skip(pt);
                }
                if (piece == null || piece.isEmpty()) throw w.bad("piece " + pieces.size() + " has no text");
                pieces.add(new Piece(piece, score, typeOf(type, w)));
            } else if (field == 2 && wt == 2) {                // TrainerSpec
                int[] r = w.bytes();
                Wire t = new Wire(data, r[0], r[1], source);
                while (t.more()) {
                    long tg = t.varint();
                    int f = (int) (tg >>> 3), tt = (int) (tg & 7);
                    switch (f) {
                        case 3 -> { if (tt != 0) throw t.bad("model_type"); modelType = (int) t.varint(); }
                        case 24 -> { if (tt != 0) throw t.bad("treat_whitespace_as_suffix"); wsSuffix = t.varint() != 0; }
                        case 35 -> { if (tt != 0) throw t.bad("byte_fallback"); byteFallback = t.varint() != 0; }
                        case 40 -> { if (tt != 0) throw t.bad("unk_id"); unk = (int) t.varint(); }
                        case 41 -> { if (tt != 0) throw t.bad("bos_id"); bos = (int) t.varint(); }
                        case 42 -> { if (tt != 0) throw t.bad("eos_id"); eos = (int) t.varint(); }
                        case 43 -> { if (tt != 0) throw t.bad("pad_id"); pad = (int) t.varint(); }
                        case 44 -> { if (tt != 2) throw t.bad("unk_surface"); unkSurface = t.string(t.bytes()); }
                        default -> t.skip(tt);
                    }
                }
            } else if (field == 3 && wt == 2) {                // NormalizerSpec
                int[] r = w.bytes();
                Wire n = new Wire(data, r[0], r[1], source);
                while (n.more()) {
                    long tg = n.varint();
                    int f = (int) (tg >>> 3), nt = (int) (tg & 7);
                    switch (f) {
                        case 1 -> { if (nt != 2) throw n.bad("name"); normName = n.string(n.bytes()); }
                        case 2 -> {
                            if (nt != 2) throw n.bad("precompiled_charsmap");
                            int[] cr = n.bytes();
                            charsmap = java.util.Arrays.copyOfRange(data, cr[0], cr[1]);
                        }
                        case 3 -> { if (nt != 0) throw n.bad("add_dummy_prefix"); dummy = n.varint() != 0; }
                        case 4 -> { if (nt != 0) throw n.bad("remove_extra_whitespaces"); removeWs = n.varint() != 0; }
                        case 5 -> { if (nt != 0) throw n.bad("escape_whitespaces"); escapeWs = n.varint() != 0; }
                        default -> n.skip(nt);
                    }
                }
            } else {
                w.skip(wt);                                     // self_test_data, denormalizer_spec, extensions
            }
        }
        if (pieces.isEmpty()) throw new BadInputException(source + ": not a SentencePiece model (no pieces found)");
        // proto2 int32 fields of value -1 arrive as 10-byte varints: the (int) cast restores -1
        return new SentencePieceModel(pieces, modelType, unk, bos, eos, pad, byteFallback, wsSuffix, unkSurface,
                normName, charsmap, dummy, removeWs, escapeWs, Map.of()).validated(source);
    }

    private static Type typeOf(int t, Wire w) {
        return switch (t) {
            case 1 -> Type.NORMAL;
            case 2 -> Type.UNKNOWN;
            case 3 -> Type.CONTROL;
            case 4 -> Type.USER_DEFINED;
            case 5 -> Type.UNUSED;
            case 6 -> Type.BYTE;
            default -> throw w.bad("unknown piece type " + t + " (expected 1..6)");
        };
    }

    SentencePieceModel validated(String source) {
        if (modelType != UNIGRAM)
            throw new BadInputException(source + ": SentencePiece model_type " + modelType + " is not supported (expected 1 = UNIGRAM, as T5 uses)");
        if (unkId < 0 || unkId >= pieces.size() || pieces.get(unkId).type() != Type.UNKNOWN)
            throw new BadInputException(source + ": unk_id " + unkId + " does not name an UNKNOWN piece");
        if (eosId >= pieces.size()) throw new BadInputException(source + ": eos_id " + eosId + " is outside the " + pieces.size() + " pieces");
        if (treatWhitespaceAsSuffix)
            throw new BadInputException(source + ": treat_whitespace_as_suffix=true is not supported (T5 models use false)");
        Set<String> seen = new HashSet<>();
        for (Piece p : pieces)
            if (!seen.add(p.piece())) throw new BadInputException(source + ": piece '" + p.piece() + "' is defined twice");
        if (precompiledCharsmap.length > 0 && precompiledCharsmap.length < 4)
            throw new BadInputException(source + ": precompiled_charsmap of " + precompiledCharsmap.length + " bytes is truncated");
        return this;
    }

    /** The same model with Hugging Face special tokens (content → id) cut out of the text before encoding. */
    public SentencePieceModel withSpecialTokens(Map<String, Integer> special) {
        return new SentencePieceModel(pieces, modelType, unkId, bosId, eosId, padId, byteFallback, treatWhitespaceAsSuffix,
                unkSurface, normalizerName, precompiledCharsmap, addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces, Map.copyOf(special));
    }

    // ------------------------------------------------------------------ Hugging Face tokenizer.json

    /**
     * Reads the parts of a Hugging Face {@code tokenizer.json} a T5 tokenizer uses: a Unigram model
     * (vocab with scores, unk_id, byte_fallback), the normaliser (Precompiled charsmap, optionally in a
     * Sequence with {@code Replace(" {2,}", " ")} and Strip), the pre-tokenizer (Metaspace, optionally
     * after WhitespaceSplit) and the added tokens. Special added tokens become CONTROL pieces cut out
     * of the text before encoding; the post-processor's trailing {@code </s>} is the EOS id.
     */
    @SuppressWarnings("unchecked")
    public static SentencePieceModel fromTokenizerJson(Map<String, Object> json, String source) {
        Object m = json.get("model");
        if (!(m instanceof Map)) throw new BadInputException(source + ": no \"model\" object");
        Map<String, Object> model = (Map<String, Object>) m;
        if (!"Unigram".equals(model.get("type")))
            throw new BadInputException(source + ": model type '" + model.get("type") + "' is not supported (expected \"Unigram\", as T5 uses)");
        Object vocabObj = model.get("vocab");
        if (!(vocabObj instanceof List<?> vocab) || vocab.isEmpty()) throw new BadInputException(source + ": model.vocab is missing or empty");
        int unk = model.get("unk_id") instanceof Number n ? n.intValue() : -1;
        if (unk < 0) throw new BadInputException(source + ": model.unk_id is missing (T5 tokenizers set it)");
        boolean byteFallback = Boolean.TRUE.equals(model.get("byte_fallback"));

        Map<String, Integer> special = new java.util.LinkedHashMap<>();
        Set<Integer> specialIds = new HashSet<>(), userIds = new HashSet<>();
        if (json.get("added_tokens") instanceof List<?> added)
            for (Object o : added) {
                Map<String, Object> t = (Map<String, Object>) o;
                int id = ((Number) t.get("id")).intValue();
                String content = (String) t.get("content");
                special.put(content, id);
                if (Boolean.TRUE.equals(t.get("special"))) specialIds.add(id); else userIds.add(id);
            }

        List<Piece> pieces = new ArrayList<>(vocab.size());
        for (int i = 0; i < vocab.size(); i++) {
            if (!(vocab.get(i) instanceof List<?> e) || e.size() != 2 || !(e.get(0) instanceof String p) || !(e.get(1) instanceof Number s))
                throw new BadInputException(source + ": model.vocab[" + i + "] is not a [piece, score] pair");
            Type type = i == unk ? Type.UNKNOWN
                    : specialIds.contains(i) ? Type.CONTROL
                    : userIds.contains(i) ? Type.USER_DEFINED
                    : byteFallback && p.length() == 6 && p.startsWith("<0x") && p.endsWith(">") ? Type.BYTE
                    : Type.NORMAL;
            pieces.add(new Piece(p, s.floatValue(), type));
        }

        // normaliser
        byte[] charsmap = new byte[0];
        boolean replaceSpaces = false;
        List<Map<String, Object>> norms = flatten(json.get("normalizer"), "normalizers");
        for (Map<String, Object> n : norms) {
            String type = String.valueOf(n.get("type"));
            switch (type) {
                case "Precompiled" -> {
                    Object cm = n.get("precompiled_charsmap");
                    if (cm instanceof String b64 && !b64.isEmpty()) {
                        try { charsmap = Base64.getDecoder().decode(b64); }
                        catch (IllegalArgumentException ex) { throw new BadInputException(source + ": precompiled_charsmap is not valid base64"); }
                    }
                }
                case "Replace" -> {
                    Object pat = n.get("pattern");
                    String regex = pat instanceof Map<?, ?> pm ? String.valueOf(pm.get("Regex") != null ? pm.get("Regex") : pm.get("String")) : String.valueOf(pat);
                    if (regex.equals(" {2,}") && " ".equals(n.get("content"))) replaceSpaces = true;
                    else throw new BadInputException(source + ": normalizer Replace(" + regex + ") is not supported (T5 uses Replace(\" {2,}\", \" \"))");
                }
                case "Strip", "StripAccents", "NFKC" -> {
                    if (!type.equals("Strip")) throw new BadInputException(source + ": normalizer " + type + " is not supported (expected Precompiled)");
                }
                default -> throw new BadInputException(source + ": normalizer '" + type + "' is not supported (expected Precompiled, Replace, Strip)");
            }
        }
        // pre-tokenizer
        boolean whitespaceSplit = false, metaspace = false, prefix = false;
        for (Map<String, Object> p : flatten(json.get("pre_tokenizer"), "pretokenizers")) {
            String type = String.valueOf(p.get("type"));
            switch (type) {
                case "WhitespaceSplit" -> whitespaceSplit = true;
                case "Metaspace" -> {
                    metaspace = true;
                    Object rep = p.get("replacement");
                    if (rep != null && !"\u2581".equals(rep))
                        throw new BadInputException(source + ": Metaspace replacement '" + rep + "' is not supported (expected \u2581)");
                    Object scheme = p.get("prepend_scheme");
                    Object addPrefix = p.get("add_prefix_space");
                    prefix = scheme != null ? !"never".equals(scheme) : !Boolean.FALSE.equals(addPrefix);
                    if ("first".equals(scheme))
                        throw new BadInputException(source + ": Metaspace prepend_scheme \"first\" (legacy=False) is not supported; Infinity loads T5 with legacy=True (\"always\")");
                }
                default -> throw new BadInputException(source + ": pre_tokenizer '" + type + "' is not supported (expected Metaspace, WhitespaceSplit)");
            }
        }
        if (!metaspace) throw new BadInputException(source + ": no Metaspace pre_tokenizer (a SentencePiece-converted tokenizer has one)");

        int eos = -1;
        if (json.get("post_processor") instanceof Map<?, ?> pp && pp.get("single") instanceof List<?> single) {
            for (Object o : single)
                if (o instanceof Map<?, ?> item && item.get("SpecialToken") instanceof Map<?, ?> st) {
                    Integer id = special.get(String.valueOf(st.get("id")));
                    if (id != null) eos = id;
                }
        }
        if (eos < 0) eos = special.getOrDefault("</s>", -1);
        int pad = special.getOrDefault("<pad>", -1);
        Map<String, Integer> splitOut = new java.util.LinkedHashMap<>(special);
        return new SentencePieceModel(pieces, UNIGRAM, unk, -1, eos, pad, byteFallback, false, " \u2047 ", "hf:" + source,
                charsmap, prefix, replaceSpaces || whitespaceSplit, true, splitOut).validated(source);
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> flatten(Object node, String listKey) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (node instanceof Map<?, ?> m) {
            if ("Sequence".equals(m.get("type")) && m.get(listKey) instanceof List<?> l)
                for (Object o : l) out.addAll(flatten(o, listKey));
            else out.add((Map<String, Object>) m);
        }
        return out;
    }

    /** The trie blob size recorded in the first 4 bytes of the charsmap (little-endian). */
    static int charsmapTrieSize(byte[] charsmap) {
        return ByteBuffer.wrap(charsmap, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }
}
