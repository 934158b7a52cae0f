package dev.infinityj.cuda.kernels;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * The compiled kernels as the jar carries them: every .cu source has a .ptx and a .fatbin resource,
 * every {@code IJ_KERNEL} (extern "C" __global__) function in the source is a PTX {@code .entry} of the
 * same, unmangled name, the PTX targets sm_80, and the fatbin has the fatbinary magic. Skips when the
 * build had no nvcc (BUILD-INFO says so).
 */
class KernelResourcesTest {
    static final String DIR = "/dev/infinityj/cuda/kernels/";
    static String buildInfo;

    @BeforeAll
    static void info() throws IOException {
        buildInfo = resourceText("BUILD-INFO");
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = KernelResourcesTest.class.getResourceAsStream(DIR + name)) {
            return in == null ? null : in.readAllBytes();
        }
    }

    static String resourceText(String name) throws IOException {
        byte[] b = resource(name);
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static List<Path> sources() throws IOException {
        Path src = Path.of(System.getProperty("user.dir"), "src", "main", "cuda");
        try (Stream<Path> s = Files.list(src)) {
            return s.filter(p -> p.toString().endsWith(".cu")).sorted().toList();
        }
    }

    static TreeSet<String> kernelsIn(String cu) {
        Matcher m = Pattern.compile("IJ_KERNEL\\s+void\\s+(?:__launch_bounds__\\([^)]*\\)\\s*)?(\\w+)\\s*\\(").matcher(cu);
        TreeSet<String> out = new TreeSet<>();
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void buildInfoIsPresent() {
        assertNotNull(buildInfo, "BUILD-INFO resource missing: build-ptx.sh did not run");
    }

    @Test
    void everySourceIsCompiledAndEveryKernelIsAnUnmangledEntry() throws IOException {
        assumeFalse(buildInfo == null || buildInfo.startsWith("skipped"), "CUDA kernels were skipped in this build (no nvcc)");
        List<Path> cus = sources();
        assertFalse(cus.isEmpty());
        List<String> modules = new ArrayList<>();
        for (Path cu : cus) {
            String name = cu.getFileName().toString().replace(".cu", "");
            modules.add(name);
            String ptx = resourceText(name + ".ptx");
            assertNotNull(ptx, name + ".ptx missing");
            assertTrue(ptx.contains(".target sm_80"), name + ".ptx does not target sm_80");
            Matcher v = Pattern.compile("\\.version (\\d+)\\.(\\d+)").matcher(ptx);
            assertTrue(v.find(), name + ".ptx has no .version");
            TreeSet<String> entries = new TreeSet<>();
            Matcher e = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(").matcher(ptx);
            while (e.find()) entries.add(e.group(1));
            TreeSet<String> declared = kernelsIn(Files.readString(cu));
            assertFalse(declared.isEmpty(), cu + " declares no kernels");
            assertEquals(declared, entries, name + ": PTX entries vs extern \"C\" kernels of the source");
            byte[] fat = resource(name + ".fatbin");
            assertNotNull(fat, name + ".fatbin missing");
            assertTrue(fat.length > 16);
            int magic = (fat[0] & 0xff) | (fat[1] & 0xff) << 8 | (fat[2] & 0xff) << 16 | (fat[3] & 0xff) << 24;
            assertEquals(0xBA55ED50, magic, name + ".fatbin: not a fatbinary");
            assertTrue(buildInfo.contains("module " + name + ":"), "BUILD-INFO lacks " + name);
        }
        assertEquals(modules, resourceText("kernels.list").lines().sorted().toList());
    }

    /** kernel@arch → {registers, spill stores, spill loads, static shared memory bytes} from NAME.ptxas.txt. */
    static java.util.Map<String, long[]> ptxasUsage(String log) {
        java.util.Map<String, long[]> out = new java.util.TreeMap<>();
        Matcher m = Pattern.compile("Compiling entry function '(\\w+)' for '(sm_\\d+)'.*?(\\d+) bytes spill stores, (\\d+) bytes spill loads.*?"
                + "Used (\\d+) registers(?:, used \\d+ barriers)?(?:, (\\d+) bytes smem)?", Pattern.DOTALL).matcher(log);
        while (m.find())
            out.put(m.group(1) + "@" + m.group(2), new long[] {Long.parseLong(m.group(5)), Long.parseLong(m.group(3)),
                    Long.parseLong(m.group(4)), m.group(6) == null ? 0 : Long.parseLong(m.group(6))});
        return out;
    }

    /**
     * ptxas -v of the fatbin build, per kernel and architecture: no register spills, and static shared
     * memory within the 48 KB a launch gets without opting in (the backend never opts in). Overuse
     * would otherwise show only as a failed or slow launch on a GPU.
     */
    @Test
    void ptxasReportsNoSpillsAndSharedMemoryWithin48K() throws IOException {
        assumeFalse(buildInfo == null || buildInfo.startsWith("skipped"), "CUDA kernels were skipped in this build (no nvcc)");
        for (Path cu : sources()) {
            String name = cu.getFileName().toString().replace(".cu", "");
            String log = resourceText(name + ".ptxas.txt");
            assertNotNull(log, name + ".ptxas.txt missing");
            var usage = ptxasUsage(log);
            for (String k : kernelsIn(Files.readString(cu)))
                for (String arch : List.of("sm_80", "sm_86", "sm_89", "sm_90")) {
                    long[] u = usage.get(k + "@" + arch);
                    assertNotNull(u, k + " for " + arch + " not in " + name + ".ptxas.txt");
                    assertEquals(0, u[1] + u[2], k + "@" + arch + " spills registers: " + u[1] + " B stored, " + u[2] + " B loaded");
                    assertTrue(u[3] <= 48 * 1024, k + "@" + arch + " uses " + u[3] + " B of static shared memory");
                    assertTrue(u[0] <= 255, k + "@" + arch + " registers " + u[0]);
                }
        }
    }

    @Test
    void theKernelsTheBackendNeedsExist() throws IOException {
        assumeFalse(buildInfo == null || buildInfo.startsWith("skipped"), "CUDA kernels were skipped in this build (no nvcc)");
        String all = "";
        for (Path cu : sources()) all += Files.readString(cu);
        TreeSet<String> k = kernelsIn(all);
        for (String need : List.of("layer_norm_f32", "rms_norm_f32", "bias_act_f32", "rope_interleaved_f32", "bit_sample",
                "bits_to_codes", "bilinear_f32", "gemm_xwT_bf16", "attention_f32", "strided_copy_32", "flash_attention_f32",
                "flash_attention_bf16", "flash_attention_mma_bf16"))
            assertTrue(k.contains(need), need);
    }

    /** The tensor-core attention really issues mma.sync m16n8k16 bf16 (not optimised away, not another shape). */
    @Test
    void mmaAttentionUsesTensorCores() throws IOException {
        assumeFalse(buildInfo == null || buildInfo.startsWith("skipped"), "CUDA kernels were skipped in this build (no nvcc)");
        String ptx = resourceText("flash_attention_mma.ptx");
        assertNotNull(ptx, "flash_attention_mma.ptx missing");
        assertTrue(ptx.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), "no bf16 m16n8k16 mma in flash_attention_mma.ptx");
    }
}
