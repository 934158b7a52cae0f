package dev.infinityj.backend;

import dev.infinityj.BadInputException;
import dev.infinityj.cpu.CpuThreads;

import java.util.Locale;

/**
 * THE place a compute device is chosen ({@code --device cpu|cuda|auto}, {@code --threads}).
 * Every command that computes goes through {@link #open}, so wiring in the CUDA backend means
 * changing {@link #openCuda} only.
 *
 * <ul>
 *   <li>{@code cpu}: {@link CpuBackend} on {@code threads} threads (0 = one per physical core).
 *   <li>{@code cuda}: the CUDA backend; until it is wired in, a one-line
 *       "CUDA backend unavailable: &lt;reason&gt;" error.
 *   <li>{@code auto}: CUDA where it is available, else CPU, with a note saying why.
 * </ul>
 */
public final class Backends {
    private Backends() {}

    /** The backend chosen and, where the request was not taken literally (auto), why. */
    public record Selection(Backend backend, String device, int threads, String note) implements AutoCloseable {
        @Override public void close() { backend.close(); }
    }

    /** Thrown (as a one-line error) when CUDA was asked for and cannot be used. */
    public static final class CudaUnavailable extends BadInputException {
        public CudaUnavailable(String reason) { super("CUDA backend unavailable: " + reason); }
    }

    public static Selection open(String device, int threads) {
        if (threads < 0) throw new BadInputException("--threads must be >= 0 (0 = one per physical core), got " + threads);
        String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
        return switch (d) {
            case "cpu" -> cpu(threads, null);
            case "cuda" -> openCuda();
            case "auto" -> {
                try {
                    yield openCuda();
                } catch (CudaUnavailable e) {
                    yield cpu(threads, e.getMessage() + "; using the CPU");
                }
            }
            default -> throw new BadInputException("--device: unknown device '" + device + "' (expected cpu, cuda or auto)");
        };
    }

    private static Selection cpu(int threads, String note) {
        int n = threads == 0 ? CpuThreads.physicalCores() : threads;
        // a private pool of exactly n threads: closing the selection stops it (never the shared pool)
        return new Selection(new CpuBackend(n), "cpu", n, note);
    }

    /** Where the CUDA backend gets wired in (bindings/, cuda-kernels/, engine/.../cuda/). */
    private static Selection openCuda() {
        throw new CudaUnavailable("this build has no CUDA backend yet (use --device cpu)");
    }
}
