package dev.infinityj.cuda;

import dev.infinityj.testing.Close;
import dev.infinityj.image.RgbImage;
import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;
import dev.infinityj.model.FixtureCheck;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import dev.infinityj.text.T5Encoder;
import dev.infinityj.vae.VaeConfig;
import dev.infinityj.vae.VaeDecoder;
import dev.infinityj.vae.VaeWeights;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The official-code fixtures end to end through {@link CudaBackend} on {@link FakeCudaDriver}: every op
 * launches its real kernel name with the host code's real arguments (strides, offsets, dtypes, grid sizes),
 * and the fake driver runs Java transcriptions of the .cu kernels. The comparisons and tolerances are those
 * of the CPU fixture tests (InfinityFixtureTest / FixtureCheck, T5EncoderTest, VaeDecoderFixtureTest), so a
 * marshalling mistake or a kernel's arithmetic error shows up against the official numbers.
 */
class CudaFakeDriverFixtureTest {
    FakeCudaDriver fake;
    CudaBackend be;

    private CudaBackend open(CudaBackend.AttentionKernel attention, CudaBackend.ConvKernel conv) throws ReflectiveOperationException {
        assumeTrue(CudaContext.kernelsMissingReason() == null, "CUDA kernels not in this build: " + CudaContext.kernelsMissingReason());
        fake = new FakeCudaDriver();
        be = new CudaBackend(fake.driver(), CudaBackend.Options.defaults().withCublas(false).withAttention(attention).withConv(conv));
        return be;
    }

    @AfterEach
    void close() {
        if (fake != null) System.out.println("[CudaFakeDriverFixtureTest] kernels launched: " + new java.util.TreeSet<>(fake.launches));
        if (be != null) be.close();
        if (fake != null) assertEquals(List.of(), fake.errors, "errors inside the fake driver");
    }

    private void launched(String what, String... kernels) {
        for (String k : kernels) assertTrue(fake.launches.contains(k), what + ": kernel " + k + " was not launched; launched " + new java.util.TreeSet<>(fake.launches));
    }

    /** Teacher-forced Infinity transformer (FixtureCheck, the bounds of InfinityFixtureTest) with both attention kernels. */
    @ParameterizedTest
    @CsvSource({"infinity-tiny-a, FUSED", "infinity-tiny-a, SIMPLE", "infinity-tiny-bf16, FUSED", "infinity-tiny-bf16, SIMPLE"})
    void infinityTeacherForcedMatchesOfficial(String name, CudaBackend.AttentionKernel attention) throws ReflectiveOperationException {
        Path dir = Fixtures.dir(name);
        open(attention, CudaBackend.ConvKernel.IMPLICIT_GEMM);
        try (WeightSource w = Checkpoints.open(dir.resolve("model.pth"))) {
            FixtureCheck.Report r = FixtureCheck.run(dir, w, be, null);
            System.out.printf("[CudaFakeDriverFixtureTest] %s %s: cond max %.3g mean %.3g, uncond max %s, cfg max %.3g mean %.3g, latent max %.3g%n",
                    name, attention, r.cond().maxAbs(), r.cond().meanAbs(), r.uncond() == null ? "-" : String.format("%.3g", r.uncond().maxAbs()),
                    r.cfg().maxAbs(), r.cfg().meanAbs(), r.latent().maxAbs());
            assertEquals(7, r.scales().size(), name + ": scales run");
            assertEquals(List.of(), r.failures(), name + " on the CUDA backend (fake driver, attention " + attention + ")");
        }
        launched(name, attention == CudaBackend.AttentionKernel.FUSED ? "flash_attention_f32" : "attention_f32", "layer_norm_f32", "rope_interleaved_f32");
    }

    /** The t5-tiny encoder (attention with T5's position bias): every block's output and last_hidden_state within the README's 2e-5. */
    @ParameterizedTest
    @CsvSource({"FUSED", "SIMPLE"})
    void t5EncoderMatchesReference(CudaBackend.AttentionKernel attention) throws ReflectiveOperationException {
        Path dir = Fixtures.dir("t5-tiny");
        open(attention, CudaBackend.ConvKernel.IMPLICIT_GEMM);
        final double tol = 2e-5;
        try (SafetensorsFile cases = SafetensorsFile.open(dir.resolve("case.safetensors")); T5Encoder enc = T5Encoder.load(dir, be)) {
            for (String seq : List.of("seq0", "seq1", "seq2", "seq3", "seq4")) {
                long[] l = cases.get(seq + ".input_ids").toLongArray();
                int[] ids = new int[l.length];
                for (int i = 0; i < ids.length; i++) ids[i] = Math.toIntExact(l[i]);
                float[][] blocks = new float[enc.config().numLayers()][];
                Tensor out = enc.encode(ids, (i, h) -> blocks[i] = be.download(h).toFloatArray());
                if (cases.contains(seq + ".block0_out"))
                    for (int i = 0; i < blocks.length; i++)
                        assertClose(cases.get(seq + ".block" + i + "_out").toFloatArray(), blocks[i], tol, "t5-tiny (" + attention + ") " + seq + " block" + i + "_out");
                assertTrue(be.isDevice(out), "t5-tiny: the encoder output stays in device memory");
                assertClose(cases.get(seq + ".last_hidden_state").toFloatArray(), be.download(out).toFloatArray(), tol, "t5-tiny (" + attention + ") " + seq + " last_hidden_state");
            }
        }
        launched("t5-tiny", "rms_norm_f32", "gemm_xwT_f32", attention == CudaBackend.AttentionKernel.FUSED ? "flash_attention_f32" : "attention_f32", "bias_act_f32");
    }

    /** The VAE decoder: infinity-tiny-a's final latent → the official image (img_float 1e-4, uint8 ±1 in ≤ 0.1%). */
    @ParameterizedTest
    @CsvSource({"infinity-tiny-a, IMPLICIT_GEMM", "infinity-tiny-a, DIRECT"})
    void vaeDecoderMatchesOfficialImage(String name, CudaBackend.ConvKernel conv) throws ReflectiveOperationException {
        Path dir = Fixtures.dir(name);
        open(CudaBackend.AttentionKernel.FUSED, conv);
        try (WeightSource ws = Checkpoints.open(dir.resolve("vae.pth")); SafetensorsFile cs = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            VaeWeights w = new VaeWeights(ws);
            VaeDecoder dec = new VaeDecoder(VaeConfig.infer(w), w);
            Tensor img = dec.decode(be, cs.get("final.f_hat"));
            Tensor ref = cs.get("final.img_float");
            assertArrayEquals(new long[] {3, ref.dim(2), ref.dim(3)}, img.shape(), name + ": image shape");
            float[] g = img.toFloatArray(), want = ref.toFloatArray();
            double diff = 0;
            for (int i = 0; i < g.length; i++) diff = Math.max(diff, Math.abs((double) g[i] - want[i]));
            System.out.println("[CudaFakeDriverFixtureTest] " + name + " VAE decode, conv " + conv + ": img_float max |diff| " + diff);
            assertTrue(diff <= 1e-4, name + " VAE decode (conv " + conv + "): img_float max |diff| " + diff + " > 1e-4");
            RgbImage rgb = VaeDecoder.toRgb(img);
            Tensor bgr = cs.get("final.img_uint8_bgr"); // [1, H, W, 3], BGR
            int h = (int) bgr.dim(1), wd = (int) bgr.dim(2), off = 0, n = h * wd * 3;
            long[] ref8 = bgr.toLongArray();
            for (int y = 0; y < h; y++)
                for (int x = 0; x < wd; x++)
                    for (int c = 0; c < 3; c++) {
                        int wantB = (int) ref8[(y * wd + x) * 3 + (2 - c)], got = rgb.get(x, y, c);
                        assertTrue(Math.abs(wantB - got) <= 1, name + " (conv " + conv + ") pixel (" + x + "," + y + ") channel " + c + ": " + got + " vs " + wantB);
                        if (wantB != got) off++;
                    }
            assertTrue(off <= n / 1000, name + " (conv " + conv + "): " + off + " of " + n + " uint8 values differ (allowed 0.1%)");
        }
        launched(name, conv == CudaBackend.ConvKernel.DIRECT ? "conv2d_f32" : "conv2d_igemm_f32", "group_norm_stats_f32", "group_norm_apply_f32");
    }

    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        double worst = Close.assertClose(expected, actual, tol, what);
        System.out.println("[CudaFakeDriverFixtureTest] " + what + ": max |diff| " + worst);
    }
}
