package dev.infinityj.cuda;

import dev.infinityj.InfinityjException;

/** The CUDA backend cannot run here (no driver, no device, no kernels); the message is the one-line reason. */
public class CudaUnavailableException extends InfinityjException {
    public CudaUnavailableException(String reason) { super("CUDA backend unavailable: " + reason); }
}
