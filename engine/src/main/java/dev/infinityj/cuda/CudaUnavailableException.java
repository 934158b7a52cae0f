package dev.infinityj.cuda;

import dev.infinityj.InfinityjException;

/** The CUDA backend cannot run here (no driver, no device, no kernels); the message is the one-line reason. */
public class CudaUnavailableException extends InfinityjException {
    private final String reason;

    public CudaUnavailableException(String reason) {
        super("CUDA backend unavailable: " + reason);
        this.reason = reason;
    }

    /** The one-line reason alone (the message is "CUDA backend unavailable: " + reason). */
    public String reason() { return reason; }
}
