package dev.infinityj.io;

import dev.infinityj.io.pth.PthFile;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Reading the official-code fixtures' .pth archives and the sharded T5 set. */
class FixtureCheckpointsTest {

    /** fixture, prompt length L, codebook dim d, float dtype of the archives. */
    @ParameterizedTest
    @CsvSource({"infinity-tiny-a, 7, 16, F32", "infinity-tiny-bf16, 9, 32, BF16"})
    void modelPthMatchesTheFixture(String fixture, int promptLen, int d, DType dtype) {
        Path dir = Fixtures.dir(fixture);
        try (WeightSource model = Checkpoints.open(dir.resolve("model.pth"));
             SafetensorsFile c = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            assertEquals(ModelKind.INFINITY_TRANSFORMER, ModelKind.detect(model.keys()));
            // input.uncond_features is documented as a copy of cfg_uncond[:L].
            Tensor uncond = model.get("cfg_uncond");
            assertEquals(dtype, uncond.dtype());
            assertArrayEquals(new long[]{512, 256}, uncond.shape());
            Tensor expect = c.get("input.uncond_features");
            assertArrayEquals(new long[]{promptLen, 256}, expect.shape());
            assertArrayEquals(expect.toFloatArray(), uncond.slice(0, 0, promptLen).toFloatArray());
            // shapes from the README: embed 64, codebook d, 2 chunks x 2 blocks, FFN 256.
            assertArrayEquals(new long[]{64, d}, model.get("word_embed.weight").shape());
            assertArrayEquals(new long[]{2 * d, 64}, model.get("head.weight").shape());
            assertTrue(model.contains("block_chunks.1.module.1.ffn.fc1.weight"), "keys: " + model.keys());
            assertArrayEquals(new long[]{256, 64}, model.get("block_chunks.1.module.1.ffn.fc1.weight").shape());
            for (String k : model.keys()) {
                Tensor t = model.get(k);
                assertTrue(t.dtype() == dtype || !t.dtype().isFloating(), k + " " + t.dtype());
                assertTrue(t.storage().isMapped(), "zero-copy view of the mapping: " + k);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"infinity-tiny-a, 16, F32", "infinity-tiny-bf16, 32, BF16"})
    void vaePthDescendsIntoVaeAndHoldsTheInt64Mask(String fixture, int d, DType dtype) {
        Path dir = Fixtures.dir(fixture);
        try (WeightSource vae = Checkpoints.open(dir.resolve("vae.pth"))) {
            assertEquals(ModelKind.BSQ_VAE, ModelKind.detect(vae.keys()));
            Tensor mask = vae.get("quantizer.lfq.mask");
            assertEquals(DType.I64, mask.dtype());
            assertArrayEquals(new long[]{d}, mask.shape());
            long[] m = mask.toLongArray();
            for (int i = 0; i < d; i++) assertEquals(1L << (d - 1 - i), m[i], "mask = 2^(d-1) .. 2^0");
            // quantize.* aliases quantizer.* (same storage in the pickle)
            assertArrayEquals(m, vae.get("quantize.lfq.mask").toLongArray());
            assertEquals(dtype, vae.get("encoder.conv_in.conv.weight").dtype());
            assertEquals(4, vae.get("encoder.conv_in.conv.weight").rank());
        }
        // explicit key paths: the root holds no tensors, 'vae' is skipped there
        try (PthFile f = PthFile.open(dir.resolve("vae.pth"))) {
            PthFile.StateDict root = f.stateDict("");
            assertTrue(root.keys().isEmpty());
            assertEquals(List.of("vae"), root.skipped());
            PthFile.StateDict sd = f.stateDict("vae");
            assertTrue(sd.skipped().isEmpty());
            assertEquals("vae", f.topFolder());
            try (WeightSource auto = Checkpoints.open(dir.resolve("vae.pth"))) {
                assertEquals(sd.keys(), auto.keys());
            }
        }
    }

    @Test
    void shardedT5EqualsTheSingleFile() {
        Path dir = Fixtures.dir("t5-tiny");
        try (WeightSource single = Checkpoints.open(dir.resolve("model.safetensors"));
             WeightSource sharded = Checkpoints.open(dir.resolve("sharded"));
             WeightSource viaIndex = Checkpoints.open(dir.resolve("sharded/model.safetensors.index.json"))) {
            assertEquals(new java.util.TreeSet<>(single.keys()), new java.util.TreeSet<>(sharded.keys()));
            assertEquals(sharded.keys(), viaIndex.keys());
            assertEquals(ModelKind.T5_ENCODER, ModelKind.detect(single.keys()));
            for (String k : single.keys()) {
                Tensor a = single.get(k), b = sharded.get(k);
                assertEquals(a.dtype(), b.dtype(), k);
                assertArrayEquals(a.shape(), b.shape(), k);
                assertArrayEquals(a.toFloatArray(), b.toFloatArray(), k);
            }
            assertArrayEquals(new long[]{512, 64}, single.get("shared.weight").shape());
        }
    }
}
