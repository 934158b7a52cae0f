package dev.infinityj;

/** A tensor does not have the shape or dtype an operation or a model expects. */
public class ShapeException extends InfinityjException {
    public ShapeException(String message) { super(message); }
}
