package dev.infinityj.pipeline;

import dev.infinityj.BadInputException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.Converter;
import dev.infinityj.io.ModelKind;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.text.SentencePieceTokenizer;
import dev.infinityj.text.T5Config;
import dev.infinityj.text.T5Files;
import dev.infinityj.util.Checksums;
import dev.infinityj.util.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Builds or updates a {@link ModelDirectory} from the published files: the Infinity transformer
 * {@code .pth}, the BSQ-VAE {@code .pth} and a Hugging Face Flan-T5 folder (encoder weights only,
 * config and tokenizer copied alongside). Any subset of the three parts may be given; parts not
 * given are kept from an existing directory.
 * <p>
 * Order of work, so that nothing is half-written: (1) open every source and read the numbers the
 * {@linkplain Pairing pairing} needs (from the existing directory for parts not given), (2) refuse a
 * mismatched pairing, (3) write every new file into a hidden staging folder beside the target,
 * manifest last, (4) commit: a new directory is the staging folder renamed; an existing one gets
 * each file renamed into place, the manifest last. On any failure the staging folder is deleted
 * and the target is as it was.
 */
public final class ModelConverter {
    public static final String ROLE_TRANSFORMER = "transformer";
    public static final String ROLE_VAE = "vae";
    public static final String ROLE_T5 = "t5";
    public static final String ROLE_T5_CONFIG = "t5_config";

    /**
     * What to convert. Null parts are kept from {@code out} (if it exists).
     *
     * @param t5Tokenizer a {@code spiece.model} or {@code tokenizer.json} to use when the T5 folder has none (may be null)
     * @param checkPairing refuse mismatched parts (the default); false records the numbers and converts anyway
     * @param layout how the transformer's and T5's Linear weights are stored (null = {@link Converter.Layout#PACKED},
     *               the zero-copy layout of the CPU backend); the VAE is always plain
     */
    public record Request(Path transformer, Path vae, Path t5, Path t5Tokenizer, Path out,
                          Converter.Precision precision, boolean checkPairing, Converter.Layout layout) {
        /** With the default layout (packed). */
        public Request(Path transformer, Path vae, Path t5, Path t5Tokenizer, Path out, Converter.Precision precision, boolean checkPairing) {
            this(transformer, vae, t5, t5Tokenizer, out, precision, checkPairing, Converter.Layout.PACKED);
        }
    }

    /** Called after each file is complete (in the staging folder). */
    @FunctionalInterface
    public interface Listener {
        void fileWritten(String file, int tensors, long bytes, double seconds);
    }

    public record Result(Path dir, List<ModelDirectory.FileEntry> files, Pairing pairing) {}

    /**
     * The numbers that must agree between parts (null = part absent): the transformer's codebook
     * dim {@code d} ({@code word_embed.weight} columns, = {@code head.weight} rows / 2) and text
     * channels ({@code text_norm.weight} size), the VAE's codebook dim ({@code decoder.conv_in}
     * input channels) and number of resolution levels, T5's {@code d_model}. Names say where each
     * number comes from, for messages.
     */
    public record Pairing(Integer transformerCodebookDim, Integer transformerTextChannels, String transformerName,
                          Integer vaeCodebookDim, Integer vaeLevels, String vaeName,
                          Integer t5DModel, String t5Name) {

        /** Null when the parts agree (or a part is missing), else the one-line reason. */
        public String mismatch() { return mismatch(true, true, true); }

        /**
         * As {@link #mismatch()}, but only for the pairs that involve a part being (re)placed, so that
         * updating one part of a directory built with --no-pairing-check is judged on that part alone.
         */
        public String mismatch(boolean transformerNew, boolean vaeNew, boolean t5New) {
            if ((transformerNew || vaeNew) && transformerCodebookDim != null && vaeCodebookDim != null && !codebooksMatch())
                return "transformer " + transformerName + " has codebook dim " + transformerCodebookDim + " but VAE " + vaeName
                        + " has codebook dim " + vaeCodebookDim + (vaeLevels != null && vaeLevels == 4
                        ? " (a patch-8 VAE pairs with a transformer of dim 4 x " + vaeCodebookDim + ")" : "")
                        + "; they are not a pair";
            if ((transformerNew || t5New) && transformerTextChannels != null && t5DModel != null && !transformerTextChannels.equals(t5DModel))
                return "transformer " + transformerName + " expects " + transformerTextChannels + " text channels but T5 "
                        + t5Name + " has d_model " + t5DModel + "; they are not a pair";
            return null;
        }

        /** Equal dims; or the 8B spatial-patchify pairing (spec §4.6): 4·d bits per token over a patch-8 (4-level) VAE. */
        private boolean codebooksMatch() {
            if (transformerCodebookDim.equals(vaeCodebookDim)) return true;
            return transformerCodebookDim == 4 * vaeCodebookDim && vaeLevels != null && vaeLevels == 4;
        }

        Map<String, Object> toJson(boolean checked) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("transformer_codebook_dim", transformerCodebookDim);
            m.put("vae_codebook_dim", vaeCodebookDim);
            m.put("spatial_patchify", transformerCodebookDim != null && vaeCodebookDim != null
                    && !transformerCodebookDim.equals(vaeCodebookDim) && codebooksMatch());
            m.put("transformer_text_channels", transformerTextChannels);
            m.put("t5_d_model", t5DModel);
            m.put("checked", checked);
            m.put("ok", mismatch() == null);
            return m;
        }
    }

    private ModelConverter() {}

    public static Result convert(Request r, Listener listener) {
        if (r.out() == null) throw new BadInputException("convert: no output model directory given (--out)");
        if (r.transformer() == null && r.vae() == null && r.t5() == null)
            throw new BadInputException("convert: nothing to convert (give --transformer, --vae and/or --t5)");
        Path out = r.out().toAbsolutePath().normalize();
        Map<String, Object> existing = existingManifest(out);
        Path parent = out.getParent();
        if (parent == null || !Files.isDirectory(parent))
            throw new BadInputException("--out " + r.out() + ": parent directory " + parent + " does not exist");
        if (!Files.isWritable(parent)) throw new BadInputException("--out " + r.out() + ": parent directory " + parent + " is not writable");

        List<AutoCloseable> open = new ArrayList<>();
        Path staging = null;
        Thread onExit = null;
        try {
            // (1) open the sources and read the pairing numbers, before anything is written
            WeightSource tr = null, vae = null, t5 = null;
            Integer trD = null, trText = null, vaeD = null, vaeLevels = null, t5D = null;
            String trName = null, vaeName = null, t5Name = null;
            if (r.transformer() != null) {
                tr = add(open, Checkpoints.open(r.transformer()));
                requireKind(tr, r.transformer(), ModelKind.INFINITY_TRANSFORMER, "--transformer");
                int[] td = transformerDims(tr);
                trD = td[0]; trText = td[1]; trName = fileName(r.transformer());
            } else if (existing != null && Files.isRegularFile(out.resolve(ModelDirectory.TRANSFORMER))) {
                try (SafetensorsFile f = SafetensorsFile.open(out.resolve(ModelDirectory.TRANSFORMER))) {
                    int[] td = transformerDims(f);
                    trD = td[0]; trText = td[1]; trName = describeExisting(out, ModelDirectory.TRANSFORMER, existing, ROLE_TRANSFORMER);
                }
            }
            if (r.vae() != null) {
                vae = add(open, Checkpoints.open(r.vae()));
                requireKind(vae, r.vae(), ModelKind.BSQ_VAE, "--vae");
                int[] vd = vaeDims(vae);
                vaeD = vd[0]; vaeLevels = vd[1] > 0 ? vd[1] : null; vaeName = fileName(r.vae());
            } else if (existing != null && Files.isRegularFile(out.resolve(ModelDirectory.VAE))) {
                try (SafetensorsFile f = SafetensorsFile.open(out.resolve(ModelDirectory.VAE))) {
                    int[] vd = vaeDims(f);
                    vaeD = vd[0]; vaeLevels = vd[1] > 0 ? vd[1] : null; vaeName = describeExisting(out, ModelDirectory.VAE, existing, ROLE_VAE);
                }
            }
            Path t5Weights = null, t5Config = null;
            List<Path> tokenizers = new ArrayList<>();
            if (r.t5() != null) {
                Path dir = r.t5();
                if (!Files.isDirectory(dir))
                    throw new BadInputException("--t5 " + dir + ": not a folder (expected a Hugging Face Flan-T5 folder, e.g. google/flan-t5-xl, with config.json, weights and spiece.model)");
                t5Config = dir.resolve("config.json");
                if (!Files.isRegularFile(t5Config)) throw new BadInputException("--t5 " + dir + ": no config.json in this folder");
                T5Config cfg = T5Config.load(t5Config);
                t5Weights = T5Files.weightsFile(dir);
                t5 = add(open, T5Files.open(dir));
                requireKind(t5, dir, ModelKind.T5_ENCODER, "--t5");
                String emb = t5.contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
                if (!t5.contains(emb)) throw new WeightFormatException(t5.describe() + ": no shared.weight (T5 token embedding)");
                if (t5.get(emb).rank() != 2 || t5.get(emb).dim(1) != cfg.dModel())
                    throw new WeightFormatException(t5.describe() + ": " + emb + " is " + t5.get(emb).describe() + " but config.json says d_model "
                            + cfg.dModel() + "; weights and config do not belong together");
                t5D = cfg.dModel();
                t5Name = fileName(dir);
                for (String f : T5Files.TOKENIZER_FILES) if (Files.isRegularFile(dir.resolve(f))) tokenizers.add(dir.resolve(f));
                if (r.t5Tokenizer() != null) {
                    if (!Files.isRegularFile(r.t5Tokenizer()))
                        throw new BadInputException("--t5-tokenizer " + r.t5Tokenizer() + ": file not found (expected spiece.model or tokenizer.json)");
                    tokenizers.removeIf(p -> p.getFileName().toString().equals(tokenizerName(r.t5Tokenizer())));
                    tokenizers.add(r.t5Tokenizer());
                }
                if (tokenizers.isEmpty())
                    throw new BadInputException("--t5 " + dir + ": no spiece.model or tokenizer.json in this folder (download it from the same repository, or pass --t5-tokenizer FILE)");
                for (Path tok : tokenizers) SentencePieceTokenizer.load(tok); // refuse a broken tokenizer before writing
            } else if (r.t5Tokenizer() != null) {
                throw new BadInputException("--t5-tokenizer applies only together with --t5");
            } else if (existing != null && Files.isRegularFile(out.resolve(ModelDirectory.T5_CONFIG))) {
                t5D = T5Config.load(out.resolve(ModelDirectory.T5_CONFIG)).dModel();
                t5Name = describeExisting(out, ModelDirectory.T5_WEIGHTS, existing, ROLE_T5);
            }
            Pairing pairing = new Pairing(trD, trText, trName, vaeD, vaeLevels, vaeName, t5D, t5Name);

            // (2) refuse a mismatched pair before writing anything
            String why = pairing.mismatch(tr != null, vae != null, t5 != null);
            if (why != null && r.checkPairing())
                throw new BadInputException("pairing mismatch: " + why + " (--no-pairing-check converts anyway)");

            // (3) write everything into a staging folder beside the target
            staging = Files.createTempDirectory(parent, "." + out.getFileName() + ".convert-");
            Path toDelete = staging; // Ctrl-C: finally blocks do not run, shutdown hooks do
            onExit = new Thread(() -> deleteTree(toDelete), "infinityj-convert-cleanup");
            Runtime.getRuntime().addShutdownHook(onExit);
            Converter.Precision precision = r.precision() == null ? Converter.Precision.BF16 : r.precision();
            List<ModelDirectory.FileEntry> entries = new ArrayList<>();
            Converter.Layout layout = r.layout() == null ? Converter.Layout.PACKED : r.layout();
            if (tr != null) entries.add(writeWeights(tr, r.transformer(), null, staging, ModelDirectory.TRANSFORMER, ROLE_TRANSFORMER, precision, layout, k -> true, listener));
            if (vae != null) entries.add(writeWeights(vae, r.vae(), null, staging, ModelDirectory.VAE, ROLE_VAE, precision, Converter.Layout.PLAIN, k -> true, listener));
            if (t5 != null) {
                boolean shared = t5.contains("shared.weight");
                Predicate<String> encoderOnly = k -> k.equals("shared.weight")
                        || (k.startsWith("encoder.") && !(shared && k.equals("encoder.embed_tokens.weight")));
                Files.createDirectories(staging.resolve(ModelDirectory.T5_DIR));
                entries.add(writeWeights(t5, t5Weights, r.t5(), staging, ModelDirectory.T5_WEIGHTS, ROLE_T5, precision, layout, encoderOnly, listener));
                entries.add(copy(t5Config, staging, ModelDirectory.T5_CONFIG, ROLE_T5_CONFIG, listener));
                for (Path tok : tokenizers) {
                    String name = tokenizerName(tok);
                    entries.add(copy(tok, staging, ModelDirectory.T5_DIR + "/" + name, tokenizerRole(name), listener));
                }
            }
            for (AutoCloseable c : open) c.close();
            open.clear();

            // the manifest: entries kept from the existing directory, then the new ones
            List<ModelDirectory.FileEntry> all = new ArrayList<>();
            if (existing != null)
                for (ModelDirectory.FileEntry e : ModelDirectory.files(existing))
                    if (!replaced(e.role(), tr != null, vae != null, t5 != null)) all.add(e);
            all.addAll(entries);
            ModelDirectory.writeManifest(staging, all, pairing.toJson(r.checkPairing()));

            // (4) commit
            commit(staging, out, entries, t5 != null);
            staging = null;
            return new Result(out, all, pairing);
        } catch (IOException e) {
            throw new BadInputException("convert --out " + r.out() + ": " + e.getMessage(), e);
        } catch (Exception e) {
            if (e instanceof RuntimeException re) throw re;
            throw new IllegalStateException(e);
        } finally {
            for (AutoCloseable c : open) try { c.close(); } catch (Exception ignored) { }
            if (staging != null) deleteTree(staging);
            if (onExit != null) try { Runtime.getRuntime().removeShutdownHook(onExit); } catch (IllegalStateException shuttingDown) { }
        }
    }

    private static <T extends AutoCloseable> T add(List<AutoCloseable> open, T c) {
        open.add(c);
        return c;
    }

    /** The parsed manifest of an existing model directory, null if {@code out} does not exist or is empty. */
    private static Map<String, Object> existingManifest(Path out) {
        if (!Files.exists(out)) return null;
        if (!Files.isDirectory(out)) throw new BadInputException("--out " + out + ": is a file, expected a model directory");
        Path m = out.resolve(ModelDirectory.MANIFEST);
        if (!Files.isRegularFile(m)) {
            try (Stream<Path> s = Files.list(out)) {
                if (s.findAny().isEmpty()) return null;
            } catch (IOException e) {
                throw new BadInputException("--out " + out + ": cannot list: " + e.getMessage(), e);
            }
            throw new BadInputException("--out " + out + ": exists, is not empty and has no " + ModelDirectory.MANIFEST
                    + " (not a model directory); choose a new or empty directory");
        }
        try {
            Map<String, Object> j = Json.parseObject(Files.readString(m, StandardCharsets.UTF_8), m.toString());
            if (!ModelDirectory.FORMAT.equals(j.get("format")))
                throw new BadInputException(m + ": unknown format " + j.get("format") + " (expected " + ModelDirectory.FORMAT + ")");
            return j;
        } catch (IOException e) {
            throw new BadInputException(m + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static boolean replaced(String role, boolean tr, boolean vae, boolean t5) {
        return switch (role) {
            case ROLE_TRANSFORMER -> tr;
            case ROLE_VAE -> vae;
            default -> t5 && role.startsWith("t5");
        };
    }

    private static String describeExisting(Path out, String file, Map<String, Object> manifest, String role) {
        for (ModelDirectory.FileEntry e : ModelDirectory.files(manifest))
            if (e.role().equals(role) && e.source() != null) return file + " in " + out + " (from " + e.source() + ")";
        return file + " in " + out;
    }

    private static void requireKind(WeightSource w, Path p, ModelKind expected, String option) {
        ModelKind k = ModelKind.detect(w.keys());
        if (k != expected)
            throw new BadInputException(option + " " + p + ": holds a " + k.label() + " checkpoint, expected " + expected.label());
    }

    /** {d, text channels} of an Infinity transformer: word_embed [C, d], head [2d, C], text_norm [Ct5]. */
    static int[] transformerDims(WeightSource w) {
        int d = (int) dim(w, "word_embed.weight", 2, 1);
        if (w.contains("head.weight") && dim(w, "head.weight", 2, 0) != 2L * d)
            throw new WeightFormatException(w.describe() + ": head.weight has " + dim(w, "head.weight", 2, 0)
                    + " rows but word_embed.weight says codebook dim " + d + " (expected 2 x " + d + ")");
        int text = (int) dim(w, "text_norm.weight", 1, 0);
        return new int[]{d, text};
    }

    /** {d, resolution levels (0 = unknown)} of a BSQ-VAE: decoder.conv_in [512, d, 3, 3] (module or flat form), else quantizer.lfq.mask [d]. */
    static int[] vaeDims(WeightSource w) {
        int d;
        if (w.contains("decoder.conv_in.conv.weight")) d = (int) dim(w, "decoder.conv_in.conv.weight", 4, 1);
        else if (w.contains("decoder.conv_in.weight")) d = (int) dim(w, "decoder.conv_in.weight", 4, 1);
        else if (w.contains("quantizer.lfq.mask")) d = (int) dim(w, "quantizer.lfq.mask", 1, 0);
        else throw new WeightFormatException(w.describe() + ": no decoder.conv_in weight or quantizer.lfq.mask to read the VAE's codebook dim from");
        TreeSet<Integer> levels = new TreeSet<>();
        for (String k : w.keys())
            if (k.startsWith("decoder.up.")) {
                int end = k.indexOf('.', "decoder.up.".length());
                try { levels.add(Integer.parseInt(k.substring("decoder.up.".length(), end))); } catch (RuntimeException ignored) { }
            }
        return new int[]{d, levels.size()};
    }

    private static long dim(WeightSource w, String key, int rank, int axis) {
        if (!w.contains(key)) throw new WeightFormatException(w.describe() + ": missing '" + key + "'");
        long[] shape = w.logicalShape(key); // [N, K] also for a packed Linear weight of a converted file
        if (shape.length != rank)
            throw new WeightFormatException(w.describe() + ": '" + key + "' has shape " + java.util.Arrays.toString(shape) + ", expected rank " + rank);
        return shape[axis];
    }

    private static ModelDirectory.FileEntry writeWeights(WeightSource src, Path sourceFile, Path sourceLabel, Path staging, String file,
                                                         String role, Converter.Precision precision, Converter.Layout layout,
                                                         Predicate<String> keep, Listener listener) {
        long t0 = System.nanoTime();
        Path id = Converter.identifyingFile(sourceFile, src);
        String sourceName = sourceLabel != null ? fileName(sourceLabel) + "/" + fileName(id) : fileName(id);
        String sourceSha = Checksums.sha256(id);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("source", sourceName);
        meta.put("source_sha256", sourceSha);
        Converter.Result res = Converter.write(src, staging.resolve(file), precision, layout, meta, keep);
        Path written = staging.resolve(file);
        ModelDirectory.FileEntry e = new ModelDirectory.FileEntry(role, file, Checksums.sha256(written), size(written), sourceName, sourceSha);
        if (listener != null) listener.fileWritten(file, res.tensors(), e.bytes(), (System.nanoTime() - t0) / 1e9);
        return e;
    }

    private static ModelDirectory.FileEntry copy(Path source, Path staging, String file, String role, Listener listener) throws IOException {
        long t0 = System.nanoTime();
        Path target = staging.resolve(file);
        Files.copy(source, target);
        String sha = Checksums.sha256(target);
        String srcSha = Checksums.sha256(source);
        if (!sha.equals(srcSha)) throw new BadInputException(source + ": changed while being copied");
        ModelDirectory.FileEntry e = new ModelDirectory.FileEntry(role, file, sha, size(target), fileName(source), srcSha);
        if (listener != null) listener.fileWritten(file, 0, e.bytes(), (System.nanoTime() - t0) / 1e9);
        return e;
    }

    /** A tokenizer keeps its canonical name in t5/: tokenizer.json for JSON, else spiece.model. */
    private static String tokenizerName(Path tok) {
        return fileName(tok).toLowerCase(java.util.Locale.ROOT).endsWith(".json") ? "tokenizer.json" : "spiece.model";
    }

    private static String tokenizerRole(String name) {
        return name.equals("tokenizer.json") ? "t5_tokenizer_json" : "t5_tokenizer";
    }

    /**
     * Makes the staged files the directory's content. A new target is the staging folder renamed
     * (one atomic step). An existing one gets each file renamed over its old version, the manifest
     * last, so a reader sees either the old manifest or the new one with every file it names.
     */
    private static void commit(Path staging, Path out, List<ModelDirectory.FileEntry> entries, boolean t5Replaced) throws IOException {
        if (!Files.exists(out)) {
            try { // the staging folder was created private (rwx------); a model directory is an ordinary folder
                Files.setPosixFilePermissions(staging, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            } catch (UnsupportedOperationException ignored) { }
            move(staging, out);
            return;
        }
        if (t5Replaced) Files.createDirectories(out.resolve(ModelDirectory.T5_DIR));
        for (ModelDirectory.FileEntry e : entries) move(staging.resolve(e.file()), out.resolve(e.file()));
        move(staging.resolve(ModelDirectory.MANIFEST), out.resolve(ModelDirectory.MANIFEST));
        if (t5Replaced) // a tokenizer of the previous T5 that the new one does not have would be picked up by mistake
            for (String tok : T5Files.TOKENIZER_FILES) {
                String f = ModelDirectory.T5_DIR + "/" + tok;
                if (entries.stream().noneMatch(e -> e.file().equals(f))) Files.deleteIfExists(out.resolve(f));
            }
        deleteTree(staging);
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: a leftover hidden staging folder never shadows the model directory
        }
    }

    private static long size(Path p) {
        try { return Files.size(p); } catch (IOException e) { throw new BadInputException(p + ": cannot stat: " + e.getMessage(), e); }
    }

    private static String fileName(Path p) {
        Path a = p.toAbsolutePath().normalize();
        return a.getFileName() == null ? a.toString() : a.getFileName().toString();
    }
}
