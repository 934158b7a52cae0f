package dev.infinityj.cuda;

import dev.infinityj.InfinityjException;

/** A CUDA driver or cuBLAS call returned an error; the message names the call and the CUDA error. */
public class CudaException extends InfinityjException {
    private final String errorName;
    private final int code;

    public CudaException(String call, int code, String errorName, String description) {
        super(call + " failed: " + errorName + (description == null || description.isBlank() ? "" : " (" + description + ")"));
        this.errorName = errorName;
        this.code = code;
    }

    /** E.g. CUDA_ERROR_OUT_OF_MEMORY or CUBLAS_STATUS_NOT_SUPPORTED. */
    public String errorName() { return errorName; }

    public int code() { return code; }
}
