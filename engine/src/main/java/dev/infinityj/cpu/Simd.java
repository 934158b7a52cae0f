package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one float vector shape every CPU kernel uses: 256-bit (8 lanes).
 *
 * <p>Why one, and why not {@code SPECIES_PREFERRED}: the Vector API's shared entry points
 * ({@code FloatVector.fromArray}, {@code fma}, …) are inlined with the caller's type profile. When
 * kernels use two shapes (e.g. the GEMM's 256-bit micro-kernel and 512-bit elementwise kernels on
 * an AVX-512 machine), those profiles turn polymorphic, C2 stops intrinsifying, and ops fall back to
 * the Java implementations: measured here, the GEMM dropped from ~135 to ~40 GFLOPS for the rest of
 * the process after the first attention call. 256 bits is the GEMM kernel's design width (10
 * accumulators fit AVX2's 16 registers) and is fast on AVX-512 machines too.
 */
public final class Simd {
    private Simd() {}

    public static final VectorSpecies<Float> F = FloatVector.SPECIES_256;

    /**
     * Whether the machine has 32 vector registers (AVX-512; asked through the preferred shape's
     * size, which creates no 512-bit vectors). Register-hungry kernels (the 8×16 GEMM tile, the
     * small-M path's 4×4 dot tile) are chosen on it; on AVX2's 16 registers they spill. Results do
     * not depend on it. {@code -Dinfinityj.narrowRegisters=true} forces the 16-register kernels.
     */
    public static final boolean WIDE_REGISTERS =
            FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512 && !Boolean.getBoolean("infinityj.narrowRegisters");

    /**
     * Whether the GEMM's large-M blocks use the 512-bit {@link GemmKernel8x32}: where 512-bit FMAs
     * run at full width (Intel server cores with AVX-512: 158–164 vs 110–114 GFLOPS per core,
     * measured on an Intel Xeon VM). AMD Zen 4 executes 512-bit ops as two 256-bit halves (its
     * documented design; not measured here), so it stays on 256 bits.
     * {@code -Dinfinityj.zmmGemm=true|false} overrides the vendor test. Results do not depend on it.
     */
    public static final boolean ZMM_GEMM = WIDE_REGISTERS && (System.getProperty("infinityj.zmmGemm") != null
            ? Boolean.getBoolean("infinityj.zmmGemm") : intelCpu());

    private static boolean intelCpu() {
        try (var lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("vendor_id")).findFirst().map(l -> l.contains("GenuineIntel")).orElse(false);
        } catch (java.io.IOException | RuntimeException e) {
            return false;   // not Linux, or unreadable: the 256-bit kernels
        }
    }
}
