package dev.infinityj.backend;

import dev.infinityj.BadInputException;
import dev.infinityj.cpu.CpuThreads;
import dev.infinityj.cuda.CudaBackend;
import dev.infinityj.cuda.CudaUnavailableException;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * THE place a compute device is chosen ({@code --device cpu|cuda|auto}, {@code --threads}).
 * Every command that computes goes through {@link #open}, so wiring in the CUDA backend means
 * changing {@link #openCuda} only.
 *
 * <ul>
 *   <li>{@code cpu}: {@link CpuBackend} on {@code threads} threads (0 = one per physical core).
 *   <li>{@code cuda}: {@link dev.infinityj.cuda.CudaBackend}, or a one-line
 *       "CUDA backend unavailable: &lt;reason&gt;" error (no libcuda, no device, no kernels in the build).
 *   <li>{@code auto}: the CPU for now, with a note. The CUDA backend has not yet been verified on a
 *       GPU (see cuda-kernels/README.md), so it is only used when asked for by name; once a GPU run
 *       has proven it against the CPU backend, auto will prefer it where {@code probe()} passes.
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

    public static Selection open(String device, int threads) { return open(device, threads, List.of()); }

    /** @param cudaLib extra folders to look for libcuda / libcublas in (the CLI's --cuda-lib), searched first */
    public static Selection open(String device, int threads, List<Path> cudaLib) {
        if (threads < 0) throw new BadInputException("--threads must be >= 0 (0 = one per physical core), got " + threads);
        String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
        return switch (d) {
            case "cpu" -> cpu(threads, null);
            case "cuda" -> openCuda(cudaLib);
            case "auto" -> {
                var why = CudaBackend.probe(cudaLib);
                yield cpu(threads, why.isPresent()
                        ? "CUDA backend unavailable: " + why.get() + "; using the CPU"
                        : "a CUDA device is present, but the CUDA backend is not yet verified on hardware; using the CPU (--device cuda to try it)");
            }
            default -> throw new BadInputException("--device: unknown device '" + device + "' (expected cpu, cuda or auto)");
        };
    }

    private static Selection cpu(int threads, String note) {
        int n = threads == 0 ? CpuThreads.physicalCores() : threads;
        // a private pool of exactly n threads: closing the selection stops it (never the shared pool)
        return new Selection(new CpuBackend(n), "cpu", n, note);
    }

    /** The CUDA backend on device 0 (bindings/, cuda-kernels/, engine/.../cuda/). */
    private static Selection openCuda(List<Path> cudaLib) {
        try { // the constructor runs the probe once and throws its reason
            return new Selection(new CudaBackend(CudaBackend.Options.defaults().withCudaLib(cudaLib)), "cuda", 0,
                    "the CUDA backend is not yet verified on hardware: compare with --device cpu before trusting its images");
        } catch (CudaUnavailableException e) {
            throw new CudaUnavailable(e.reason());
        } catch (dev.infinityj.InfinityjException e) { // a driver call failed while opening the device
            throw new CudaUnavailable(e.getMessage());
        }
    }
}
