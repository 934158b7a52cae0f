package dev.infinityj.cpu;

/**
 * The B operand (K×N) of {@link Gemm}, as a producer of packed panels: a matrix view ({@link Mat})
 * or an implicit im2col of a conv input ({@link ConvInput}). Called once per 16-column panel of
 * each K block, so a virtual call here costs nothing.
 */
public interface GemmB {
    /**
     * Writes B(p0+p, j0+j) to {@code dst[dstOff + 16p + j]} for p < kc, j < nr (nr ≤ 16), and
     * zeros for nr ≤ j < 16.
     */
    void packPanel(int p0, int kc, int j0, int nr, float[] dst, int dstOff);
}
