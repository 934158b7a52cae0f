package dev.infinityj;

/** A weight file (safetensors, .pth, index) is corrupt, truncated, hostile or not what was expected. */
public class WeightFormatException extends BadInputException {
    public WeightFormatException(String message) { super(message); }
    public WeightFormatException(String message, Throwable cause) { super(message, cause); }
}
