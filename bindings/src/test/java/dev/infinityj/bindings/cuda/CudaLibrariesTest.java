package dev.infinityj.bindings.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Library discovery on a fake filesystem tree (no real library is opened except in the last test). */
@SuppressWarnings("restricted") // FFM: opening native libraries is the point
class CudaLibrariesTest {
    @TempDir Path root;

    private Path touch(String rel) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.writeString(p, "not an ELF file");
        return p;
    }

    private CudaLibraries.Search search(List<Path> explicit, Map<String, String> env) {
        return new CudaLibraries.Search(explicit, env, "/home/u", root);
    }

    @Test
    void driverSearchOrderIsExplicitThenLdLibraryPathThenStandardDirsAndNeverStubs() throws IOException {
        Path std = touch("usr/lib/x86_64-linux-gnu/libcuda.so.1");
        Path cudaDir = touch("usr/local/cuda/lib64/libcuda.so");
        touch("usr/local/cuda/lib64/stubs/libcuda.so");
        Path ld = touch("ld/one/libcuda.so.1");
        Path opt = touch("opt/mine/libcuda.so.1");
        Path stubsOnLdPath = touch("ld/stubs/libcuda.so.1");
        var s = search(List.of(opt.getParent()), Map.of("LD_LIBRARY_PATH", root.resolve("ld/stubs") + ":" + root.resolve("ld/one") + "::"));
        assertEquals(List.of(opt, ld, std, cudaDir), CudaLibraries.candidates(CudaLibraries.Lib.CUDA, s));
        assertFalse(CudaLibraries.candidates(CudaLibraries.Lib.CUDA, s).contains(stubsOnLdPath));
    }

    @Test
    void explicitFileIsTakenAsIsWhenItNamesTheLibrary() throws IOException {
        Path f = touch("x/libcuda.so.1.580.65");
        Path other = touch("x/libfoo.so");
        var s = search(List.of(f, other), Map.of());
        assertEquals(List.of(f), CudaLibraries.candidates(CudaLibraries.Lib.CUDA, s));
    }

    @Test
    void newestSonameWinsInsideOneDirectory() throws IOException {
        touch("usr/lib64/libcublas.so.12");
        Path v13 = touch("usr/lib64/libcublas.so.13");
        assertEquals(List.of(v13), CudaLibraries.candidates(CudaLibraries.Lib.CUBLAS, search(List.of(), Map.of())));
    }

    @Test
    void cublasIsFoundInPytorchPipLayoutsButTheDriverIsNot() throws IOException {
        Path venvLib = touch("venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        Path local = touch("home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12");
        Path pyenv = touch("home/u/.pyenv/versions/3.10.4/lib/python3.10/site-packages/nvidia/cublas/lib/libcublas.so.12");
        Path sys = touch("usr/local/lib/python3.12/dist-packages/nvidia/cublas/lib/libcublas.so.12");
        Path debian = touch("usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.12");
        Path conda = touch("opt/conda/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12");
        touch("usr/local/lib/python3.12/dist-packages/nvidia/cublas/lib/libcuda.so.1"); // never searched for the driver
        var s = search(List.of(), Map.of("VIRTUAL_ENV", root.resolve("venv").toString()));
        assertEquals(List.of(venvLib, local, pyenv, sys, debian, conda), CudaLibraries.candidates(CudaLibraries.Lib.CUBLAS, s));
        assertEquals(List.of(), CudaLibraries.candidates(CudaLibraries.Lib.CUDA, s));
    }

    @Test
    void pipDirsPreferCublasThenCu13ThenTheRestSorted() throws IOException {
        touch("sp/nvidia/zeta/lib/x");
        touch("sp/nvidia/alpha/lib/x");
        touch("sp/nvidia/cu13/lib/x");
        touch("sp/nvidia/cublas/lib/x");
        touch("sp/nvidia/nolib/include/x");
        Path nv = root.resolve("sp/nvidia");
        assertEquals(List.of(nv.resolve("cublas/lib"), nv.resolve("cu13/lib"), nv.resolve("alpha/lib"), nv.resolve("zeta/lib")),
                CudaLibraries.pipDirs(root.resolve("sp")));
    }

    @Test
    void pythonPathAndNewestPythonFirst() throws IOException {
        Path p311 = touch("usr/local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12");
        Path p39 = touch("usr/local/lib/python3.9/site-packages/nvidia/cublas/lib/libcublas.so.12");
        Path pp = touch("pp/nvidia/cublas/lib/libcublas.so.12");
        var s = search(List.of(), Map.of("PYTHONPATH", root.resolve("pp").toString()));
        assertEquals(List.of(pp, p311, p39), CudaLibraries.candidates(CudaLibraries.Lib.CUBLAS, s));
    }

    @Test
    void aFileThatIsNotALibraryIsReportedNotCrashed() throws IOException {
        touch("usr/lib64/libcublasLt.so.12");
        Path bad = touch("usr/lib64/libcublas.so.12");
        assumeTrue(CudaLibraries.Lib.CUBLAS.fileNames().stream().allMatch(n -> CudaLibraries.tryOpen(n).isEmpty()),
                "a real cuBLAS is reachable through the dynamic loader here; the not-found path cannot be exercised");
        var s = search(List.of(), Map.of());
        var e = assertThrows(CudaLibraries.NotFoundException.class, () -> CudaLibraries.open(CudaLibraries.Lib.CUBLAS, s));
        assertTrue(e.getMessage().contains(bad + " (does not load)"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void absentDriverGivesAOneLineReason() {
        assumeTrue(CudaLibraries.tryOpen("libcuda.so.1").isEmpty(), "libcuda.so.1 is installed here; the absent-driver path cannot be exercised");
        var s = search(List.of(), Map.of());
        var e = assertThrows(CudaLibraries.NotFoundException.class, () -> CudaLibraries.openDriver(s));
        assertTrue(e.getMessage().startsWith("libcuda.so.1 not found"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        // the JDK's behaviour this relies on: libraryLookup throws IllegalArgumentException for a missing library
        assertThrows(IllegalArgumentException.class, () -> java.lang.foreign.SymbolLookup.libraryLookup("libcuda.so.1", java.lang.foreign.Arena.global()));
    }

    @Test
    void aLibraryWithoutTheRequiredSymbolsIsRejectedWithTheirNames() {
        var e = assertThrows(NativeLibraries.MissingSymbolException.class, () -> new CudaDriver(name -> java.util.Optional.empty()));
        assertTrue(e.getMessage().startsWith("CudaDriver: the library lacks cuGetErrorName, cuGetErrorString, cuInit"), e.getMessage());
        assertFalse(e.getMessage().contains("cuMemAllocManaged"), "optional symbols are not required");
    }
}
