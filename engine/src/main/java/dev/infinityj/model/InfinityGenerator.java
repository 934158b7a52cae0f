package dev.infinityj.model;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.Backend;
import dev.infinityj.backend.Interpolation;
import dev.infinityj.backend.Scope;
import dev.infinityj.sampling.BitSampler;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;

/**
 * The next-scale autoregressive loop (spec §4.2, autoregressive_infer_cfg): per scale, level
 * embedding before block 0, all blocks with the KV cache, head, 1/τ then CFG on logits, bitwise
 * top-k/top-p sampling with Philox (stream = scale index, row = global bit row), bits → ±1/√d
 * codes, f_hat += bilinear-up(codes) at full latent size, next input = word_embed(bilinear-down(f_hat)).
 *
 * <p>Cancellation: interrupt the generating thread; the loop checks between blocks and throws
 * {@link CancellationException}.
 */
public final class InfinityGenerator {
    private final InfinityModel model;
    private HiddenProbe probe;

    public InfinityGenerator(InfinityModel model) { this.model = model; }

    /** Debug hook receiving block intermediates (null = none). */
    public InfinityGenerator probe(HiddenProbe p) { this.probe = p; return this; }

    /**
     * @param latent      accumulated f_hat [d, H, W] ([d/4, 2H, 2W] with spatial patchify), F32: the VAE decoder's input
     * @param bits        bits per scale, token-major [h·w·d]
     * @param scaleNanos  wall time per scale
     * @param textNanos   wall time of the text side (pool, MLP, modulation, per-block text K/V)
     */
    public record Result(Tensor latent, List<byte[]> bits, long[] scaleNanos, long textNanos) {
        public long totalNanos() { long t = textNanos; for (long n : scaleNanos) t += n; return t; }
    }

    public Result generate(Tensor cond, Tensor uncondOrNull, GenerationOptions opt, List<ScaleListener> listeners) {
        InfinityConfig c = model.config();
        Backend be = model.backend();
        ScaleSchedules.Schedule sched = opt.schedule();
        int K = sched.scales(), d = c.codebookDim(), V = c.vocab();
        if (K > c.lvlEmbedRows()) throw new BadInputException("schedule has " + K + " scales but the model has only " + c.lvlEmbedRows() + " level embeddings");
        for (int s = 0; s < opt.forcedBits().size(); s++)
            if (opt.forcedBits().get(s).length != sched.grid(s).tokens() * d)
                throw new BadInputException("option forced bits: scale " + s + " needs " + sched.grid(s).tokens() * d + " bits (h·w·d), got " + opt.forcedBits().get(s).length);

        long t0 = System.nanoTime();
        boolean cfgOn = opt.usesCfg();
        TextConditioning tc = model.condition(cond, uncondOrNull, cfgOn);
        int bs = tc.batch();
        long textNanos = System.nanoTime() - t0;

        Rope2d rope = model.rope(sched);
        int total = sched.totalTokens();
        KvCache[] caches = new KvCache[c.depth()];
        for (int i = 0; i < caches.length; i++) caches[i] = new KvCache(be, bs, total, c.heads(), c.headDim());
        LatentLayout layout = LatentLayout.of(c);
        int f = layout.factor(), lc0 = layout.channels();
        int outH = sched.last().h() * f, outW = sched.last().w() * f;
        Tensor fHat = be.allocate(DType.F32, lc0, outH, outW);

        // scale 0: x = sos + pos_start, one token per batch row
        Tensor x = be.add(tc.sos(), model.posStart()).reshape(bs, 1, c.width());
        List<byte[]> allBits = new ArrayList<>();
        long[] nanos = new long[K];
        double[] cfg = opt.cfg(), tau = opt.tau();
        // once cfg = 1 on every remaining scale, the uncond row is dropped: the cond row's arithmetic
        // does not depend on it, so the bits are the same and the last scales run at batch 1
        int lastCfgScale = -1;
        for (int si = 0; si < K; si++) if (cfg[si] != 1) lastCfgScale = si;
        int active = bs;
        for (int si = 0; si < K; si++) {
            long ts = System.nanoTime();
            ScaleSchedules.Grid g = sched.grid(si);
            int l = g.tokens(), start = sched.offset(si);
            if (active > 1 && si > lastCfgScale) {
                Tensor only = x.get(0);
                x = Rows.stack(be, 1, b -> only);
                active = 1;
            }
            int rows = active;
            Tensor lvl = model.levelEmbedding(si);
            // scopes: each step adopts its input and keeps its output, so a device backend holds one
            // activation at a time instead of waiting for the GC (no-ops on the CPU backends)
            x = Scope.layer(be, x, xs -> Rows.stack(be, rows, b -> be.add(xs.get(b), lvl))); // level embedding before block 0 only
            Tensor cos = be.upload(rope.cos(si)), sin = be.upload(rope.sin(si));
            int scale = si;
            for (int i = 0; i < c.depth(); i++) {
                if (Thread.currentThread().isInterrupted()) throw new CancellationException("generation cancelled at scale " + si);
                InfinityBlock block = model.block(i);
                KvCache cache = caches[i];
                x = Scope.layer(be, x, in -> block.forward(in, tc, scale, cos, sin, cache, start, probe));
            }
            Tensor logits;
            try (Scope s = be.scope()) {
                s.adopt(x);
                logits = be.download(model.head().forward(x, tc));
            }
            float[] lc = logits.get(0).toFloatArray();
            float[] lu = logits.dim(0) > 1 ? logits.get(1).toFloatArray() : null;
            float[] mixed = mix(lc, lu, cfg[si], tau[si]);

            byte[] bits = new byte[l * d];
            if (si < opt.forcedBits().size()) bits = opt.forcedBits().get(si).clone();
            else BitSampler.sample(mixed, l * d, opt.topK(), opt.topP(), opt.seed(), si, 0L, bits);
            allBits.add(bits);

            try (Scope s = be.scope()) {
                Tensor codes = s.adopt(be.upload(Tensor.ofFloats(layout.bitsToCodes(bits, g.h(), g.w()), lc0, (long) f * g.h(), (long) f * g.w())));
                be.addInPlace(fHat, si < K - 1 ? be.interpolate(codes, outH, outW, Interpolation.BILINEAR) : codes);
                if (si < K - 1) {
                    ScaleSchedules.Grid n = sched.grid(si + 1);
                    // the whole accumulated latent, bilinearly resampled (a 2-tap sample, no low-pass) to the next grid
                    Tensor down = be.download(be.interpolate(fHat, f * n.h(), f * n.w(), Interpolation.BILINEAR));
                    Tensor tokens = s.adopt(be.upload(Tensor.ofFloats(layout.latentToTokens(down.toFloatArray(), n.h(), n.w()), n.tokens(), d)));
                    Tensor emb = model.wordEmbed(tokens);
                    x = s.keep(Rows.stack(be, rows, b -> emb));
                }
            }
            nanos[si] = System.nanoTime() - ts;
            if (listeners != null)
                for (ScaleListener li : listeners)
                    li.onScale(new ScaleListener.ScaleEvent(si, K, g, nanos[si], bits.clone(), lc, lu, mixed, be.download(fHat)));
        }
        return new Result(be.download(fHat), allBits, nanos, textNanos);
    }

    /**
     * The sampler input: ℓ = cond·(1/τ) when cfg = 1 at this scale (or no uncond half), else
     * cfg·(cond·(1/τ)) + (1−cfg)·(uncond·(1/τ)), in fp32 as the official code does.
     */
    static float[] mix(float[] cond, float[] uncond, double cfg, double tau) {
        float inv = (float) (1.0 / tau);
        float[] out = new float[cond.length];
        if (uncond == null || cfg == 1) {
            for (int i = 0; i < out.length; i++) out[i] = cond[i] * inv;
            return out;
        }
        float a = (float) cfg, b = (float) (1 - cfg);
        for (int i = 0; i < out.length; i++) out[i] = a * (cond[i] * inv) + b * (uncond[i] * inv);
        return out;
    }
}
