package dev.infinityj.io;

import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** .pth → safetensors conversion of the fixtures, read back and compared value by value. */
class ConverterTest {
    @TempDir Path tmp;

    /** bf16 by round-to-nearest-even, computed independently: pick the nearer of the two neighbours, ties to even. */
    static float bf16Reference(float x) {
        if (Float.isNaN(x) || Float.isInfinite(x)) return x;
        int bits = Float.floatToRawIntBits(x);
        float lo = Float.intBitsToFloat(bits & 0xffff0000);
        float hi = Float.intBitsToFloat((bits & 0xffff0000) + 0x10000);
        double dlo = Math.abs((double) x - lo), dhi = Math.abs((double) hi - x);
        if (dlo < dhi) return lo;
        if (dhi < dlo) return hi;
        return ((bits >>> 16) & 1) == 0 ? lo : hi;
    }

    @Test
    void modelPthToBf16AndF32() {
        Path dir = Fixtures.dir("infinity-tiny-a");
        Path bf = tmp.resolve("model-bf16.safetensors"), f32 = tmp.resolve("model-f32.safetensors");
        Converter.Result r = Converter.convert(dir.resolve("model.pth"), null, bf, Converter.Precision.BF16, Converter.Layout.PLAIN);
        Converter.convert(dir.resolve("model.pth"), null, f32, Converter.Precision.F32, Converter.Layout.PLAIN);
        assertEquals(ModelKind.INFINITY_TRANSFORMER, r.kind());
        try (WeightSource src = Checkpoints.open(dir.resolve("model.pth"));
             SafetensorsFile b = SafetensorsFile.open(bf); SafetensorsFile f = SafetensorsFile.open(f32)) {
            assertEquals(List.copyOf(src.keys()), List.copyOf(b.keys()));
            assertEquals(src.keys().size(), r.tensors());
            for (String k : src.keys()) {
                Tensor s = src.get(k);
                assertEquals(DType.F32, s.dtype(), k);
                assertEquals(DType.BF16, b.get(k).dtype(), k);
                assertArrayEquals(s.shape(), b.get(k).shape(), k);
                float[] sv = s.toFloatArray(), bv = b.get(k).toFloatArray();
                for (int i = 0; i < sv.length; i++) assertEquals(bf16Reference(sv[i]), bv[i], k + "[" + i + "]");
                assertArrayEquals(sv, f.get(k).toFloatArray(), k);
            }
            // metadata: the README documents the sha256 prefix of model.pth
            assertEquals("model.pth", b.metadata().get("source"));
            assertTrue(b.metadata().get("source_sha256").startsWith("7b07d97ab96733c4"), b.metadata().toString());
            assertEquals("bf16", b.metadata().get("dtype"));
            assertEquals("f32", f.metadata().get("dtype"));
            assertEquals(Converter.VERSION, b.metadata().get("converter"));
            assertEquals("infinity-transformer", b.metadata().get("model_kind"));
        }
    }

    @Test
    void vaePthKeepsTheInt64BufferAndBf16StaysExact() {
        Path dir = Fixtures.dir("infinity-tiny-bf16");
        Path out = tmp.resolve("vae.safetensors");
        Converter.Result r = Converter.convert(dir.resolve("vae.pth"), "vae", out, Converter.Precision.BF16, Converter.Layout.PLAIN);
        assertEquals(ModelKind.BSQ_VAE, r.kind());
        try (WeightSource src = Checkpoints.open(dir.resolve("vae.pth")); SafetensorsFile o = SafetensorsFile.open(out)) {
            assertEquals(DType.I64, o.get("quantizer.lfq.mask").dtype());
            assertArrayEquals(src.get("quantizer.lfq.mask").toLongArray(), o.get("quantizer.lfq.mask").toLongArray());
            for (String k : src.keys()) {
                assertEquals(src.get(k).dtype(), o.get(k).dtype(), k); // bf16 source: nothing changes
                assertArrayEquals(src.get(k).toDoubleArray(), o.get(k).toDoubleArray(), k);
            }
            assertEquals("vae", o.metadata().get("source_key_path"));
        }
        assertTrue(Files.exists(out));
    }

    @Test
    void shardedT5ConvertsToOneFile() {
        Path dir = Fixtures.dir("t5-tiny");
        Path out = tmp.resolve("t5.safetensors");
        Converter.Result r = Converter.convert(dir.resolve("sharded"), null, out, Converter.Precision.KEEP, Converter.Layout.PLAIN);
        assertEquals(ModelKind.T5_ENCODER, r.kind());
        try (WeightSource src = Checkpoints.open(dir.resolve("model.safetensors")); SafetensorsFile o = SafetensorsFile.open(out)) {
            assertEquals(src.keys().size(), o.keys().size());
            for (String k : src.keys()) assertArrayEquals(src.get(k).toFloatArray(), o.get(k).toFloatArray(), k);
        }
    }
}
