package dev.infinityj.sampling;

/**
 * Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
 * counter-based generator behind every random draw in infinityj. A draw is a pure function of
 * (key, counter), so the same seed gives the same bits on any machine, any thread count, and on
 * the GPU (cuda-kernels/src/main/cuda/sampler.cu implements the same function).
 */
public final class Philox {
    private static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    private Philox() {}

    /** The 10-round block function: 4 counter words and 2 key words → 4 output words. */
    public static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int r = 0; r < 10; r++) {
            if (r > 0) { k0 += W0; k1 += W1; }
            long p0 = (M0 & 0xffffffffL) * (c0 & 0xffffffffL);
            long p1 = (M1 & 0xffffffffL) * (c2 & 0xffffffffL);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            int n0 = hi1 ^ c1 ^ k0;
            int n1 = lo1;
            int n2 = hi0 ^ c3 ^ k1;
            int n3 = lo0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        }
        out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
    }

    /** First output word for counter (lo(index), hi(index), stream, 0) under key (lo(seed), hi(seed)). */
    public static int word(long seed, int stream, long index) {
        int[] o = new int[4];
        block((int) index, (int) (index >>> 32), stream, 0, (int) seed, (int) (seed >>> 32), o);
        return o[0];
    }

    /** Uniform float in [0, 1) with 24 random bits: (word >>> 8) · 2⁻²⁴. */
    public static float uniform(long seed, int stream, long index) {
        return (word(seed, stream, index) >>> 8) * 0x1p-24f;
    }
}
