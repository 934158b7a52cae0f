package dev.infinityj.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The launch-argument table ({@link Kernels#SIGNATURE}) against the parameter lists nvcc wrote into
 * the PTX resources: a wrong argument width or count would corrupt a launch on the GPU, this finds it
 * without one.
 */
class KernelSignatureTest {
    static String ptx(String module) throws IOException {
        try (InputStream in = KernelSignatureTest.class.getResourceAsStream("/dev/infinityj/cuda/kernels/" + module + ".ptx")) {
            return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** kernel → kinds from the PTX: u64 → 'p' or 'l' (written 'q'), u32 → 'i', f32 → 'f', b8[168] → 'S'. */
    static Map<String, String> entries(String ptx) {
        Map<String, String> out = new TreeMap<>();
        Matcher e = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\((.*?)\\)", Pattern.DOTALL).matcher(ptx);
        while (e.find()) {
            StringBuilder sb = new StringBuilder();
            for (String p : e.group(2).split(",")) {
                p = p.trim();
                if (p.isEmpty()) continue;
                if (p.contains(".u64")) sb.append('q');
                else if (p.contains(".u32") || p.contains(".s32")) sb.append('i');
                else if (p.contains(".f32")) sb.append('f');
                else if (p.matches(".*\\.b8\\s+\\w+\\[(\\d+)\\]")) {
                    int n = Integer.parseInt(p.replaceAll(".*\\[(\\d+)\\]", "$1"));
                    sb.append(n == Kernels.STRIDED6_BYTES ? 'S' : '?');
                } else sb.append('?');
            }
            out.put(e.group(1), sb.toString());
        }
        return out;
    }

    /** The tile constants the backend computes grids from, against the #defines of flash_attention.cu, flash_attention_mma.cu and conv.cu. */
    @Test
    void tileConstantsMatchTheSources() throws IOException {
        java.nio.file.Path cu = java.nio.file.Path.of(System.getProperty("user.dir")).resolveSibling("cuda-kernels")
                .resolve("src/main/cuda/flash_attention.cu");
        assumeTrue(java.nio.file.Files.exists(cu), "source tree not beside the engine module: " + cu);
        String src = java.nio.file.Files.readString(cu);
        assertEquals(Kernels.FLASH_BLOCK_Q, define(src, "FA_BQ"));
        assertEquals(Kernels.FLASH_THREADS, define(src, "FA_THREADS"));
        assertEquals(Kernels.FLASH_MAX_HEAD_DIM, define(src, "FA_MAXD"));
        String mma = java.nio.file.Files.readString(cu.resolveSibling("flash_attention_mma.cu"));
        assertEquals(Kernels.MMA_BLOCK_Q, define(mma, "MA_BQ"));
        assertEquals(Kernels.MMA_THREADS, define(mma, "MA_THREADS"));
        assertEquals(Kernels.MMA_MAX_HEAD_DIM, define(mma, "MA_MAXD"));
        String conv = java.nio.file.Files.readString(cu.resolveSibling("conv.cu"));
        assertEquals(Kernels.CONV_TILE, define(conv, "CG_BM"));
        assertEquals(Kernels.CONV_TILE, define(conv, "CG_BN"));
        assertEquals(Kernels.CONV_THREADS, define(conv, "CG_THREADS"));
    }

    static int define(String src, String name) {
        Matcher m = Pattern.compile("#define\\s+" + name + "\\s+(\\d+)").matcher(src);
        assertTrue(m.find(), name + " not #defined");
        return Integer.parseInt(m.group(1));
    }

    @Test
    void everyLaunchSignatureMatchesThePtx() throws IOException {
        assumeTrue(CudaContext.kernelsMissingReason() == null, "CUDA kernels not in this build: " + CudaContext.kernelsMissingReason());
        Map<String, Map<String, String>> byModule = new TreeMap<>();
        for (String m : new java.util.TreeSet<>(Kernels.MODULE.values())) {
            String text = ptx(m);
            assertNotNull(text, "module " + m + ".ptx missing");
            byModule.put(m, entries(text));
        }
        List<String> unlisted = new ArrayList<>();
        byModule.forEach((m, es) -> es.keySet().forEach(k -> { if (!Kernels.MODULE.containsKey(k)) unlisted.add(m + ":" + k); }));
        assertEquals(List.of(), unlisted, "kernels in the PTX that Kernels does not list");
        assertEquals(Kernels.MODULE.keySet(), Kernels.SIGNATURE.keySet());
        for (var e : Kernels.SIGNATURE.entrySet()) {
            String ptxSig = byModule.get(Kernels.MODULE.get(e.getKey())).get(e.getKey());
            assertNotNull(ptxSig, e.getKey() + " is not an entry of " + Kernels.MODULE.get(e.getKey()) + ".ptx");
            assertEquals(ptxSig, e.getValue().replace('p', 'q').replace('l', 'q'), e.getKey());
        }
    }
}
