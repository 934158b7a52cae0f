package dev.infinityj.vae;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.image.RgbImage;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Decoding each infinity-tiny fixture's final latent reproduces the official image (fixture README
 * tolerances), with the 3×3 convolutions as chosen by default, all by Winograd, and all by implicit GEMM.
 */
class VaeDecoderFixtureTest {

    @ParameterizedTest
    @CsvSource({"infinity-tiny-a, AUTO", "infinity-tiny-b, AUTO", "infinity-tiny-a, WINOGRAD", "infinity-tiny-b, WINOGRAD",
            "infinity-tiny-a, IMPLICIT_GEMM", "infinity-tiny-b, IMPLICIT_GEMM"})
    void decodesFinalLatentToReferenceImage(String fixture, CpuBackend.ConvAlgorithm algorithm) {
        Path dir = Fixtures.dir(fixture);
        try (WeightSource ws = VaeTestSupport.openVae(dir); SafetensorsFile cs = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            VaeWeights w = new VaeWeights(ws);
            VaeConfig cfg = VaeConfig.infer(w);
            assertEquals(24, cfg.baseChannels());
            assertArrayEquals(new int[] {1, 2, 4, 4, 4}, cfg.chMult());
            assertEquals(16, cfg.patchSize());
            assertEquals(2, cfg.numResBlocks());
            VaeDecoder dec = new VaeDecoder(cfg, w);

            Tensor fHat = cs.get("final.f_hat");
            assertEquals(cfg.codebookDim(), fHat.dim(1));
            Tensor img = dec.decode(new CpuBackend().convAlgorithm(algorithm), fHat);
            Tensor ref = cs.get("final.img_float");
            assertArrayEquals(new long[] {3, ref.dim(2), ref.dim(3)}, img.shape());
            double diff = VaeTestSupport.maxAbsDiff(img.toFloatArray(), ref.toFloatArray());
            System.out.println("[VaeDecoderFixtureTest] " + fixture + " " + algorithm + ": img_float max |diff| " + diff);
            assertTrue(diff <= 1e-4, fixture + ": img_float max |diff| " + diff + " > 1e-4");

            RgbImage rgb = VaeDecoder.toRgb(img);
            Tensor bgr = cs.get("final.img_uint8_bgr"); // [1, H, W, 3], BGR
            int h = (int) bgr.dim(1), wd = (int) bgr.dim(2);
            long[] ref8 = bgr.toLongArray();
            int off = 0, n = h * wd * 3;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < wd; x++)
                    for (int c = 0; c < 3; c++) {
                        int want = (int) ref8[(y * wd + x) * 3 + (2 - c)];
                        int got = rgb.get(x, y, c);
                        assertTrue(Math.abs(want - got) <= 1, "pixel (" + x + "," + y + ") channel " + c + ": " + got + " vs " + want);
                        if (want != got) off++;
                    }
            assertTrue(off <= n / 1000, fixture + ": " + off + " of " + n + " uint8 values differ (allowed 0.1%)");
        }
    }
}
