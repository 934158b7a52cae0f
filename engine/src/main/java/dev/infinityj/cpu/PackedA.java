package dev.infinityj.cpu;

import dev.infinityj.ShapeException;

/**
 * An A operand (M×K) packed once into the micro-kernel's panel order, for an A reused across many
 * GEMMs (Winograd's transformed weights: the same 36 [O, C] matrices for every chunk of every
 * call). Layout: K blocks of {@link Gemm#KC} in order; inside a block, the ⌈M/MR⌉ row panels in
 * order, each {@code [kc][MR]} with zero rows past M — exactly what {@link Gemm#block} packs per
 * call, so products through the blocked path are bit-identical with or without it. Re-packing such an A on every call
 * was 19 % of a Winograd decode (transform-domain GEMMs have only a few hundred columns per chunk).
 */
public record PackedA(float[] data, int m, int k) {

    /** Packs rows [0, m) × columns [0, k) of {@code a}. */
    public static PackedA pack(Mat a, int m, int k) {
        int mr = Gemm.MR, panels = (m + mr - 1) / mr;
        long size = (long) panels * mr * k;
        if (size > Integer.MAX_VALUE - 8) throw new ShapeException("PackedA: " + m + "×" + k + " is too large for one array");
        float[] d = new float[(int) size];
        for (int pc = 0; pc < k; pc += Gemm.KC) {
            int kc = Math.min(Gemm.KC, k - pc);
            for (int r = 0; r < panels; r++) a.packA(r * mr, Math.min(mr, m - r * mr), pc, kc, d, offset(panels, pc, kc, r));
        }
        return new PackedA(d, m, k);
    }

    /** Where row panel r of the K block starting at pc (kc wide) begins. */
    int offset(int pc, int kc, int r) { return offset((m + Gemm.MR - 1) / Gemm.MR, pc, kc, r); }

    private static int offset(int panels, int pc, int kc, int r) {
        return pc * panels * Gemm.MR + r * kc * Gemm.MR;
    }

    long bytes() { return 4L * data.length; }
}
