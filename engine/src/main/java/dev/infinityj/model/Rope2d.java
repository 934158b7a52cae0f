package dev.infinityj.model;

import dev.infinityj.tensor.Tensor;

/**
 * RoPE-2D tables (spec §3.6, rope2d_normalized_by_hw = 2). Positions of a (h, w) scale are
 * rescaled to the LAST grid (U_h, U_w) of the template's 1M schedule — for every pixel budget —
 * with an fp32 multiply and round-half-to-even, exactly as torch computes them. Head dims
 * 0..c/2−1 rotate with the row index, c/2..c−1 with the column index; pairs are interleaved.
 */
public final class Rope2d {
    /** Side of the base angle grid: 2048 px / patch 16. */
    public static final int MAX_SIDE = 128;
    public static final double BASE = 10000.0;

    private final int headDim;
    private final ScaleSchedules.Schedule schedule;
    private final float[] cos, sin; // [totalTokens, headDim/2], token order = scales concatenated
    private final int pairs;

    public Rope2d(ScaleSchedules.Schedule schedule, int headDim) {
        if (headDim % 4 != 0) throw new IllegalArgumentException("RoPE-2D needs a head dim divisible by 4, got " + headDim);
        this.headDim = headDim;
        this.schedule = schedule;
        this.pairs = headDim / 2;
        float[] invFreq = inverseFrequencies(headDim);
        ScaleSchedules.Grid u = schedule.full().last();
        int n = schedule.totalTokens();
        cos = new float[n * pairs];
        sin = new float[n * pairs];
        int t = 0;
        for (ScaleSchedules.Grid g : schedule.grids()) {
            int[] ys = positions(g.h(), u.h()), xs = positions(g.w(), u.w());
            for (int iy = 0; iy < g.h(); iy++)
                for (int ix = 0; ix < g.w(); ix++, t++)
                    for (int p = 0; p < pairs; p++) {
                        int half = pairs / 2;
                        float pos = p < half ? ys[iy] : xs[ix];
                        float ang = pos * invFreq[p < half ? p : p - half];
                        cos[t * pairs + p] = (float) Math.cos(ang);
                        sin[t * pairs + p] = (float) Math.sin(ang);
                    }
        }
    }

    /** inv_freq[j] = 1 / 10000^(2j / (c/2)) in fp32, j = 0 .. c/4 − 1. */
    static float[] inverseFrequencies(int headDim) {
        int half = headDim / 2;
        float[] f = new float[half / 2];
        for (int j = 0; j < f.length; j++) {
            float e = (float) (2 * j) / (float) half;
            f[j] = 1f / (float) Math.pow(BASE, e);
        }
        return f;
    }

    /**
     * Base-grid positions of the n rows (or columns) of a scale whose 1M-final size is {@code full}:
     * round_half_even(float32(i) · float32(full / n)).
     */
    public static int[] positions(int n, int full) {
        float step = (float) ((double) full / n);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = (int) Math.rint((float) i * step);
            if (p[i] >= MAX_SIDE) throw new IllegalStateException("RoPE position " + p[i] + " outside the " + MAX_SIDE + " grid");
        }
        return p;
    }

    public ScaleSchedules.Schedule schedule() { return schedule; }

    public int headDim() { return headDim; }

    /** cos table rows of scale k: [h_k·w_k, headDim/2]. */
    public Tensor cos(int k) { return rows(cos, k); }

    public Tensor sin(int k) { return rows(sin, k); }

    private Tensor rows(float[] table, int k) {
        int start = schedule.offset(k), n = schedule.grid(k).tokens();
        float[] r = new float[n * pairs];
        System.arraycopy(table, start * pairs, r, 0, r.length);
        return Tensor.ofFloats(r, n, pairs);
    }

    /** Whole table [totalTokens, headDim/2] (for tests). */
    public float[] cosTable() { return cos.clone(); }

    public float[] sinTable() { return sin.clone(); }
}
