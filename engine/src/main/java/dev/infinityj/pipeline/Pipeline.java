package dev.infinityj.pipeline;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backend;
import dev.infinityj.backend.Interpolation;
import dev.infinityj.image.ImageTransforms;
import dev.infinityj.image.RgbImage;
import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.model.GenerationOptions;
import dev.infinityj.model.InfinityConfig;
import dev.infinityj.model.InfinityGenerator;
import dev.infinityj.model.InfinityModel;
import dev.infinityj.model.InfinityWeights;
import dev.infinityj.model.LatentLayout;
import dev.infinityj.model.ScaleListener;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.text.EncodedPrompt;
import dev.infinityj.text.PromptCache;
import dev.infinityj.text.SentencePieceTokenizer;
import dev.infinityj.text.StandInTokenizer;
import dev.infinityj.text.T5Config;
import dev.infinityj.text.T5Encoder;
import dev.infinityj.vae.MultiScaleBsq;
import dev.infinityj.vae.VaeConfig;
import dev.infinityj.vae.VaeDecoder;
import dev.infinityj.vae.VaeEncoder;
import dev.infinityj.vae.VaeKeys;
import dev.infinityj.vae.VaeWeights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * Text-to-image end to end: tokenizer → T5 encoder → Infinity transformer (next-scale loop) →
 * BSQ-VAE decoder, all loaded ONCE (from a converted {@link ModelDirectory} or from a preset with
 * {@link RandomWeightSource} random weights of the real shapes) and then used for any number of
 * {@link #generate} calls. Each call reports per-stage wall times ({@link Timings}), which is all
 * {@code infinityj generate} prints and all {@code infinityj bench} measures.
 *
 * <p>Also: image → multi-scale bits ({@link #tokenize}) and bits → image ({@link #reconstruct}),
 * and image-to-image (the first K scales' bits taken from an encoded image).
 */
public final class Pipeline implements AutoCloseable {

    /** One generation. {@code negativePrompt} null or blank = the model's learned unconditional rows. */
    public record Request(String prompt, String negativePrompt, long seed, double[] cfg, double[] tau, int topK, double topP,
                          int cfgUntilScale, ScaleSchedules.Schedule schedule, RgbImage initImage, int keepScales) {
        public Request {
            if (prompt == null) throw new BadInputException("prompt: required");
            if (cfgUntilScale < 0) throw new BadInputException("--cfg-until-scale must be >= 0 (0 = CFG on every scale), got " + cfgUntilScale);
            if (cfgUntilScale > schedule.scales())
                throw new BadInputException("--cfg-until-scale " + cfgUntilScale + " is beyond the schedule's " + schedule.scales() + " scales");
            if (keepScales < 0 || keepScales > schedule.scales())
                throw new BadInputException("--keep-scales must be in [0, " + schedule.scales() + "] for this schedule, got " + keepScales);
            if (keepScales > 0 && initImage == null) throw new BadInputException("--keep-scales needs --init-image");
        }

        /** cfg per scale after {@code cfgUntilScale} (scales from that index on get cfg = 1). */
        public double[] effectiveCfg() {
            int k = schedule.scales();
            double[] c = cfg.length == 1 ? filled(k, cfg[0]) : cfg.clone();
            if (c.length != k) throw new BadInputException("--cfg: " + c.length + " values for a " + k + "-scale schedule (give 1 or " + k + ")");
            if (cfgUntilScale > 0) for (int s = cfgUntilScale; s < k; s++) c[s] = 1;
            return c;
        }

        private static double[] filled(int k, double v) { double[] o = new double[k]; Arrays.fill(o, v); return o; }
    }

    /** Wall times of one generation's stages, in nanoseconds. */
    public record Timings(long tokenizeNanos, long textEncodeNanos, long initImageNanos, long conditionNanos,
                          long[] scaleNanos, long vaeNanos, long totalNanos) {}

    /** A finished image with what made it. */
    public record Output(RgbImage image, ScaleSchedules.Schedule schedule, List<byte[]> bits, Timings timings,
                         int promptTokens, boolean promptTruncated, int promptUntruncatedTokens) {}

    /** Multi-scale bits of an image: token-major [h·w·tokenBits] per scale of the schedule. */
    public record Tokens(ScaleSchedules.Schedule schedule, List<byte[]> bits, int tokenBits, long encodeNanos) {}

    private final Backend backend;
    private final Backend textBackend; // the T5 encoder's: the same as backend, or the CPU under --offload
    private final String modelId;
    private final Function<String, SentencePieceTokenizer.Encoding> tokenizer;
    private final String tokenizerDescription;
    private final T5Encoder t5;
    private final InfinityModel model;
    private final VaeConfig vaeConfig;
    private final VaeWeights vaeWeights;
    private final VaeDecoder decoder;
    private VaeEncoder encoder;
    private final Map<String, Object> modelInfo;
    private final List<String> notes;
    private final List<AutoCloseable> closeables;
    private final PromptCache cache = new PromptCache(32);
    private boolean useCache = true;

    private Pipeline(Backend backend, Backend textBackend, String modelId, Function<String, SentencePieceTokenizer.Encoding> tokenizer,
                     String tokenizerDescription, T5Encoder t5, InfinityModel model, VaeConfig vaeConfig, VaeWeights vaeWeights,
                     Map<String, Object> modelInfo, List<String> notes, List<AutoCloseable> closeables) {
        this.backend = backend;
        this.textBackend = textBackend;
        if (textBackend != backend) {
            notes = new ArrayList<>(notes);
            notes.add("--offload: the T5 text encoder runs on " + textBackend.name() + ", the transformer and VAE on " + backend.name());
        }
        this.modelId = modelId;
        this.tokenizer = tokenizer;
        this.tokenizerDescription = tokenizerDescription;
        this.t5 = t5;
        this.model = model;
        this.vaeConfig = vaeConfig;
        this.vaeWeights = vaeWeights;
        this.decoder = new VaeDecoder(vaeConfig, vaeWeights);
        this.modelInfo = modelInfo;
        this.notes = List.copyOf(notes);
        this.closeables = closeables;
    }

    // ------------------------------------------------------------------------------ loading

    /** Loads every part of a converted model directory (see docs/weights.md) and checks that they pair. */
    public static Pipeline load(ModelDirectory dir, Backend backend) { return load(dir, backend, backend); }

    /**
     * {@link #load(ModelDirectory, Backend)} with the T5 text encoder on {@code textBackend} (its weights
     * and activations stay there) and the transformer and VAE on {@code backend}: {@code --offload}
     * passes a CPU backend so that a 12 GB GPU holds only the transformer and the VAE. The encoder's
     * output is handed to {@code backend}, which uploads it. Neither backend is closed by the pipeline
     * (see {@link #closeWith}).
     */
    public static Pipeline load(ModelDirectory dir, Backend backend, Backend textBackend) {
        List<AutoCloseable> open = new ArrayList<>();
        try {
            SafetensorsFile vaeFile = SafetensorsFile.open(dir.vae());
            open.add(vaeFile);
            VaeWeights vw = new VaeWeights(vaeFile);
            VaeConfig vc = VaeConfig.infer(vw);
            SafetensorsFile tf = SafetensorsFile.open(dir.transformer());
            open.add(tf);
            InfinityConfig ic = InfinityConfig.inferFrom(tf, vc.spatialPatchify());
            SentencePieceTokenizer tok = SentencePieceTokenizer.load(dir.t5Dir());
            T5Encoder enc = T5Encoder.load(dir.t5Dir(), textBackend);
            open.add(enc);
            ic.checkCompatible(vc.codebookDim(), enc.config().dModel());
            VaeConfig.checkPairing(ic.codebookDim(), dir.transformer().toString(), vc, dir.vae().toString());
            InfinityModel m = InfinityModel.load(ic, tf, backend);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("model_dir", dir.dir().toAbsolutePath().normalize().getFileName() == null ? dir.dir().toString()
                    : dir.dir().toAbsolutePath().normalize().getFileName().toString());
            info.put("checksums", dir.checksums());
            String id = "dir:" + dir.dir().toAbsolutePath().normalize() + ":" + dir.checksums().getOrDefault("t5", "");
            return new Pipeline(backend, textBackend, id, tok::encodeWithInfo, "SentencePiece " + dir.t5Dir().getFileName(), enc, m, vc, vw, info,
                    List.of(), open);
        } catch (RuntimeException e) {
            closeAll(open);
            throw e;
        }
    }

    /** The shapes of a {@code --preset}: transformer, T5 encoder and VAE. */
    public record Preset(String name, InfinityConfig transformer, T5Config t5, VaeConfig vae) {}

    /** Presets for {@code --random-weights}: the published shapes, plus "tiny" (fixture-sized, for tests and smoke runs). */
    public static Map<String, Preset> presets() {
        Map<String, Preset> m = new LinkedHashMap<>();
        T5Config xl = T5Config.flanT5Xl();
        for (Map.Entry<String, InfinityConfig> e : InfinityConfig.presets().entrySet()) {
            InfinityConfig c = e.getValue();
            m.put(e.getKey(), new Preset(e.getKey(), c, xl, VaeConfig.forType(c.spatialPatchify() ? 14 : c.codebookDim())));
        }
        InfinityConfig tiny = new InfinityConfig("tiny", 4, 64, 4, 256, 2, 256, 512, 16, 15, 1e-6f, false);
        T5Config tinyT5 = new T5Config(256, 16, 4, 128, 2, 32, 128, "gelu_new", true, 1e-6f, xl.vocabSize());
        m.put("tiny", new Preset("tiny", tiny, tinyT5, new VaeConfig(16, 24, new int[] {1, 2, 4, 4, 4}, 2, 16, false, VaeConfig.GROUP_NORM_EPS)));
        return m;
    }

    public static Preset preset(String name) {
        Preset p = presets().get(name.toLowerCase(Locale.ROOT));
        if (p == null) throw new BadInputException("--preset: unknown preset '" + name + "' (expected one of " + String.join(", ", presets().keySet()) + ")");
        return p;
    }

    /**
     * The full pipeline on seeded random weights of a preset's real shapes (no files). The
     * tokenizer is a real SentencePiece model when {@code tokenizerOrNull} names one, else the
     * documented {@link StandInTokenizer} (said in {@link #notes()}).
     */
    public static Pipeline random(String presetName, long weightSeed, Path tokenizerOrNull, Backend backend) {
        return random(presetName, weightSeed, tokenizerOrNull, backend, backend);
    }

    /** {@link #random(String, long, Path, Backend)} with the T5 encoder on {@code textBackend} (--offload). */
    public static Pipeline random(String presetName, long weightSeed, Path tokenizerOrNull, Backend backend, Backend textBackend) {
        Preset p = preset(presetName);
        Function<String, SentencePieceTokenizer.Encoding> tok;
        String tokDesc;
        List<String> notes = new ArrayList<>();
        notes.add("random weights (preset " + p.name() + ", weight seed " + weightSeed + "): the image is noise, not a picture; "
                + "use --model DIR with converted weights for real images");
        if (tokenizerOrNull != null) {
            SentencePieceTokenizer st = SentencePieceTokenizer.load(tokenizerOrNull);
            tok = st::encodeWithInfo;
            tokDesc = "SentencePiece " + tokenizerOrNull.getFileName();
        } else {
            StandInTokenizer st = new StandInTokenizer(p.t5().vocabSize());
            tok = st::encodeWithInfo;
            tokDesc = StandInTokenizer.DESCRIPTION;
            notes.add("no spiece.model given (--tokenizer): using the " + StandInTokenizer.DESCRIPTION);
        }
        RandomWeightSource t5w = RandomWeightSource.of(p.name() + "-t5", p.t5().encoderWeightShapes(), DType.BF16, weightSeed + 1);
        T5Encoder enc = T5Encoder.fromWeights(p.t5(), t5w, textBackend);
        RandomWeightSource tw = RandomWeightSource.of(p.name(), InfinityWeights.expectedShapes(p.transformer()), DType.BF16, weightSeed);
        InfinityModel m = InfinityModel.load(p.transformer(), tw, backend);
        Map<String, long[]> vk = new LinkedHashMap<>(VaeKeys.decoder(p.vae()));
        vk.putAll(VaeKeys.encoder(p.vae()));
        VaeWeights vw = new VaeWeights(RandomWeightSource.of(p.name() + "-vae", vk, DType.F32, weightSeed + 2)); // F32: the VAE computes in F32, no second copy
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("preset", p.name());
        info.put("random_weights", true);
        info.put("weight_seed", weightSeed);
        info.put("tokenizer", tokenizerOrNull == null ? "stand-in" : tokenizerOrNull.getFileName().toString());
        return new Pipeline(backend, textBackend, "random:" + p.name() + ":" + weightSeed + ":" + tokDesc, tok, tokDesc, enc, m, p.vae(), vw, info, notes,
                new ArrayList<>(List.of(enc)));
    }

    // ------------------------------------------------------------------------------ use

    public Backend backend() { return backend; }

    /** The T5 encoder's backend: {@link #backend()}, or the CPU backend of {@code --offload}. */
    public Backend textBackend() { return textBackend; }

    /** Closes {@code c} after everything else when this pipeline closes (the CLI's --offload CPU backend). */
    public Pipeline closeWith(AutoCloseable c) {
        closeables.add(0, c); // closeAll runs from the end: index 0 closes last
        return this;
    }
    public InfinityConfig transformerConfig() { return model.config(); }
    public VaeConfig vaeConfig() { return vaeConfig; }
    public T5Config t5Config() { return t5.config(); }
    public String tokenizerDescription() { return tokenizerDescription; }
    /** What the PNG metadata records about the model: directory name + manifest checksums, or the preset. */
    public Map<String, Object> modelInfo() { return modelInfo; }
    /** Things the user must be told (random weights, stand-in tokenizer). */
    public List<String> notes() { return notes; }

    /** Whether encoded prompts are cached between calls (on by default; bench turns it off to time T5). */
    public Pipeline promptCache(boolean on) { this.useCache = on; return this; }

    /** Token ids of a prompt as the text encoder will see them. */
    public SentencePieceTokenizer.Encoding tokenize(String text) { return tokenizer.apply(text); }

    private record Encoded(EncodedPrompt prompt, long tokenizeNanos, long encodeNanos) {}

    private Encoded encodeText(String text) {
        if (useCache) {
            EncodedPrompt hit = cache.get(modelId, text);
            if (hit != null) return new Encoded(hit, 0, 0);
        }
        long t0 = System.nanoTime();
        SentencePieceTokenizer.Encoding e = tokenizer.apply(text);
        long t1 = System.nanoTime();
        Tensor f = t5.encode(e.ids());
        long t2 = System.nanoTime();
        EncodedPrompt p = new EncodedPrompt(e.ids(), f, e.truncated(), e.untruncatedLength());
        if (useCache) cache.computeIfAbsent(modelId, text, () -> p);
        return new Encoded(p, t1 - t0, t2 - t1);
    }

    /** Runs one generation: text → bits per scale → image. Listeners see every scale. */
    public Output generate(Request r, List<ScaleListener> listeners) {
        long start = System.nanoTime();
        ScaleSchedules.Schedule s = r.schedule();
        if (s.scales() > model.config().lvlEmbedRows())
            throw new BadInputException("schedule " + s.budget().label + " has " + s.scales() + " scales but the model has " + model.config().lvlEmbedRows());
        Encoded cond = encodeText(r.prompt());
        boolean neg = r.negativePrompt() != null && !r.negativePrompt().isBlank();
        Encoded uncond = neg ? encodeText(r.negativePrompt()) : null;
        List<byte[]> forced = List.of();
        long initNanos = 0;
        if (r.initImage() != null && r.keepScales() > 0) {
            Tokens t = tokenize(r.initImage(), s);
            forced = t.bits().subList(0, r.keepScales());
            initNanos = t.encodeNanos();
        }
        GenerationOptions opt = GenerationOptions.builder(s).cfg(r.effectiveCfg()).tau(r.tau()).topK(r.topK()).topP(r.topP())
                .seed(r.seed()).forcedBits(forced).build();
        InfinityGenerator.Result res = new InfinityGenerator(model).generate(cond.prompt().features(),
                uncond == null ? null : uncond.prompt().features(), opt, listeners);
        long v0 = System.nanoTime();
        RgbImage img = decode(res.latent());
        long v1 = System.nanoTime();
        Timings t = new Timings(cond.tokenizeNanos() + (uncond == null ? 0 : uncond.tokenizeNanos()),
                cond.encodeNanos() + (uncond == null ? 0 : uncond.encodeNanos()), initNanos, res.textNanos(),
                res.scaleNanos(), v1 - v0, v1 - start);
        EncodedPrompt p = cond.prompt();
        return new Output(img, s, res.bits(), t, p.length(), p.truncated(), p.untruncatedLength());
    }

    /** Decodes an accumulated latent f_hat (as the generator or {@link #latentFromBits} gives it) to 8-bit RGB. */
    public RgbImage decode(Tensor latent) { return VaeDecoder.toRgb(decoder.decode(backend, latent)); }

    private synchronized VaeEncoder encoder() {
        if (encoder == null) encoder = new VaeEncoder(vaeConfig, vaeWeights);
        return encoder;
    }

    /**
     * Image → bits per scale: the official transform (resize to cover, centre crop to the
     * schedule's pixel size), the VAE encoder, then multi-scale BSQ over the schedule's grids
     * (×2 latent grids under spatial patchify, whose bits are then folded into tokens as the
     * transformer's {@link LatentLayout}).
     */
    public Tokens tokenize(RgbImage image, ScaleSchedules.Schedule s) {
        long t0 = System.nanoTime();
        RgbImage c = ImageTransforms.coverAndCenterCrop(image, s.pixelWidth(), s.pixelHeight());
        Tensor h = encoder().encode(backend, c);
        LatentLayout layout = LatentLayout.of(model.config());
        int f = layout.factor();
        int[][] grids = new int[s.scales()][];
        for (int k = 0; k < grids.length; k++) grids[k] = new int[] {f * s.grid(k).h(), f * s.grid(k).w()};
        MultiScaleBsq.Result q = new MultiScaleBsq(vaeConfig.codebookDim()).quantize(backend, h, grids);
        List<byte[]> bits = new ArrayList<>();
        for (int k = 0; k < grids.length; k++)
            bits.add(f == 1 ? q.bits().get(k) : toTokens(q.bits().get(k), s.grid(k).h(), s.grid(k).w(), vaeConfig.codebookDim()));
        return new Tokens(s, bits, layout.tokenDim(), System.nanoTime() - t0);
    }

    /** Latent-pixel-major bits [2h·2w·c] → token-major [h·w·4c], bit k = (ch = k/4, dy = k/2 % 2, dx = k % 2) as LatentLayout. */
    private static byte[] toTokens(byte[] latentBits, int h, int w, int c) {
        int W = 2 * w, td = 4 * c;
        byte[] out = new byte[h * w * td];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < td; k++) {
                    int ch = k / 4, dy = (k / 2) % 2, dx = k % 2;
                    out[(y * w + x) * td + k] = latentBits[((2 * y + dy) * W + 2 * x + dx) * c + ch];
                }
        return out;
    }

    /** f_hat = Σ_k bilinear-up(codes_k) at the last grid's size, as the generator accumulates it. */
    public Tensor latentFromBits(List<byte[]> bits, ScaleSchedules.Schedule s) {
        LatentLayout layout = LatentLayout.of(model.config());
        int f = layout.factor(), lc = layout.channels(), K = s.scales();
        if (bits.size() != K) throw new BadInputException("bits: " + bits.size() + " scales given, the schedule has " + K);
        int outH = s.last().h() * f, outW = s.last().w() * f;
        Tensor fHat = backend.allocate(DType.F32, lc, outH, outW);
        for (int k = 0; k < K; k++) {
            ScaleSchedules.Grid g = s.grid(k);
            if (bits.get(k).length != g.tokens() * layout.tokenDim())
                throw new BadInputException("bits: scale " + k + " has " + bits.get(k).length + " bits, expected " + g.tokens() * layout.tokenDim()
                        + " (" + g.h() + "x" + g.w() + " tokens x " + layout.tokenDim() + ")");
            Tensor codes = backend.upload(Tensor.ofFloats(layout.bitsToCodes(bits.get(k), g.h(), g.w()), lc, (long) f * g.h(), (long) f * g.w()));
            backend.addInPlace(fHat, k < K - 1 ? backend.interpolate(codes, outH, outW, Interpolation.BILINEAR) : codes);
        }
        return backend.download(fHat);
    }

    /** Bits → image (the decoder over the summed codes). */
    public RgbImage reconstruct(List<byte[]> bits, ScaleSchedules.Schedule s) { return decode(latentFromBits(bits, s)); }

    @Override
    public void close() { closeAll(closeables); }

    private static void closeAll(List<AutoCloseable> cs) {
        for (int i = cs.size() - 1; i >= 0; i--) {
            try { cs.get(i).close(); } catch (Exception ignored) { }
        }
    }

    /** Whether a path holds a usable SentencePiece tokenizer for {@link #random} (a file, or a folder with spiece.model/tokenizer.json). */
    public static boolean isTokenizer(Path p) {
        return Files.isRegularFile(p) || Files.isRegularFile(p.resolve("spiece.model")) || Files.isRegularFile(p.resolve("tokenizer.json"));
    }
}
