package dev.infinityj.io;

import dev.infinityj.cpu.PackedLinear;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.util.Set;

/**
 * Named tensors from somewhere (a mmapped safetensors file, a sharded set, a .pth archive, a map
 * of random weights). Model loaders read from this and never care where the bytes live.
 */
public interface WeightSource extends AutoCloseable {
    /** Every key, in file order where the format has one. */
    Set<String> keys();

    boolean contains(String key);

    /** The tensor stored under {@code key}; throws a WeightFormatException naming the source if absent. */
    Tensor get(String key);

    /** Shape and dtype of a key without materialising it where the source can (random weights). */
    default Info info(String key) {
        Tensor t = get(key);
        return new Info(t.dtype(), t.shape());
    }

    /**
     * Whether {@code key} is a Linear weight stored packed ({@link PackedLinear}): {@link #get}
     * then returns [N/16, K, 16], not [N, K]. Only a file whose metadata declares it
     * ({@link PackedLayout}) has packed keys.
     */
    default boolean isPackedLinear(String key) { return false; }

    /** The PyTorch shape of {@code key}: [N, K] for a packed Linear weight, else the stored shape. */
    default long[] logicalShape(String key) {
        long[] s = info(key).shape();
        return isPackedLinear(key) ? PackedLinear.unpackedShape(s) : s;
    }

    /** What {@link #info} returns. */
    record Info(DType dtype, long[] shape) {}

    /** What this source is, for error messages (usually a path). */
    String describe();

    @Override
    default void close() {}
}
