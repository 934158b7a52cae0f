package dev.infinityj.backend;

import dev.infinityj.tensor.Tensor;

import java.util.function.UnaryOperator;

/**
 * A region of model code whose intermediate tensors the backend may recycle the moment it closes,
 * instead of when the garbage collector finds them unreachable. That matters for device memory: the
 * GC sees only small Java objects and may not run for many scales, while the blocks behind them are
 * megabytes each. Opened with {@link Backend#scope()}, closed in LIFO order on the opening thread
 * (try-with-resources):
 * <pre>{@code
 * try (Scope s = be.scope()) {
 *     x = s.keep(block.forward(x, ...));   // x survives; every other tensor made inside is recycled
 * }
 * }</pre>
 * The contract: after close, no tensor made inside the scope is used again unless it was passed to
 * {@link #keep} (views of a tensor share its storage, so keeping a view keeps the tensor). Tensors
 * from {@code upload}, {@code linearWeight}, and those made before the scope opened are never
 * recycled by it; writes into them (a KV cache filled with copyInto) are fine. Backends whose memory
 * the GC manages well (the CPU ones) implement scopes as no-ops.
 */
public interface Scope extends AutoCloseable {
    /**
     * Lets {@code t} (and every view of its storage) outlive this scope: it moves to the enclosing
     * scope, or, outside any, back to the garbage collector. Returns {@code t}.
     */
    Tensor keep(Tensor t);

    /**
     * Makes {@code t} (made by this backend earlier, inside an enclosing scope or none) belong to this
     * scope, so that it is recycled when this one closes unless kept: a layer loop hands its input over
     * this way, {@code try (Scope s = be.scope()) { s.adopt(x); x = s.keep(layer.forward(x)); }}, and
     * holds one activation at a time. The caller guarantees nothing else uses {@code t} after the
     * close. Host tensors and tensors of other backends are ignored. Returns {@code t}.
     */
    Tensor adopt(Tensor t);

    /** Recycles every tensor made inside and not kept. */
    @Override
    void close();

    /**
     * One layer of a model loop in its own scope: {@code input} is adopted (recycled after the layer),
     * the layer's output kept — the loop holds one activation at a time. Nothing else may use
     * {@code input} afterwards.
     */
    static Tensor layer(Backend be, Tensor input, UnaryOperator<Tensor> layer) {
        try (Scope s = be.scope()) {
            s.adopt(input);
            return s.keep(layer.apply(input));
        }
    }

    /** The scope of backends that recycle nothing. */
    Scope NONE = new Scope() {
        @Override public Tensor keep(Tensor t) { return t; }
        @Override public Tensor adopt(Tensor t) { return t; }
        @Override public void close() {}
    };
}
