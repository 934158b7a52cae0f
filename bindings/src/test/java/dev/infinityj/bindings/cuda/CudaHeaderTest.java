package dev.infinityj.bindings.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The hand-written bindings against the CUDA headers installed here (/usr/local/cuda/include, or
 * $CUDA_HOME/include): every bound driver prototype's parameter count and parameter sizes, the
 * #define that maps each header name to the exported symbol, CUresult names, enum constants and
 * struct sizes. Skips where the headers are absent. (No cuBLAS headers exist on the build machine,
 * so the cuBLAS prototypes are checked only for what is independent of them.)
 */
class CudaHeaderTest {
    static String cudaH, libraryTypesH;

    @BeforeAll
    static void read() throws IOException {
        String home = System.getenv().getOrDefault("CUDA_HOME", "/usr/local/cuda");
        Path inc = Path.of(home, "include");
        if (Files.isRegularFile(inc.resolve("cuda.h"))) cudaH = Files.readString(inc.resolve("cuda.h"));
        if (Files.isRegularFile(inc.resolve("library_types.h"))) libraryTypesH = Files.readString(inc.resolve("library_types.h"));
    }

    static void needHeaders() {
        assumeTrue(cudaH != null, "cuda.h not installed (set CUDA_HOME): header checks skipped");
    }

    /** Parameter list of the first prototype {@code CUresult CUDAAPI name(...)} (the public one, before the internal section). */
    static List<String> prototype(String name) {
        Matcher m = Pattern.compile("CUresult\\s+CUDAAPI\\s+" + Pattern.quote(name) + "\\s*\\(([^;]*?)\\)\\s*;", Pattern.DOTALL).matcher(cudaH);
        assertTrue(m.find(), "no prototype for " + name + " in cuda.h");
        String args = m.group(1).replaceAll("/\\*.*?\\*/", "").replaceAll("\\s+", " ").trim();
        List<String> out = new ArrayList<>();
        if (args.equals("void") || args.isEmpty()) return out;
        for (String a : args.split(",")) out.add(a.trim());
        return out;
    }

    /** Size in bytes of a C parameter declaration as the x86-64 / aarch64 Linux ABI passes it. */
    static long cSize(String decl) {
        if (decl.contains("*")) return 8;
        String type = decl.replaceAll("\\bconst\\b", "").trim();
        type = type.substring(0, type.lastIndexOf(' ')).trim(); // drop the parameter name
        return switch (type) {
            case "CUdeviceptr", "size_t", "unsigned long long", "cuuint64_t" -> 8;
            case "CUcontext", "CUmodule", "CUfunction", "CUstream", "CUevent", "CUgraph", "CUgraphExec" -> 8; // opaque pointers
            case "int", "unsigned int", "CUdevice", "CUresult", "CUdevice_attribute", "CUfunction_attribute",
                 "CUstreamCaptureMode", "CUjit_option" -> 4;
            case "unsigned char" -> 1;
            default -> throw new AssertionError("unknown C type '" + type + "' in '" + decl + "': extend cSize");
        };
    }

    @Test
    void everyDriverBindingMatchesItsPrototype() {
        needHeaders();
        for (NativeLibraries.Symbol s : CudaDriver.SYMBOLS) {
            List<String> params = prototype(s.headerName());
            assertEquals(params.size(), s.parameterCount(), s.headerName() + ": parameter count vs " + params);
            List<MemoryLayout> layouts = s.descriptor().argumentLayouts();
            for (int i = 0; i < params.size(); i++) {
                long want = cSize(params.get(i));
                MemoryLayout got = layouts.get(i);
                assertEquals(want, got.byteSize(), s.headerName() + " parameter " + i + " '" + params.get(i) + "'");
                if (params.get(i).contains("*")) assertInstanceOf(AddressLayout.class, got, s.headerName() + " parameter " + i);
            }
            assertEquals(4, s.descriptor().returnLayout().orElseThrow().byteSize(), s.headerName() + " returns CUresult");
        }
    }

    @Test
    void exportedSymbolsFollowTheHeadersDefines() {
        needHeaders();
        Map<String, String> defines = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^#define\\s+(cu\\w+)\\s+(?:__CUDA_API_PTDS\\(|__CUDA_API_PTSZ\\()?(cu\\w+)\\)?\\s*$").matcher(cudaH);
        while (m.find()) defines.putIfAbsent(m.group(1), m.group(2));
        for (NativeLibraries.Symbol s : CudaDriver.SYMBOLS)
            assertEquals(defines.getOrDefault(s.headerName(), s.headerName()), s.symbol(), "symbol for " + s.headerName());
    }

    @Test
    void errorNamesMatchCuresultEnum() {
        needHeaders();
        int start = cudaH.indexOf("typedef enum cudaError_enum"), end = cudaH.indexOf("} CUresult;", start);
        Matcher m = Pattern.compile("(?m)^\\s*(CUDA_(?:SUCCESS|ERROR_\\w+))\\s*=\\s*(\\d+)").matcher(cudaH.substring(start, end));
        Map<Integer, String> header = new TreeMap<>();
        while (m.find()) header.put(Integer.parseInt(m.group(2)), m.group(1));
        assertTrue(header.size() > 90, "parsed only " + header.size() + " codes");
        assertEquals(header, CudaError.all());
    }

    @Test
    void errorNamesWithoutHeaders() {
        assertEquals("CUDA_SUCCESS", CudaError.name(0));
        assertEquals("CUDA_ERROR_NO_DEVICE", CudaError.name(100));
        assertEquals("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", CudaError.name(222));
        assertEquals("CUDA_ERROR_12345", CudaError.name(12345));
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", CudaError.cublasName(15));
        assertEquals("CUBLAS_STATUS_77", CudaError.cublasName(77));
    }

    static Integer enumValue(String text, String name) {
        Matcher m = Pattern.compile("\\b" + name + "\\s*=\\s*(-?0x[0-9a-fA-F]+|-?\\d+)").matcher(text);
        if (!m.find()) return null;
        return Integer.decode(m.group(1));
    }

    @Test
    void constantsMatchTheHeaders() throws IllegalAccessException {
        needHeaders();
        int checked = 0;
        for (Field f : CudaConstants.class.getFields()) {
            if (f.getType() != int.class || !Modifier.isStatic(f.getModifiers())) continue;
            String n = f.getName();
            String text = n.startsWith("CUDA_R_") ? libraryTypesH : n.startsWith("CU_") ? cudaH : null;
            if (text == null) continue; // cuBLAS / cuBLASLt: no headers on this machine
            Integer v = enumValue(text, n);
            assertNotNull(v, n + " not found in the header");
            assertEquals(v.intValue(), f.getInt(null), n);
            checked++;
        }
        assertTrue(checked >= 20, "checked " + checked);
    }

    @Test
    void structLayoutsMatchTheHeaders() {
        needHeaders();
        assertEquals(structSize("CUuuid_st"), CudaConstants.CUuuid.byteSize());
        assertEquals(structSize("CUdevprop_st"), CudaConstants.CUdevprop.byteSize());
        assertEquals(16, CudaConstants.CUuuid.byteSize());
        assertEquals(56, CudaConstants.CUdevprop.byteSize());
    }

    /** Size of a struct of int / char fields (with arrays) as declared in cuda.h. */
    static long structSize(String tag) {
        Matcher m = Pattern.compile("typedef struct " + tag + "\\s*\\{(.*?)\\}", Pattern.DOTALL).matcher(cudaH);
        assertTrue(m.find(), tag);
        long size = 0, align = 1;
        Matcher f = Pattern.compile("(int|char)\\s+\\w+(?:\\[(\\d+)\\])?\\s*;").matcher(m.group(1).replaceAll("/\\*.*?\\*/", ""));
        while (f.find()) {
            long es = f.group(1).equals("int") ? 4 : 1;
            long n = f.group(2) == null ? 1 : Long.parseLong(f.group(2));
            size = (size + es - 1) / es * es + es * n;
            align = Math.max(align, es);
        }
        return (size + align - 1) / align * align;
    }

    @Test
    void cublasGemmPrototypesHaveTheDocumentedArity() {
        // cuBLAS 12/13 documentation: cublasGemmEx has 19 parameters, cublasGemmStridedBatchedEx 23, cublasLtMatmul 16
        assertEquals(19, Cublas.cublasGemmEx$DESC.argumentLayouts().size());
        assertEquals(23, Cublas.cublasGemmStridedBatchedEx$DESC.argumentLayouts().size());
        assertEquals(16, CublasLt.cublasLtMatmul$DESC.argumentLayouts().size());
        // the three strides of the batched GEMM are long long
        var l = Cublas.cublasGemmStridedBatchedEx$DESC.argumentLayouts();
        assertEquals(8, l.get(10).byteSize());
        assertEquals(8, l.get(14).byteSize());
        assertEquals(8, l.get(19).byteSize());
        assertEquals(4, l.get(20).byteSize());
    }
}
