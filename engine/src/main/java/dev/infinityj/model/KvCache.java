package dev.infinityj.model;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

/**
 * One block's self-attention cache of rotated keys and values for the whole schedule, preallocated
 * once ([total tokens, H, hd] per batch row, F32 or the backend's {@link Backend#kvCacheDType}): scale k writes rows [offset_k, offset_k + h_k·w_k)
 * and attends to rows [0, offset_k + h_k·w_k). CFG halves are separate batch rows.
 */
public final class KvCache {
    private final Tensor[] k, v;

    public KvCache(Backend be, int batch, int totalTokens, int heads, int headDim) {
        k = new Tensor[batch];
        v = new Tensor[batch];
        for (int b = 0; b < batch; b++) {
            k[b] = be.allocateForWrite(be.kvCacheDType(), totalTokens, heads, headDim);   // rows are read only once written
            v[b] = be.allocateForWrite(be.kvCacheDType(), totalTokens, heads, headDim);
        }
    }

    public Tensor keys(int b) { return k[b]; }

    public Tensor values(int b) { return v[b]; }
}
