package dev.infinityj.vae;

import dev.infinityj.ShapeException;
import dev.infinityj.backend.Backend;
import dev.infinityj.image.RgbImage;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * The BSQ-VAE encoder (spec §5.5, flux_vqgan.py Encoder): conv_in 3→base, levels 0..L−1 with
 * num_res_blocks ResNet blocks each (level i: base·in_ch_mult[i] → base·ch_mult[i]) and a
 * Downsample (zero-pad right/bottom by 1, 3×3 conv stride 2) after levels 0..log2(patch)−1,
 * then mid.block_1/2, norm_out → swish → conv_out → d channels. No attention, no KL head.
 */
public final class VaeEncoder {
    private final VaeConfig config;
    private final Conv convIn;
    private final VaeResBlock[][] down;
    private final Conv[] downsample;
    private final VaeResBlock mid1, mid2;
    private final Norm normOut;
    private final Conv convOut;

    public VaeEncoder(VaeConfig config, VaeWeights w) {
        this.config = config;
        float eps = config.eps();
        int base = config.baseChannels();
        convIn = Conv.load(w, "encoder.conv_in", 3, base, 3, 1, 1);
        int levels = config.levels();
        down = new VaeResBlock[levels][];
        downsample = new Conv[levels];
        int blockIn = base;
        for (int i = 0; i < levels; i++) {
            int blockOut = config.channels(i);
            down[i] = new VaeResBlock[config.numResBlocks()];
            for (int j = 0; j < down[i].length; j++) {
                down[i][j] = new VaeResBlock(w, "encoder.down." + i + ".block." + j, blockIn, blockOut, eps);
                blockIn = blockOut;
            }
            if (config.downsamplesAt(i)) downsample[i] = Conv.load(w, "encoder.down." + i + ".downsample.conv", blockIn, blockIn, 3, 2, 0);
        }
        mid1 = new VaeResBlock(w, "encoder.mid.block_1", blockIn, blockIn, eps);
        mid2 = new VaeResBlock(w, "encoder.mid.block_2", blockIn, blockIn, eps);
        normOut = Norm.load(w, "encoder.norm_out", blockIn, eps);
        convOut = Conv.load(w, "encoder.conv_out", blockIn, config.codebookDim(), 3, 1, 1);
    }

    public VaeConfig config() { return config; }

    /**
     * The official input mapping of an 8-bit image (to_tensor then {@code x + x − 1}, in float32):
     * [3, H, W] in [−1, 1].
     */
    public static Tensor imageToTensor(RgbImage img) {
        int w = img.width(), h = img.height(), plane = w * h;
        Tensor t = Tensor.allocate(DType.F32, 3, h, w);
        MemorySegment s = t.segment();
        byte[] px = img.rgb();
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) {
                float x = (px[p * 3 + c] & 0xff) / 255f;
                s.setAtIndex(F32_LE, (long) c * plane + p, x + x - 1f);
            }
        return t;
    }

    /** Encodes an image [3, H, W] in [−1, 1] (H, W multiples of the patch size) to features h [d, H/p, W/p] (host, F32). */
    public Tensor encode(Backend be, Tensor image) {
        if (image.rank() != 3 || image.dim(0) != 3)
            throw new ShapeException("VAE encode: expected an image [3, H, W], got " + image.describe());
        if (image.dim(1) % config.patchSize() != 0 || image.dim(2) % config.patchSize() != 0)
            throw new ShapeException("VAE encode: image " + image.dim(2) + "x" + image.dim(1) + " is not a multiple of the patch size " + config.patchSize());
        Tensor h = convIn.forward(be, be.upload(image.contiguous()));
        for (int i = 0; i < config.levels(); i++) {
            for (VaeResBlock b : down[i]) h = b.forward(be, h);
            if (downsample[i] != null) h = downsample[i].forward(be, padRightBottom(be, h));
        }
        h = mid1.forward(be, h);
        h = mid2.forward(be, h);
        h = convOut.forward(be, normOut.swish(be, h));
        return be.download(h).contiguous();
    }

    /** Encodes an 8-bit image. */
    public Tensor encode(Backend be, RgbImage img) { return encode(be, imageToTensor(img)); }

    /** F.pad(x, (0, 1, 0, 1)): one zero column on the right and one zero row at the bottom (Downsample). */
    static Tensor padRightBottom(Backend be, Tensor x) {
        Tensor hx = be.download(x).contiguous();
        int c = (int) hx.dim(0), h = (int) hx.dim(1), w = (int) hx.dim(2);
        Tensor out = Tensor.allocate(DType.F32, c, h + 1, w + 1);
        MemorySegment src = hx.segment(), dst = out.segment();
        long rowBytes = (long) w * 4;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                MemorySegment.copy(src, ((long) ch * h + y) * rowBytes, dst, (((long) ch * (h + 1) + y) * (w + 1)) * 4, rowBytes);
        return be.upload(out);
    }
}
