package dev.infinityj;

/** A user-supplied file, option or value is malformed, missing, or out of range. */
public class BadInputException extends InfinityjException {
    public BadInputException(String message) { super(message); }
    public BadInputException(String message, Throwable cause) { super(message, cause); }
}
