package dev.infinityj.model;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.util.List;
import java.util.function.IntFunction;

/** Small helpers to split activations into per-batch rows and stack them back (batch = CFG halves). */
final class Rows {
    private Rows() {}

    /** Stacks {@code n} tensors of equal shape along a new leading axis. */
    static Tensor stack(Backend be, int n, IntFunction<Tensor> part) {
        Tensor first = part.apply(0);
        long[] s = first.shape(), shape = new long[s.length + 1];
        shape[0] = n;
        System.arraycopy(s, 0, shape, 1, s.length);
        Tensor out = be.allocateForWrite(DType.F32, shape);
        be.copyInto(out.get(0), first);
        for (int i = 1; i < n; i++) be.copyInto(out.get(i), part.apply(i));
        return out;
    }

    /** Concatenates 2-D tensors [n_i, C] along rows. */
    static Tensor concatRows(Backend be, List<Tensor> parts) {
        long rows = 0, c = parts.getFirst().dim(1);
        for (Tensor p : parts) rows += p.dim(0);
        Tensor out = be.allocateForWrite(DType.F32, rows, c);
        long at = 0;
        for (Tensor p : parts) {
            be.copyInto(out.slice(0, at, at + p.dim(0)), p);
            at += p.dim(0);
        }
        return out;
    }

    /**
     * Head view of columns [part·C, (part+1)·C) of a row-major [L, parts·C] tensor: [L, heads, C/heads],
     * strided (no copy). Used for the packed q|k|v and k|v projections.
     */
    static Tensor headsOf(Tensor packed, int parts, int part, int heads) {
        long l = packed.dim(0), c = packed.dim(1) / parts;
        return packed.reshape(l, parts, heads, c / heads).permute(1, 0, 2, 3).get(part);
    }
}
