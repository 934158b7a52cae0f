package dev.infinityj.text;

import dev.infinityj.BadInputException;
import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.ShardedSafetensors;
import dev.infinityj.io.WeightSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Finds the weights of a Hugging Face T5 folder (or a converted model directory's {@code t5/}) and
 * opens them with {@link Checkpoints#open}: {@code model.safetensors}, the sharded
 * {@code model-0000N-of-0000M.safetensors} set named by {@code model.safetensors.index.json}
 * (google/flan-t5-xl's layout), or a PyTorch {@code pytorch_model.bin}. Safetensors win when a
 * folder holds both. A sharded {@code pytorch_model.bin.index.json} set is refused with a clear
 * error (the same repositories publish safetensors shards).
 */
public final class T5Files {
    /** Candidate weight files, in order of preference. */
    public static final List<String> WEIGHT_FILES = List.of("model.safetensors", ShardedSafetensors.INDEX_NAME, "pytorch_model.bin");
    /** Tokenizer files a T5 folder may hold (either suffices). */
    public static final List<String> TOKENIZER_FILES = List.of("spiece.model", "tokenizer.json");

    private T5Files() {}

    /** The file that identifies the folder's weights (for opening and for checksums). */
    public static Path weightsFile(Path dir) {
        if (!Files.isDirectory(dir)) throw new BadInputException(dir + ": not a folder (expected a Hugging Face T5 folder with config.json and weights)");
        for (String f : WEIGHT_FILES) if (Files.isRegularFile(dir.resolve(f))) return dir.resolve(f);
        if (Files.isRegularFile(dir.resolve("pytorch_model.bin.index.json")))
            throw new BadInputException(dir + ": sharded pytorch_model-*.bin weights (pytorch_model.bin.index.json) are not supported; "
                    + "download the safetensors shards (model-*.safetensors + model.safetensors.index.json) of the same repository instead");
        throw new BadInputException(dir + ": no T5 weights found (expected model.safetensors, model.safetensors.index.json or pytorch_model.bin)");
    }

    public static WeightSource open(Path dir) {
        return Checkpoints.open(weightsFile(dir));
    }
}
