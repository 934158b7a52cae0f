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
        Matcher m = Pattern.compile("IJ_KERNEL\\s+void\\s+(\\w+)\\s*\\(").matcher(cu);
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

    @Test
    void theKernelsTheBackendNeedsExist() throws IOException {
        assumeFalse(buildInfo == null || buildInfo.startsWith("skipped"), "CUDA kernels were skipped in this build (no nvcc)");
        String all = "";
        for (Path cu : sources()) all += Files.readString(cu);
        TreeSet<String> k = kernelsIn(all);
        for (String need : List.of("layer_norm_f32", "rms_norm_f32", "bias_act_f32", "rope_interleaved_f32", "bit_sample",
                "bits_to_codes", "bilinear_f32", "gemm_xwT_bf16", "attention_f32", "strided_copy_32"))
            assertTrue(k.contains(need), need);
    }
}
