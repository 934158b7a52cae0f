package dev.infinityj.vae;

import dev.infinityj.ShapeException;
import dev.infinityj.backend.Backend;
import dev.infinityj.backend.Interpolation;
import dev.infinityj.model.BitCodes;
import dev.infinityj.sampling.Philox;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * The multi-scale binary spherical quantizer (spec §5.4, §5.6–5.7) over an explicit list of
 * latent grids (h_k, w_k), the last one being the full latent (H, W).
 *
 * <p>Layouts: features and codes channel-first [d, h, w]; bits token-major [h·w·d] (bit j of
 * token t = y·w + x at t·d + j), as {@link BitCodes}. The grids are at the VAE latent resolution;
 * under 2×2 spatial patchify the caller pixel-unshuffles bits and inputs to transformer tokens.
 */
public final class MultiScaleBsq {
    private final int d;

    public MultiScaleBsq(int codebookDim) { this.d = codebookDim; }

    public int codebookDim() { return d; }

    /** Output of Algorithm 1: per-scale bits and the reconstruction latent f = Σ Up(q_k). */
    public record Result(List<byte[]> bits, Tensor fHat) {}

    /**
     * Output of Algorithm 2: per-scale labels (bits of the residual left by the possibly flipped
     * earlier scales), the flipped bits actually fed forward, and the transformer inputs of scales
     * 1..K−1 concatenated row-major [Σ h_k·w_k, d] (the trilinear next-scale inputs).
     */
    public record SelfCorrection(List<byte[]> labels, List<byte[]> fedBits, Tensor inputs) {}

    /** Changes the bits of one scale before they are re-quantised (Algorithm 2, step 3). */
    @FunctionalInterface
    public interface BitFlips {
        /** The bits to feed forward for scale {@code k}; must not modify {@code bits}. */
        byte[] apply(int k, byte[] bits);
    }

    /** No flips: Algorithm 2 then gives the clean teacher-forcing inputs of autoregressive inference. */
    public static BitFlips noFlips() { return (k, bits) -> bits; }

    /**
     * The official random flips (bitwise_self_correction.py): for the first {@code applyLayers}
     * scales, draw p uniformly from {0, 0.01, …, strength} once per scale and flip each bit
     * with probability p. Draws come from Philox keyed by {@code seed} (stream 2k: p, stream
     * 2k+1: the per-bit uniforms), so they are reproducible but not torch's stream.
     */
    public static BitFlips randomFlips(long seed, int applyLayers, double strength) {
        int steps = (int) Math.round(strength * 100);
        return (k, bits) -> {
            if (k >= applyLayers) return bits;
            int pick = Math.min(steps, (int) (Philox.uniform(seed, 2 * k, 0) * (steps + 1)));
            float p = pick * 0.01f;
            byte[] out = bits.clone();
            for (int i = 0; i < out.length; i++) if (Philox.uniform(seed, 2 * k + 1, i) < p) out[i] ^= 1;
            return out;
        };
    }

    /** Algorithm 1 (MultiScaleBSQ.forward): residual quantisation with 'area' down and bilinear up. */
    public Result quantize(Backend be, Tensor features, int[][] grids) {
        Tensor z = checkFeatures(features, grids);
        int hh = (int) z.dim(1), ww = (int) z.dim(2);
        Tensor residual = z;
        Tensor f = null;
        List<byte[]> bits = new ArrayList<>();
        for (int[] g : grids) {
            boolean full = g[0] == hh && g[1] == ww;
            Tensor r = full ? residual : be.download(be.interpolate(be.upload(residual), g[0], g[1], Interpolation.AREA));
            byte[] b = new byte[g[0] * g[1] * d];
            Tensor q = quantizeTokens(r.contiguous(), b);
            bits.add(b);
            Tensor up = full ? q : be.download(be.interpolate(be.upload(q), hh, ww, Interpolation.BILINEAR));
            residual = be.download(be.add(be.upload(residual), be.scale(be.upload(up), -1f)));
            f = f == null ? up : be.download(be.add(be.upload(f), be.upload(up)));
        }
        return new Result(bits, f);
    }

    /** Algorithm 2 (BitwiseSelfCorrection.flip_requant with noise_apply_requant = 1). */
    public SelfCorrection selfCorrect(Backend be, Tensor features, int[][] grids, BitFlips flips) {
        Tensor z = checkFeatures(features, grids);
        int hh = (int) z.dim(1), ww = (int) z.dim(2), k = grids.length;
        Tensor acc = null;
        List<byte[]> labels = new ArrayList<>(), fed = new ArrayList<>();
        int rows = 0;
        for (int i = 1; i < k; i++) rows += grids[i][0] * grids[i][1];
        Tensor inputs = Tensor.allocate(DType.F32, rows, d);
        long row = 0;
        for (int s = 0; s < k; s++) {
            int[] g = grids[s];
            Tensor r = acc == null ? z : be.download(be.add(be.upload(z), be.scale(be.upload(acc), -1f)));
            if (s != k - 1) r = be.download(be.interpolate(be.upload(r), g[0], g[1], Interpolation.AREA));
            byte[] b = new byte[g[0] * g[1] * d];
            Tensor q = quantizeTokens(r.contiguous(), b);
            labels.add(b);
            byte[] fb = flips.apply(s, b);
            fed.add(fb);
            if (fb != b) q = Tensor.ofFloats(BitCodes.bitsToCodes(fb, g[0], g[1], d), d, g[0], g[1]);
            Tensor up = be.download(be.interpolate(be.upload(q), hh, ww, Interpolation.BILINEAR));
            acc = acc == null ? up : be.download(be.add(be.upload(acc), be.upload(up)));
            if (s < k - 1) {
                int[] n = grids[s + 1];
                Tensor next = be.download(be.interpolate(be.upload(acc), n[0], n[1], Interpolation.BILINEAR)).contiguous();
                row = putTokens(next, inputs, row);
            }
        }
        return new SelfCorrection(labels, fed, inputs);
    }

    private Tensor checkFeatures(Tensor features, int[][] grids) {
        Tensor z = features.rank() == 4 && features.dim(0) == 1 ? features.get(0) : features;
        if (z.rank() == 4 && z.dim(1) == 1) z = z.reshape(z.dim(0), z.dim(2), z.dim(3));
        if (z.rank() != 3 || z.dim(0) != d)
            throw new ShapeException("BSQ: expected features [" + d + ", H, W], got " + features.describe());
        if (grids.length == 0) throw new ShapeException("BSQ: empty scale schedule");
        int[] last = grids[grids.length - 1];
        if (last[0] != z.dim(1) || last[1] != z.dim(2))
            throw new ShapeException("BSQ: the last scale " + last[0] + "x" + last[1] + " must equal the latent size " + z.dim(1) + "x" + z.dim(2));
        for (int[] g : grids)
            if (g[0] <= 0 || g[1] <= 0 || g[0] > last[0] || g[1] > last[1])
                throw new ShapeException("BSQ: scale " + g[0] + "x" + g[1] + " does not fit the latent " + last[0] + "x" + last[1]);
        return z.to(DType.F32);
    }

    /** Copies a [d, h, w] map into rows [h·w, d] of {@code dst} starting at {@code row}. */
    private long putTokens(Tensor map, Tensor dst, long row) {
        int h = (int) map.dim(1), w = (int) map.dim(2);
        MemorySegment s = map.segment(), o = dst.segment();
        for (int t = 0; t < h * w; t++)
            for (int j = 0; j < d; j++) o.setAtIndex(F32_LE, (row + t) * d + j, s.getAtIndex(F32_LE, (long) j * h * w + t));
        return row + (long) h * w;
    }

    /**
     * BSQ of one scale (BSQ.forward with new_quant): per token, v = r / max(‖r‖, 1e-12);
     * bit = v > 0; q = ±1/√d (zero ↦ −), returned in the straight-through form v + (q − v)
     * as the official code does. Writes the bits into {@code bits} (token-major).
     */
    Tensor quantizeTokens(Tensor r, byte[] bits) {
        int h = (int) r.dim(1), w = (int) r.dim(2), n = h * w;
        float scale = (float) (1 / Math.sqrt(d));
        float[] in = r.toFloatArray(), out = new float[in.length];
        for (int t = 0; t < n; t++) {
            double ss = 0;
            for (int j = 0; j < d; j++) { double v = in[j * n + t]; ss += v * v; }
            float norm = (float) Math.max(Math.sqrt(ss), 1e-12);
            for (int j = 0; j < d; j++) {
                float v = in[j * n + t] / norm;
                boolean one = v > 0;
                bits[t * d + j] = (byte) (one ? 1 : 0);
                float q = one ? scale : -scale;
                out[j * n + t] = v + (q - v);
            }
        }
        return Tensor.ofFloats(out, d, h, w);
    }
}
