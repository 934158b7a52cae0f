package dev.infinityj.pipeline;

import dev.infinityj.BadInputException;
import dev.infinityj.util.AtomicFiles;
import dev.infinityj.util.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A converted model directory (what {@code infinityj convert} writes and {@code --model} /
 * {@code INFINITYJ_HOME} point at):
 * <pre>
 *   manifest.json              what each file is, its source and sha256, the pairing
 *   transformer.safetensors    Infinity transformer, native layout (docs/weights.md)
 *   vae.safetensors            BSQ-VAE (decoder + encoder + quantizer buffers)
 *   t5/config.json             Flan-T5 config
 *   t5/model.safetensors       Flan-T5 encoder weights only, bf16
 *   t5/spiece.model            SentencePiece model (or t5/tokenizer.json)
 * </pre>
 */
public final class ModelDirectory {
    public static final String MANIFEST = "manifest.json";
    public static final String TRANSFORMER = "transformer.safetensors";
    public static final String VAE = "vae.safetensors";
    public static final String T5_DIR = "t5";

    public static final String T5_CONFIG = T5_DIR + "/config.json";
    public static final String T5_WEIGHTS = T5_DIR + "/model.safetensors";
    public static final String FORMAT = "infinityj-model/1";

    /**
     * One file of the manifest under its role ({@code transformer}, {@code vae}, {@code t5},
     * {@code t5_config}, {@code t5_tokenizer}, ...): the file relative to the directory, its
     * sha256 and size, and the name and sha256 of the file it was made from.
     */
    public record FileEntry(String role, String file, String sha256, long bytes, String source, String sourceSha256) {
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("file", file);
            m.put("sha256", sha256);
            m.put("bytes", bytes);
            m.put("source", source);
            m.put("source_sha256", sourceSha256);
            return m;
        }

        /** The entry stored under {@code role} in a parsed manifest. */
        public static FileEntry fromJson(String role, Map<?, ?> m) {
            return new FileEntry(role, str(m.get("file")), str(m.get("sha256")),
                    m.get("bytes") instanceof Number n ? n.longValue() : -1, str(m.get("source")), str(m.get("source_sha256")));
        }

        private static String str(Object o) { return o == null ? null : o.toString(); }
    }

    private final Path dir;
    private final Map<String, Object> manifest;

    private ModelDirectory(Path dir, Map<String, Object> manifest) {
        this.dir = dir;
        this.manifest = manifest;
    }

    public static String howToGet() {
        return "download infinity_2b_reg.pth and infinity_vae_d32reg.pth (Hugging Face: FoundationVision/Infinity) and google/flan-t5-xl, "
                + "then run: infinityj convert --transformer infinity_2b_reg.pth --vae infinity_vae_d32reg.pth --t5 flan-t5-xl/ --out MODEL_DIR";
    }

    /** Opens and checks a model directory; names every missing file and how to produce it. */
    public static ModelDirectory open(Path dir) {
        if (!Files.exists(dir)) throw new BadInputException("--model " + dir + ": directory not found; " + howToGet());
        if (!Files.isDirectory(dir)) throw new BadInputException("--model " + dir + ": not a directory (expected a converted model directory); " + howToGet());
        List<String> missing = new ArrayList<>();
        for (String f : List.of(MANIFEST, TRANSFORMER, VAE, T5_CONFIG, T5_WEIGHTS))
            if (!Files.isRegularFile(dir.resolve(f))) missing.add(f);
        if (!Files.isRegularFile(dir.resolve(T5_DIR + "/spiece.model")) && !Files.isRegularFile(dir.resolve(T5_DIR + "/tokenizer.json")))
            missing.add(T5_DIR + "/spiece.model (or tokenizer.json)");
        if (!missing.isEmpty())
            throw new BadInputException("--model " + dir + ": missing " + String.join(", ", missing) + "; " + howToGet());
        Map<String, Object> m;
        try {
            m = Json.parseObject(Files.readString(dir.resolve(MANIFEST), StandardCharsets.UTF_8), dir.resolve(MANIFEST).toString());
        } catch (IOException e) {
            throw new BadInputException(dir.resolve(MANIFEST) + ": cannot read: " + e.getMessage());
        }
        if (!FORMAT.equals(m.get("format")))
            throw new BadInputException(dir.resolve(MANIFEST) + ": unknown format " + m.get("format") + " (expected infinityj-model/1)");
        return new ModelDirectory(dir, m);
    }

    public Path dir() { return dir; }
    public Path transformer() { return dir.resolve(TRANSFORMER); }
    public Path vae() { return dir.resolve(VAE); }
    public Path t5Dir() { return dir.resolve(T5_DIR); }
    public Map<String, Object> manifest() { return manifest; }

    /** The manifest's file entries, by role, in manifest order. */
    public List<FileEntry> files() { return files(manifest); }

    /** The file entries of a parsed manifest, by role, in manifest order. */
    public static List<FileEntry> files(Map<String, Object> manifest) {
        List<FileEntry> out = new ArrayList<>();
        if (manifest.get("files") instanceof Map<?, ?> files)
            for (Map.Entry<?, ?> e : files.entrySet())
                if (e.getValue() instanceof Map<?, ?> f) out.add(FileEntry.fromJson(String.valueOf(e.getKey()), f));
        return out;
    }

    /** sha256 per role, for PNG metadata. */
    @SuppressWarnings("unchecked")
    public Map<String, String> checksums() {
        Map<String, String> out = new LinkedHashMap<>();
        if (manifest.get("files") instanceof Map<?, ?> files)
            for (Map.Entry<?, ?> e : files.entrySet())
                if (e.getValue() instanceof Map<?, ?> f && f.get("sha256") instanceof String s) out.put((String) e.getKey(), s);
        return out;
    }

    /** Writes {@code dir/manifest.json} atomically (temporary file + rename). */
    public static void writeManifest(Path dir, List<FileEntry> files, Map<String, Object> pairing) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        Map<String, Object> fs = new LinkedHashMap<>();
        for (FileEntry f : files) fs.put(f.role(), f.toJson());
        m.put("files", fs);
        m.put("pairing", pairing);
        AtomicFiles.writeBytes(dir.resolve(MANIFEST), Json.writePretty(m).getBytes(StandardCharsets.UTF_8));
    }

}
