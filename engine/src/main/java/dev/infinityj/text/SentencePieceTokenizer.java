package dev.infinityj.text;

import dev.infinityj.BadInputException;
import dev.infinityj.text.SentencePieceModel.Piece;
import dev.infinityj.text.SentencePieceModel.Type;
import dev.infinityj.util.Json;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SentencePiece Unigram tokenizer reproducing sentencepiece's encoder (normalizer.cc +
 * unigram_model.cc EncodeOptimized) and, on top, what Infinity's T5 tokenizer does (spec §2.1):
 * special tokens ({@code </s>}, {@code <pad>}, {@code <unk>}, {@code <extra_id_N>}) cut out of
 * the text, one EOS appended, truncation to 512 ids including the EOS.
 */
public final class SentencePieceTokenizer {
    /** Infinity's {@code max_length} (run_infinity.py:45): 511 pieces + EOS at most. */
    public static final int T5_MAX_LENGTH = 512;
    /** sentencepiece's kUnkPenalty: the unknown piece scores min(normal scores) − 10. */
    private static final float UNK_PENALTY = 10.0f;

    /** Ids and whether they were cut to the maximum length (the CLI warns then). */
    public record Encoding(int[] ids, boolean truncated, int untruncatedLength) {}

    private final SentencePieceModel model;
    private final Piece[] pieces;
    private final Map<String, Integer> pieceToId = new HashMap<>();
    private final PieceTrie trie = new PieceTrie();
    private final SpmNormalizer normalizer;
    private final float minScore, maxScore, unkScore;
    private final int[] byteToId;                // byte-fallback pieces <0xXX>, null when disabled
    private final String[] specials;             // sorted longest first
    private final java.util.BitSet specialFirstChars = new java.util.BitSet();
    private final int maxLength;

    private SentencePieceTokenizer(SentencePieceModel m, int maxLength, String source) {
        this.model = m;
        this.maxLength = maxLength;
        this.pieces = m.pieces().toArray(new Piece[0]);
        float mn = Float.MAX_VALUE, mx = Float.MIN_NORMAL;   // FLT_MAX, FLT_MIN as unigram_model.cc initialises them
        List<String> userDefined = new ArrayList<>();
        for (int i = 0; i < pieces.length; i++) {
            Piece p = pieces[i];
            pieceToId.putIfAbsent(p.piece(), i);
            switch (p.type()) {
                case NORMAL -> { mn = Math.min(mn, p.score()); mx = Math.max(mx, p.score()); trie.put(utf8(p.piece()), i); }
                case USER_DEFINED -> { userDefined.add(p.piece()); trie.put(utf8(p.piece()), i); }
                case UNUSED -> trie.put(utf8(p.piece()), i);    // in the trie, skipped by the segmenter
                default -> { }
            }
        }
        minScore = mn;
        maxScore = mx;
        unkScore = mn - UNK_PENALTY;
        if (m.byteFallback()) {
            byteToId = new int[256];
            for (int b = 0; b < 256; b++) {
                Integer id = pieceToId.get(String.format("<0x%02X>", b));
                if (id == null || pieces[id].type() != Type.BYTE)
                    throw new BadInputException(source + ": byte_fallback is on but piece <0x" + String.format("%02X", b) + "> is missing");
                byteToId[b] = id;
            }
        } else byteToId = null;
        normalizer = new SpmNormalizer(m, userDefined, source);
        specials = m.specialTokens().keySet().stream().filter(s -> !s.isEmpty())
                .sorted((a, b) -> Integer.compare(b.length(), a.length())).toArray(String[]::new);
        for (String sp : specials) specialFirstChars.set(sp.charAt(0));
    }

    // ------------------------------------------------------------------ loading

    /**
     * The tokenizer Infinity uses (HF {@code T5Tokenizer}, legacy=True): from a model folder
     * ({@code tokenizer.json}, else {@code spiece.model}), a {@code tokenizer.json} or a
     * {@code *.model} file. Loaded from {@code spiece.model} it adds the 100 {@code <extra_id_N>}
     * tokens after the pieces, as the Hugging Face T5 tokenizer does.
     */
    public static SentencePieceTokenizer load(Path path) {
        Path p = path;
        if (Files.isDirectory(p)) {
            if (Files.isRegularFile(p.resolve("tokenizer.json"))) p = p.resolve("tokenizer.json");
            else if (Files.isRegularFile(p.resolve("spiece.model"))) p = p.resolve("spiece.model");
            else throw new BadInputException(path + ": no tokenizer.json or spiece.model in this folder");
        }
        if (!Files.isRegularFile(p)) throw new BadInputException(p + ": tokenizer file not found (expected spiece.model or tokenizer.json)");
        byte[] data = read(p);
        if (looksLikeJson(data)) {
            Map<String, Object> json = Json.parseObject(new String(data, StandardCharsets.UTF_8), p.toString());
            return new SentencePieceTokenizer(SentencePieceModel.fromTokenizerJson(json, p.toString()), T5_MAX_LENGTH, p.toString());
        }
        SentencePieceModel m = SentencePieceModel.parseModelProto(data, p.toString());
        return new SentencePieceTokenizer(withT5SpecialTokens(m, 100), T5_MAX_LENGTH, p.toString());
    }

    /**
     * Plain sentencepiece ({@code SentencePieceProcessor.encode}) from a {@code spiece.model}: no
     * special tokens are recognised in the text (they are segmented as text), no extra ids.
     */
    public static SentencePieceTokenizer loadSentencePiece(Path spieceModel) {
        byte[] data = read(spieceModel);
        return new SentencePieceTokenizer(SentencePieceModel.parseModelProto(data, spieceModel.toString()), T5_MAX_LENGTH, spieceModel.toString());
    }

    public static SentencePieceTokenizer of(SentencePieceModel model, int maxLength) {
        if (maxLength < 1) throw new BadInputException("tokenizer max length must be at least 1 (room for EOS), got " + maxLength);
        return new SentencePieceTokenizer(model, maxLength, model.normalizerName());
    }

    /** The same tokenizer with another maximum length (ids incl. EOS). */
    public SentencePieceTokenizer withMaxLength(int maxLength) {
        if (maxLength < 1) throw new BadInputException("tokenizer max length must be at least 1 (room for EOS), got " + maxLength);
        return new SentencePieceTokenizer(model, maxLength, model.normalizerName());
    }

    /** HF T5Tokenizer: eos/unk/pad are special tokens, plus {@code <extra_id_0..n-1>} at ids size+n-1 .. size. */
    static SentencePieceModel withT5SpecialTokens(SentencePieceModel m, int extraIds) {
        List<Piece> ps = new ArrayList<>(m.pieces());
        Map<String, Integer> special = new LinkedHashMap<>();
        for (int id : new int[]{m.eosId(), m.unkId(), m.padId()})
            if (id >= 0) special.put(ps.get(id).piece(), id);
        int base = ps.size();
        for (int i = 0; i < extraIds; i++) ps.add(new Piece("<extra_id_" + (extraIds - 1 - i) + ">", 0f, Type.CONTROL));
        for (int i = 0; i < extraIds; i++) special.put("<extra_id_" + i + ">", base + extraIds - 1 - i);
        return new SentencePieceModel(ps, m.modelType(), m.unkId(), m.bosId(), m.eosId(), m.padId(), m.byteFallback(),
                m.treatWhitespaceAsSuffix(), m.unkSurface(), m.normalizerName(), m.precompiledCharsmap(), m.addDummyPrefix(),
                m.removeExtraWhitespaces(), m.escapeWhitespaces(), special);
    }

    private static boolean looksLikeJson(byte[] d) {
        for (byte b : d) {
            if (b == ' ' || b == '\n' || b == '\r' || b == '\t') continue;
            return b == '{';
        }
        return false;
    }

    private static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new BadInputException(p + ": cannot read tokenizer file: " + e.getMessage(), e);
        }
    }

    private static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    // ------------------------------------------------------------------ encoding

    /** Ids as Infinity's tokenizer gives them: pieces, then EOS, at most {@link #maxLength()} in all. */
    public int[] encode(String text) { return encodeWithInfo(text).ids(); }

    public Encoding encodeWithInfo(String text) {
        List<Integer> ids = new ArrayList<>();
        int pos = 0, segStart = 0;
        while (pos < text.length()) {
            String hit = specialAt(text, pos);
            if (hit == null) { pos++; continue; }
            for (int id : encodeSentencePiece(text.substring(segStart, pos))) ids.add(id);
            ids.add(model.specialTokens().get(hit));
            pos += hit.length();
            segStart = pos;
        }
        for (int id : encodeSentencePiece(text.substring(segStart))) ids.add(id);
        int full = ids.size() + (model.eosId() >= 0 ? 1 : 0);
        int keep = Math.min(ids.size(), model.eosId() >= 0 ? maxLength - 1 : maxLength);
        int[] out = new int[keep + (model.eosId() >= 0 ? 1 : 0)];
        for (int i = 0; i < keep; i++) out[i] = ids.get(i);
        if (model.eosId() >= 0) out[keep] = model.eosId();
        return new Encoding(out, full > out.length, full);
    }

    private String specialAt(String text, int pos) {
        if (!specialFirstChars.get(text.charAt(pos))) return null;
        for (String s : specials) if (text.startsWith(s, pos)) return s;   // longest first
        return null;
    }

    /** Exactly {@code SentencePieceProcessor.encode(text)}: no special tokens, no EOS, no truncation. */
    public int[] encodeSentencePiece(String text) {
        Segmentation sg = segment(text);
        List<int[]> segs = sg.pieces();
        int n = 0;
        for (int[] s : segs) n += byteToId != null && s[0] == model.unkId() ? s[2] - s[1] : 1;
        int[] out = new int[n];
        int k = 0;
        byte[] norm = sg.normalized();
        for (int[] s : segs) {
            if (byteToId != null && s[0] == model.unkId())              // byte fallback: one piece per UTF-8 byte
                for (int i = s[1]; i < s[2]; i++) out[k++] = byteToId[norm[i] & 0xff];
            else out[k++] = s[0];
        }
        return out;
    }

    /** The pieces sentencepiece would return ({@code out_type=str}). */
    public List<String> encodeAsPieces(String text) {
        Segmentation sg = segment(text);
        List<int[]> segs = sg.pieces();
        byte[] norm = sg.normalized();
        List<String> out = new ArrayList<>();
        for (int[] s : segs) {
            if (byteToId != null && s[0] == model.unkId())
                for (int i = s[1]; i < s[2]; i++) out.add(pieces[byteToId[norm[i] & 0xff]].piece());
            else out.add(new String(norm, s[1], s[2] - s[1], StandardCharsets.UTF_8));
        }
        return out;
    }

    /** The normalised text the segmenter sees (with "▁" for spaces). */
    public String normalize(String text) {
        return new String(normalizer.normalize(utf8(text)), StandardCharsets.UTF_8);
    }

    /** The normalised bytes and the chosen pieces as {id, begin, end} byte ranges. */
    private record Segmentation(byte[] normalized, List<int[]> pieces) {}

    /**
     * Viterbi over the normalised bytes (unigram_model.cc EncodeOptimized): {id, begin, end} per
     * piece. Scores add in double and are kept in float, as the C++ code does (float best-path
     * scores, a double candidate). A character no piece covers becomes the unknown piece with
     * score min − 10; consecutive unknowns are then merged into one.
     */
    private Segmentation segment(String text) {
        byte[] s = normalizer.normalize(utf8(text));
        int size = s.length;
        int[] bestId = new int[size + 1], startsAt = new int[size + 1];
        float[] bestScore = new float[size + 1];
        Arrays.fill(startsAt, -1);
        Arrays.fill(bestId, -1);
        int start = 0;
        while (start < size) {
            float tillHere = bestScore[start];
            boolean hasSingleNode = false;
            int mblen = Math.min(SpmNormalizer.oneCharLen(s[start]), size - start);
            int node = 0;
            for (int keyPos = start; keyPos < size; ) {
                node = trie.step(node, s[keyPos]);
                keyPos++;
                if (node < 0) break;
                int id = trie.id(node);
                if (id < 0) continue;
                Piece p = pieces[id];
                if (p.type() == Type.UNUSED) continue;
                int length = keyPos - start;
                // user-defined symbols get a bonus so they are always selected
                double score = p.type() == Type.USER_DEFINED ? (length * maxScore - 0.1) : p.score();
                double candidate = score + tillHere;
                if (startsAt[keyPos] == -1 || candidate > bestScore[keyPos]) {
                    bestScore[keyPos] = (float) candidate;
                    startsAt[keyPos] = start;
                    bestId[keyPos] = id;
                }
                if (!hasSingleNode && length == mblen) hasSingleNode = true;
            }
            if (!hasSingleNode) {
                int target = start + mblen;
                double candidate = (double) unkScore + tillHere;
                if (startsAt[target] == -1 || candidate > bestScore[target]) {
                    bestScore[target] = (float) candidate;
                    startsAt[target] = start;
                    bestId[target] = model.unkId();
                }
            }
            start += mblen;
        }
        ArrayList<int[]> rev = new ArrayList<>();
        for (int end = size; end > 0; end = startsAt[end]) rev.add(new int[]{bestId[end], startsAt[end], end});
        List<int[]> out = new ArrayList<>(rev.size());
        for (int i = rev.size() - 1; i >= 0; i--) {
            int[] seg = rev.get(i);
            int[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last[0] == model.unkId() && seg[0] == model.unkId()) last[2] = seg[2];   // merge unknowns
            else out.add(seg);
        }
        return new Segmentation(s, out);
    }

    // ------------------------------------------------------------------ decoding

    /**
     * {@code SentencePieceProcessor.decode}: control pieces vanish, the unknown piece becomes
     * " ⁇ ", byte pieces are reassembled into UTF-8, "▁" becomes a space and the dummy-prefix
     * space of the first piece is dropped.
     */
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean bosWs = model.addDummyPrefix();
        byte[] space = SpmNormalizer.SPACE_SYMBOL;
        for (int id : ids) {
            if (id < 0 || id >= pieces.length) throw new BadInputException("decode: id " + id + " is outside the vocabulary of " + pieces.length);
            Piece p = pieces[id];
            byte[] surface;
            switch (p.type()) {
                case CONTROL -> surface = new byte[0];
                case UNKNOWN -> surface = utf8(model.unkSurface());
                case BYTE -> surface = new byte[]{(byte) Integer.parseInt(p.piece().substring(3, 5), 16)};
                default -> {
                    byte[] b = utf8(p.piece());
                    int from = bosWs && startsWith(b, space) ? space.length : 0;
                    ByteArrayOutputStream t = new ByteArrayOutputStream();
                    for (int i = from; i < b.length; ) {
                        if (startsWith(b, i, space)) { t.write(' '); i += space.length; }
                        else t.write(b[i++]);
                    }
                    surface = t.toByteArray();
                }
            }
            out.writeBytes(surface);
            if (surface.length > 0) bosWs = false;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static boolean startsWith(byte[] b, byte[] p) { return startsWith(b, 0, p); }

    private static boolean startsWith(byte[] b, int at, byte[] p) {
        return b.length - at >= p.length && Arrays.equals(b, at, at + p.length, p, 0, p.length);
    }

    // ------------------------------------------------------------------ vocabulary

    public int vocabSize() { return pieces.length; }
    public int eosId() { return model.eosId(); }
    public int padId() { return model.padId(); }
    public int unkId() { return model.unkId(); }
    public int maxLength() { return maxLength; }
    public String idToPiece(int id) { return pieces[id].piece(); }
    /** The id of {@code piece}, or −1. */
    public int pieceToId(String piece) { return pieceToId.getOrDefault(piece, -1); }
    public SentencePieceModel model() { return model; }
    float minScore() { return minScore; }
}
