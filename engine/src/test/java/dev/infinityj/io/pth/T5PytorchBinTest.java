package dev.infinityj.io.pth;

import dev.infinityj.BadInputException;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.Converter;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.pipeline.ModelConverter;
import dev.infinityj.tensor.Tensor;
import dev.infinityj.testing.Fixtures;
import dev.infinityj.text.T5Encoder;
import dev.infinityj.text.T5Files;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A Flan-T5 folder with {@code pytorch_model.bin} (a torch zip archive, written here from t5-tiny's
 * weights the way torch saves them: tied {@code encoder.embed_tokens.weight} and
 * {@code lm_head.weight} share {@code shared.weight}'s storage, decoder weights alongside) loads in
 * the encoder with the same numbers as the safetensors original, and converts to encoder-only.
 */
class T5PytorchBinTest {
    @TempDir Path tmp;

    @Test
    void pytorchModelBinLoadsAndConverts() throws Exception {
        Path fix = Fixtures.dir("t5-tiny");
        Path hf = Files.createDirectories(tmp.resolve("flan-t5-bin"));
        Files.copy(fix.resolve("config.json"), hf.resolve("config.json"));
        Files.copy(Fixtures.dir("spm-unigram").resolve("spiece.model"), hf.resolve("spiece.model"));
        List<PickleBuilder.T> entries = new ArrayList<>();
        Map<String, byte[]> storages = new LinkedHashMap<>();
        List<String> encoderKeys;
        try (SafetensorsFile src = SafetensorsFile.open(fix.resolve("model.safetensors"))) {
            encoderKeys = List.copyOf(src.keys());
            int n = 0;
            for (String k : src.keys()) {
                Tensor t = src.get(k);
                String sk = String.valueOf(n++);
                entries.add(PickleBuilder.T.contiguous(k, "FloatStorage", sk, t.shape()));
                storages.put(sk, PickleBuilder.floats(t.toFloatArray()));
                if (k.equals("shared.weight")) {
                    entries.add(PickleBuilder.T.contiguous("encoder.embed_tokens.weight", "FloatStorage", sk, t.shape()));
                    entries.add(PickleBuilder.T.contiguous("decoder.embed_tokens.weight", "FloatStorage", sk, t.shape()));
                    entries.add(PickleBuilder.T.contiguous("lm_head.weight", "FloatStorage", sk, t.shape()));
                }
                if (k.equals("encoder.final_layer_norm.weight")) {
                    entries.add(PickleBuilder.T.contiguous("decoder.final_layer_norm.weight", "FloatStorage", sk, t.shape()));
                }
            }
        }
        PickleBuilder.writeZip(hf.resolve("pytorch_model.bin"), "archive",
                PickleBuilder.stateDict(entries.toArray(PickleBuilder.T[]::new)), storages, Map.of());

        int[] ids = {37, 5, 118, 9, 1};
        try (T5Encoder a = T5Encoder.load(fix, new CpuBackend()); T5Encoder b = T5Encoder.load(hf, new CpuBackend())) {
            assertArrayEquals(a.encode(ids).toFloatArray(), b.encode(ids).toFloatArray(), 0f, "same weights, same numbers");
        }

        Path out = tmp.resolve("model");
        var r = ModelConverter.convert(new ModelConverter.Request(null, null, hf, null, out, Converter.Precision.F32, true), null);
        try (SafetensorsFile o = SafetensorsFile.open(out.resolve("t5/model.safetensors"))) {
            assertEquals(encoderKeys, List.copyOf(o.keys()), "shared.weight + encoder.*: no decoder, no lm_head, no tied copy");
            assertEquals("flan-t5-bin/pytorch_model.bin", o.metadata().get("source"));
        }
        assertEquals("flan-t5-bin/pytorch_model.bin", r.files().getFirst().source());

        // a sharded .bin set is refused with a clear error
        Path sharded = Files.createDirectories(tmp.resolve("sharded-bin"));
        Files.writeString(sharded.resolve("pytorch_model.bin.index.json"), "{\"weight_map\": {}}");
        String m = assertThrows(BadInputException.class, () -> T5Files.open(sharded)).getMessage();
        assertTrue(m.contains("pytorch_model.bin.index.json") && m.contains("safetensors"), m);
    }
}
