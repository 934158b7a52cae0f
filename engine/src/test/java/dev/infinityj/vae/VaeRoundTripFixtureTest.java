package dev.infinityj.vae;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.image.Png;
import dev.infinityj.image.RgbImage;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** image → encoder → multi-scale bits → decoder on vae-roundtrip's square picture (weights: infinity-tiny-b/vae.pth). */
class VaeRoundTripFixtureTest {

    @Test
    void squarePictureRoundTrip() {
        Path dir = Fixtures.dir("vae-roundtrip");
        Path weights = Fixtures.dir("infinity-tiny-b");
        try (WeightSource ws = VaeTestSupport.openVae(weights); SafetensorsFile cs = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            VaeWeights w = new VaeWeights(ws);
            VaeConfig cfg = VaeConfig.infer(w);
            for (CpuBackend.ConvAlgorithm algorithm : CpuBackend.ConvAlgorithm.values()) {
                CpuBackend be = new CpuBackend().convAlgorithm(algorithm);

                RgbImage input = Png.read(dir.resolve("sq-input.png")).image();
                Tensor h = new VaeEncoder(cfg, w).encode(be, input);
                double dh = VaeTestSupport.maxAbsDiff(h.toFloatArray(), cs.get("sq.enc.h").toFloatArray());
                System.out.println("[VaeRoundTripFixtureTest] " + algorithm + ": enc.h max |diff| " + dh);
                assertTrue(dh <= 1e-4, "enc.h max |diff| " + dh);

                int[][] g = MultiScaleBsqFixtureTest.grids(cs, "sq");
                MultiScaleBsq.Result q = new MultiScaleBsq(cfg.codebookDim()).quantize(be, h, g);
                int flipped = 0;
                for (int k = 0; k < g.length; k++) {
                    String p = "sq.s%02d.".formatted(k);
                    // allows bits whose residual is a near-0 tie (fp32 summation order decides those)
                    MultiScaleBsqFixtureTest.assertBits(q.bits().get(k), cs.get(p + "bits"), cs.get(p + "residual_in"), cfg.codebookDim(), p);
                    long[] want = cs.get(p + "bits").toLongArray();
                    for (int i = 0; i < want.length; i++) if (want[i] != q.bits().get(k)[i]) flipped++;
                }
                // each tolerated tie flip moves f_hat by at most 2/sqrt(d) (bilinear weights <= 1)
                double dz = VaeTestSupport.maxAbsDiff(q.fHat(), cs.get("sq.enc.z"));
                double zTol = 1e-5 + flipped * 2 / Math.sqrt(cfg.codebookDim());
                assertTrue(dz <= zTol, "z max |diff| " + dz + " with " + flipped + " tie bits flipped");

                // the decoder is checked on our f_hat when all bits agree, else on the reference z
                Tensor img = new VaeDecoder(cfg, w).decode(be, flipped == 0 ? q.fHat() : cs.get("sq.enc.z"));
                double di = VaeTestSupport.maxAbsDiff(img.toFloatArray(), cs.get("sq.dec.img_float").toFloatArray());
                System.out.println("[VaeRoundTripFixtureTest] " + algorithm + ": img_float max |diff| " + di);
                assertTrue(di <= 2e-4, "img_float max |diff| " + di);
                RgbImage rec = VaeDecoder.toRgb(img);
                long[] ref = cs.get("sq.dec.img_u8_rgb").toLongArray();
                int off = 0;
                for (int i = 0; i < ref.length; i++) {
                    int diff = Math.abs((int) ref[i] - (rec.rgb()[i] & 0xff));
                    assertTrue(diff <= 1, "uint8 value " + i + " off by " + diff);
                    off += diff;
                }
                assertTrue(off <= ref.length / 1000, off + " uint8 values off by one (allowed 0.1%)");
            }
        }
    }
}
