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

    /**
     * Two full adjacent panels, columns j0 … j0+31, as one {@code [kc][32]} panel for the 512-bit
     * kernel: {@code dst[dstOff + 32p + j]}. Default: the two 16-column panels through a scratch
     * buffer, interleaved (a Mat overrides it with one contiguous pass where it can).
     */
    default void packPanel32(int p0, int kc, int j0, float[] dst, int dstOff) {
        float[] t = PAIR.get();
        if (t.length < 32 * kc) PAIR.set(t = new float[32 * kc]);
        packPanel(p0, kc, j0, 16, t, 0);
        packPanel(p0, kc, j0 + 16, 16, t, 16 * kc);
        for (int p = 0; p < kc; p++) {
            System.arraycopy(t, 16 * p, dst, dstOff + 32 * p, 16);
            System.arraycopy(t, 16 * kc + 16 * p, dst, dstOff + 32 * p + 16, 16);
        }
    }

    /** Per-thread scratch of {@link #packPanel32}'s default. */
    ThreadLocal<float[]> PAIR = ThreadLocal.withInitial(() -> new float[0]);
}
