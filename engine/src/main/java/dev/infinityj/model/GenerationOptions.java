package dev.infinityj.model;

import dev.infinityj.BadInputException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Options of one generation (spec §4.2, §4.4). cfg and τ are per-scale lists (a scalar is
 * broadcast); cfg = 1 at every scale turns the uncond half off. top_k ≤ 0 and top_p ≤ 0 disable
 * the filters. {@code forcedBits} teacher-forces the first k scales: bits of scale s are
 * token-major [h·w·d] in {0, 1} (the official gt_leak / gt_ls_Bl).
 */
public record GenerationOptions(ScaleSchedules.Schedule schedule, double[] cfg, double[] tau, int topK, double topP,
                                long seed, List<byte[]> forcedBits) {

    /** Official sampler defaults (gen_one_img): top_k 900, top_p 0.97. */
    public static final int DEFAULT_TOP_K = 900;
    public static final double DEFAULT_TOP_P = 0.97;

    public GenerationOptions {
        if (schedule == null) throw new BadInputException("option schedule: required");
        int k = schedule.scales();
        cfg = perScale("cfg", cfg, k);
        tau = perScale("tau", tau, k);
        for (int s = 0; s < k; s++) {
            if (!Double.isFinite(cfg[s]) || cfg[s] < 0) throw new BadInputException("option cfg: must be a finite number ≥ 0, got " + cfg[s] + " at scale " + s);
            if (!Double.isFinite(tau[s]) || tau[s] <= 0) throw new BadInputException("option tau: must be a finite number > 0, got " + tau[s] + " at scale " + s);
        }
        if (topK < 0) throw new BadInputException("option top_k: must be ≥ 0 (0 = off), got " + topK);
        if (!(topP >= 0 && topP <= 1)) throw new BadInputException("option top_p: must be in [0, 1] (0 = off), got " + topP);
        forcedBits = forcedBits == null ? List.of() : List.copyOf(forcedBits);
        if (forcedBits.size() > k) throw new BadInputException("option forced bits: " + forcedBits.size() + " scales given for a " + k + "-scale schedule");
        for (int s = 0; s < forcedBits.size(); s++) {
            byte[] b = forcedBits.get(s);
            ScaleSchedules.Grid g = schedule.grid(s);
            if (b == null) throw new BadInputException("option forced bits: scale " + s + " is null");
            if (b.length % g.tokens() != 0) throw new BadInputException("option forced bits: scale " + s + " has " + b.length + " bits, not a multiple of its " + g.tokens() + " tokens");
            for (byte v : b) if (v != 0 && v != 1) throw new BadInputException("option forced bits: scale " + s + " holds a value other than 0 or 1: " + v);
        }
    }

    private static double[] perScale(String name, double[] v, int k) {
        if (v == null || v.length == 0) throw new BadInputException("option " + name + ": required");
        if (v.length == 1) { double[] o = new double[k]; Arrays.fill(o, v[0]); return o; }
        if (v.length != k) throw new BadInputException("option " + name + ": " + v.length + " values for a " + k + "-scale schedule (give 1 or " + k + ")");
        return v.clone();
    }

    /** Whether the uncond half runs (any scale with cfg ≠ 1). */
    public boolean usesCfg() {
        for (double c : cfg) if (c != 1) return true;
        return false;
    }

    @Override public double[] cfg() { return cfg.clone(); }
    @Override public double[] tau() { return tau.clone(); }

    public static Builder builder(ScaleSchedules.Schedule schedule) { return new Builder(schedule); }

    /** Defaults: cfg 3, τ 0.5 (the 2B notebook), top_k 900, top_p 0.97, seed 0, nothing forced. */
    public static final class Builder {
        private final ScaleSchedules.Schedule schedule;
        private double[] cfg = {3}, tau = {0.5};
        private int topK = DEFAULT_TOP_K;
        private double topP = DEFAULT_TOP_P;
        private long seed;
        private List<byte[]> forced = new ArrayList<>();

        private Builder(ScaleSchedules.Schedule schedule) { this.schedule = schedule; }

        public Builder cfg(double... perScale) { this.cfg = perScale.clone(); return this; }
        public Builder tau(double... perScale) { this.tau = perScale.clone(); return this; }
        public Builder topK(int k) { this.topK = k; return this; }
        public Builder topP(double p) { this.topP = p; return this; }
        public Builder seed(long s) { this.seed = s; return this; }
        public Builder forcedBits(List<byte[]> bits) { this.forced = new ArrayList<>(bits); return this; }
        public GenerationOptions build() { return new GenerationOptions(schedule, cfg, tau, topK, topP, seed, forced); }
    }
}
