package dev.infinityj.cuda;

import dev.infinityj.InfinityjException;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The "unavailable: reason" path on machines without a usable GPU (this build machine has no libcuda). */
@SuppressWarnings("restricted") // FFM: opening native libraries is the point
class CudaBackendProbeTest {
    @Test
    void withoutADriverTheBackendIsUnavailableWithAOneLineReason() {
        Optional<String> why = CudaBackend.probe();
        assumeTrue(why.isPresent(), "a CUDA device is usable here; CudaBackendGpuTest covers it");
        String reason = why.get();
        assertFalse(reason.isBlank());
        assertFalse(reason.contains("\n"), reason);
        boolean noDriver = CudaContext.kernelsMissingReason() == null
                && dev.infinityj.bindings.cuda.CudaLibraries.Lib.CUDA.fileNames().stream().noneMatch(n -> {
                    try { java.lang.foreign.SymbolLookup.libraryLookup(n, java.lang.foreign.Arena.global()); return true; }
                    catch (IllegalArgumentException e) { return false; }
                });
        if (noDriver) assertTrue(reason.startsWith("libcuda.so.1 not found"), reason);
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, CudaBackend::new);
        assertInstanceOf(InfinityjException.class, e);
        assertEquals("CUDA backend unavailable: " + reason, e.getMessage());
        assertSame(why, CudaBackend.probe(), "the probe is cached");
    }
}
