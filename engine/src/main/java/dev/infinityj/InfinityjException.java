package dev.infinityj;

/**
 * Root of infinityj's typed errors. Every message is one line that names the file, key or option
 * at fault and says what was expected; the CLI prints it as is and exits non-zero.
 */
public class InfinityjException extends RuntimeException {
    public InfinityjException(String message) { super(message); }
    public InfinityjException(String message, Throwable cause) { super(message, cause); }
}
