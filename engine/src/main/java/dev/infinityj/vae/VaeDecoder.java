package dev.infinityj.vae;

import dev.infinityj.ShapeException;
import dev.infinityj.backend.Backend;
import dev.infinityj.backend.Scope;
import dev.infinityj.image.RgbImage;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * The BSQ-VAE decoder (spec §5.1, flux_vqgan.py Decoder): conv_in d→C_mid, mid.block_1/2, then
 * levels L−1 … 0 with num_res_blocks+1 ResNet blocks each and a nearest×2 + 3×3 conv Upsample
 * after levels 1..log2(patch), then norm_out → swish → conv_out → 3 channels, clamped to [−1, 1].
 * No post_quant_conv, no scale/shift: the input is the summed codes f_hat itself (§5.2).
 */
public final class VaeDecoder {
    private final VaeConfig config;
    private final Conv convIn;
    private final VaeResBlock mid1, mid2;
    private final VaeResBlock[][] up;   // up[level][block]
    private final Conv[] upsample;      // upsample[level], null where the level does not upsample
    private final Norm normOut;
    private final Conv convOut;

    public VaeDecoder(VaeConfig config, VaeWeights w) {
        this.config = config;
        float eps = config.eps();
        int mid = config.midChannels();
        convIn = Conv.load(w, "decoder.conv_in", config.codebookDim(), mid, 3, 1, 1);
        mid1 = new VaeResBlock(w, "decoder.mid.block_1", mid, mid, eps);
        mid2 = new VaeResBlock(w, "decoder.mid.block_2", mid, mid, eps);
        int levels = config.levels();
        up = new VaeResBlock[levels][];
        upsample = new Conv[levels];
        int blockIn = mid;
        for (int i = levels - 1; i >= 0; i--) {
            int blockOut = config.channels(i);
            up[i] = new VaeResBlock[config.numResBlocks() + 1];
            for (int j = 0; j < up[i].length; j++) {
                up[i][j] = new VaeResBlock(w, "decoder.up." + i + ".block." + j, blockIn, blockOut, eps);
                blockIn = blockOut;
            }
            if (config.upsamplesAt(i)) upsample[i] = Conv.load(w, "decoder.up." + i + ".upsample.conv", blockIn, blockIn, 3, 1, 1);
        }
        normOut = Norm.load(w, "decoder.norm_out", blockIn, eps);
        convOut = Conv.load(w, "decoder.conv_out", blockIn, 3, 3, 1, 1);
    }

    /** Infers the configuration from the weights and loads the decoder. */
    public static VaeDecoder load(VaeWeights w) { return new VaeDecoder(VaeConfig.infer(w), w); }

    public VaeConfig config() { return config; }

    /** Activation bytes per row band of the large levels (a 1024² decode holds ~2 GB of maps, not ~5). */
    public static final long DEFAULT_BAND_BYTES = 32L << 20;

    /**
     * Decodes a latent f_hat [d, H, W] (or [1, d, H, W] / [1, d, 1, H, W]) to an image [3, H·p, W·p]
     * in [−1, 1] (host memory, F32).
     */
    public Tensor decode(Backend be, Tensor latent) {
        // bands bound host memory; on a device they would cost a round trip per band: whole maps there
        return decode(be, latent, be.hostMemory() ? DEFAULT_BAND_BYTES : Long.MAX_VALUE);
    }

    /**
     * As {@link #decode(Backend, Tensor)}, evaluating every layer in row bands of about
     * {@code bandBytes} of activations ({@code Long.MAX_VALUE}: whole maps, which keeps every
     * activation in the backend's memory; bands are assembled in host memory). The result does
     * not depend on the band size.
     */
    public Tensor decode(Backend be, Tensor latent, long bandBytes) {
        Tensor z = squeezeLatent(latent);
        Tensor h;
        // each layer in a scope that adopts its input and keeps its output: a device backend holds one
        // activation (plus the layer's temporaries) at a time; no-ops on the CPU
        try (Scope s = be.scope()) {
            Tensor zd = be.upload(z);
            if (zd != z) s.adopt(zd); // our copy; a latent already on the device stays the caller's
            h = s.keep(convIn.forward(be, zd));
        }
        h = Scope.layer(be, h, x -> mid1.forward(be, x, bandBytes));
        h = Scope.layer(be, h, x -> mid2.forward(be, x, bandBytes));
        for (int i = config.levels() - 1; i >= 0; i--) {
            for (VaeResBlock b : up[i]) h = Scope.layer(be, h, x -> b.forward(be, x, bandBytes));
            if (upsample[i] != null) {
                Conv conv = upsample[i];
                h = Scope.layer(be, h, in -> {
                    int c = (int) in.dim(0), h2 = 2 * (int) in.dim(1), w2 = 2 * (int) in.dim(2), rows = Bands.rowsFor(bandBytes, c, w2);
                    Tensor x = rows >= h2 ? in : be.download(in).contiguous(); // banded: read band views from host memory
                    return Bands.assemble(be, c, h2, w2, rows, (y0, y1) -> Bands.upsampleConv(be, x, conv, y0, y1));
                });
            }
        }
        int hh = (int) h.dim(1), ww = (int) h.dim(2), rows = Bands.rowsFor(bandBytes, h.dim(0), ww);
        Tensor x = Bands.source(be, h, rows), st = normOut.stats(be, x);
        Tensor img = Bands.assemble(be, 3, hh, ww, rows,
                (y0, y1) -> Bands.normSwishConv(be, x, normOut, st, convOut, y0, y1));
        img = be.download(img).contiguous();
        clampInPlace(img);
        return img;
    }

    /** Decodes and converts to 8-bit RGB with the official truncating conversion (§5.3). */
    public RgbImage decodeToImage(Backend be, Tensor latent) { return toRgb(decode(be, latent)); }

    private Tensor squeezeLatent(Tensor t) {
        long[] s = t.shape();
        boolean ok = switch (s.length) {
            case 3 -> true;
            case 4 -> s[0] == 1;
            case 5 -> s[0] == 1 && s[2] == 1;
            default -> false;
        };
        if (!ok) throw new ShapeException("VAE decode: expected one latent [d, H, W] (or [1, d, H, W], [1, d, 1, H, W]), got " + t.describe());
        Tensor z = t.reshape(s[s.length == 3 ? 0 : 1], s[s.length - 2], s[s.length - 1]);
        if (z.dim(0) != config.codebookDim())
            throw new ShapeException("VAE decode: latent has " + z.dim(0) + " channels, this VAE's codebook dim is " + config.codebookDim());
        return z.dtype() == DType.F32 ? z.contiguous() : z.to(DType.F32);
    }

    static void clampInPlace(Tensor img) {
        MemorySegment s = img.segment();
        long n = img.numel();
        for (long i = 0; i < n; i++) {
            float v = s.getAtIndex(F32_LE, i);
            // clamp(x, -1, 1) as torch.clamp: NaN stays NaN (converted to 0 by the uint8 cast below)
            s.setAtIndex(F32_LE, i, v < -1f ? -1f : v > 1f ? 1f : v);
        }
    }

    /**
     * Official conversion of a clamped image [3, H, W] in [−1, 1] to 8-bit RGB (infinity.py:636-641):
     * ((x + 1) / 2) · 255 in float32, then a cast that truncates toward zero (no rounding).
     */
    public static RgbImage toRgb(Tensor img) {
        if (img.rank() != 3 || img.dim(0) != 3) throw new ShapeException("toRgb: expected [3, H, W], got " + img.describe());
        int h = (int) img.dim(1), w = (int) img.dim(2);
        float[] v = img.contiguous().to(DType.F32).toFloatArray();
        byte[] rgb = new byte[3 * h * w];
        int plane = h * w;
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < plane; p++) {
                float x = v[c * plane + p];
                x = x < -1f ? -1f : x > 1f ? 1f : x;
                float u = (x + 1f) / 2f * 255f;
                rgb[p * 3 + c] = (byte) (u != u ? 0 : (int) u);
            }
        return new RgbImage(w, h, rgb);
    }
}
