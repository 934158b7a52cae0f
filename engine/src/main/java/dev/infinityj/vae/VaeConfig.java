package dev.infinityj.vae;

import dev.infinityj.BadInputException;
import dev.infinityj.ShapeException;
import dev.infinityj.WeightFormatException;

import java.util.Arrays;

/**
 * Shape hyper-parameters of the BSQ-VAE (spec §5): the "flux-style" conv autoencoder of
 * {@code vae_model} with base channels, channel multipliers, ResNet blocks per level, total
 * down/upsampling factor ({@code patchSize}) and the codebook (latent) dimension d.
 *
 * <p>The 8B tokenizer is d = 14 with patch 8 and {@code spatialPatchify}: a transformer token then
 * holds the 2×2 block of latent pixels, 4·14 = 56 bits (spec §4.6).
 */
public record VaeConfig(int codebookDim, int baseChannels, int[] chMult, int numResBlocks, int patchSize,
                        boolean spatialPatchify, float eps) {

    /** GroupNorm epsilon of every Normalize layer (flux_vqgan.py). */
    public static final float GROUP_NORM_EPS = 1e-6f;

    public VaeConfig {
        chMult = chMult.clone();
        if (codebookDim <= 0 || baseChannels <= 0 || numResBlocks <= 0 || chMult.length == 0)
            throw new BadInputException("VAE config: bad sizes d=" + codebookDim + " base=" + baseChannels
                    + " ch_mult=" + Arrays.toString(chMult) + " num_res_blocks=" + numResBlocks);
        if (Integer.bitCount(patchSize) != 1 || Integer.numberOfTrailingZeros(patchSize) > chMult.length - 1)
            throw new BadInputException("VAE config: patch size " + patchSize + " must be 2^k with k <= levels-1 = " + (chMult.length - 1));
    }

    @Override public int[] chMult() { return chMult.clone(); }

    /** Preset for the official {@code vae_type} (run_infinity.py:260-274): 14 → d14 patchify, 16..64 → patch 16. */
    public static VaeConfig forType(int vaeType) {
        return switch (vaeType) {
            case 14 -> new VaeConfig(14, 128, new int[] {1, 2, 4, 4}, 2, 8, true, GROUP_NORM_EPS);
            case 16, 18, 20, 24, 32, 64 -> new VaeConfig(vaeType, 128, new int[] {1, 2, 4, 4, 4}, 2, 16, false, GROUP_NORM_EPS);
            default -> throw new BadInputException("unknown VAE type " + vaeType + " (expected one of 14, 16, 18, 20, 24, 32, 64)");
        };
    }

    public int levels() { return chMult.length; }

    /** log2(patchSize): the number of ×2 up (decoder) / down (encoder) steps. */
    public int resamplings() { return Integer.numberOfTrailingZeros(patchSize); }

    /** Channels of level i. */
    public int channels(int level) { return baseChannels * chMult[level]; }

    /** Channels of the middle (lowest resolution) blocks. */
    public int midChannels() { return channels(levels() - 1); }

    /** Whether decoder level i ends with an Upsample (levels 1..log2(patch)). */
    public boolean upsamplesAt(int level) { return level >= 1 && level <= resamplings(); }

    /** Whether encoder level i ends with a Downsample (levels 0..log2(patch)-1). */
    public boolean downsamplesAt(int level) { return level < resamplings(); }

    /** Bits per transformer token: d, or 4·d under 2×2 spatial patchify. */
    public int tokenBits() { return spatialPatchify ? 4 * codebookDim : codebookDim; }

    /** GroupNorm group count of the official Normalize: 32 if C%32==0, else 24 if C%24==0. */
    public static int groups(int channels) {
        if (channels % 32 == 0) return 32;
        if (channels % 24 == 0) return 24;
        throw new ShapeException("GroupNorm: " + channels + " channels are divisible neither by 32 nor by 24");
    }

    /**
     * Refuses a transformer whose bits per token do not match this VAE (a 2B model with the wrong
     * VAE decodes to garbage without any error in the official code).
     */
    public static void checkPairing(int transformerTokenBits, String transformerFile, VaeConfig vae, String vaeFile) {
        if (transformerTokenBits != vae.tokenBits())
            throw new BadInputException("transformer " + transformerFile + " predicts " + transformerTokenBits
                    + " bits per token, but VAE " + vaeFile + " has codebook dim " + vae.codebookDim()
                    + (vae.spatialPatchify() ? " with 2x2 patchify (" + vae.tokenBits() + " bits per token)" : "")
                    + ": use the VAE the transformer was trained with (2B: d32, 8B: d14 patchify)");
    }

    /** Infers the configuration from the decoder's tensor shapes (encoder-only files: from the encoder). */
    public static VaeConfig infer(VaeWeights w) {
        String where = w.describe();
        boolean dec = w.has("decoder.conv_in", true);
        String side = dec ? "decoder" : "encoder";
        if (!dec && !w.has("encoder.conv_in", true))
            throw new WeightFormatException(where + ": no VAE weights found (expected keys decoder.conv_in.conv.weight or encoder.conv_in.conv.weight, optionally under 'vae.')");
        int levels = 0;
        String blocks = dec ? "up" : "down";
        while (w.has(side + "." + blocks + "." + levels + ".block.0.conv1", true)) levels++;
        if (levels == 0) throw new WeightFormatException(where + ": no " + side + "." + blocks + ".0.block.0 found");
        int base, d;
        if (dec) {
            base = (int) w.convWeight("decoder.conv_out").dim(1);
            d = (int) w.convWeight("decoder.conv_in").dim(1);
        } else {
            base = (int) w.convWeight("encoder.conv_in").dim(0);
            d = (int) w.convWeight("encoder.conv_out").dim(0);
        }
        int[] mult = new int[levels];
        int resamplings = 0;
        for (int i = 0; i < levels; i++) {
            int out = (int) w.convWeight(side + "." + blocks + "." + i + ".block.0.conv1").dim(0);
            if (out % base != 0) throw new WeightFormatException(where + ": " + side + " level " + i + " has " + out + " channels, not a multiple of " + base);
            mult[i] = out / base;
            if (w.has(side + "." + blocks + "." + i + (dec ? ".upsample.conv" : ".downsample.conv"), true)) resamplings++;
        }
        int nBlocks = 0;
        while (w.has(side + "." + blocks + ".0.block." + nBlocks + ".conv1", true)) nBlocks++;
        int numRes = dec ? nBlocks - 1 : nBlocks;
        int patch = 1 << resamplings;
        return new VaeConfig(d, base, mult, numRes, patch, patch == 8 && levels == 4, GROUP_NORM_EPS);
    }

    @Override
    public String toString() {
        return "VaeConfig[d=" + codebookDim + ", base=" + baseChannels + ", ch_mult=" + Arrays.toString(chMult)
                + ", num_res_blocks=" + numResBlocks + ", patch=" + patchSize + (spatialPatchify ? ", patchify 2x2" : "") + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VaeConfig c && c.codebookDim == codebookDim && c.baseChannels == baseChannels
                && Arrays.equals(c.chMult, chMult) && c.numResBlocks == numResBlocks && c.patchSize == patchSize
                && c.spatialPatchify == spatialPatchify && c.eps == eps;
    }

    @Override
    public int hashCode() { return Arrays.hashCode(chMult) * 31 + codebookDim * 7 + baseChannels + patchSize; }
}
