package dev.infinityj.model;

import dev.infinityj.BadInputException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * THE home of scale schedules (spec §4.1, infinity/utils/dynamic_resolution.py): 15 aspect-ratio
 * templates × 4 pixel budgets. A schedule is the first 7, 10, 12 or 13 grids of its template's
 * 13-grid list; the output image is exactly (h_last·16, w_last·16) pixels.
 */
public final class ScaleSchedules {
    private ScaleSchedules() {}

    /** Latent pixels per token side (VAE patch 16). */
    public static final int PATCH = 16;

    /** Template keys in dict insertion order: argmin |key − h/w| keeps the FIRST minimum. */
    public static final double[] TEMPLATES = {1.0, 1.25, 0.8, 1.333, 0.75, 1.5, 0.666, 1.75, 0.571, 2.0, 0.5, 2.5, 0.4, 3.0, 0.333};

    /** 13 grids (h, w) per template, same order as {@link #TEMPLATES}; copied from the spec's table. */
    private static final int[][][] GRIDS = {
            {{1, 1}, {2, 2}, {4, 4}, {6, 6}, {8, 8}, {12, 12}, {16, 16}, {20, 20}, {24, 24}, {32, 32}, {40, 40}, {48, 48}, {64, 64}},
            {{1, 1}, {2, 2}, {3, 3}, {5, 4}, {10, 8}, {15, 12}, {20, 16}, {25, 20}, {30, 24}, {35, 28}, {45, 36}, {55, 44}, {70, 56}},
            {{1, 1}, {2, 2}, {3, 3}, {4, 5}, {8, 10}, {12, 15}, {16, 20}, {20, 25}, {24, 30}, {28, 35}, {36, 45}, {44, 55}, {56, 70}},
            {{1, 1}, {2, 2}, {4, 3}, {8, 6}, {12, 9}, {16, 12}, {20, 15}, {24, 18}, {28, 21}, {36, 27}, {48, 36}, {60, 45}, {72, 54}},
            {{1, 1}, {2, 2}, {3, 4}, {6, 8}, {9, 12}, {12, 16}, {15, 20}, {18, 24}, {21, 28}, {27, 36}, {36, 48}, {45, 60}, {54, 72}},
            {{1, 1}, {2, 2}, {3, 2}, {6, 4}, {9, 6}, {15, 10}, {21, 14}, {27, 18}, {33, 22}, {39, 26}, {48, 32}, {63, 42}, {78, 52}},
            {{1, 1}, {2, 2}, {2, 3}, {4, 6}, {6, 9}, {10, 15}, {14, 21}, {18, 27}, {22, 33}, {26, 39}, {32, 48}, {42, 63}, {52, 78}},
            {{1, 1}, {2, 2}, {3, 3}, {7, 4}, {11, 6}, {14, 8}, {21, 12}, {28, 16}, {35, 20}, {42, 24}, {56, 32}, {70, 40}, {84, 48}},
            {{1, 1}, {2, 2}, {3, 3}, {4, 7}, {6, 11}, {8, 14}, {12, 21}, {16, 28}, {20, 35}, {24, 42}, {32, 56}, {40, 70}, {48, 84}},
            {{1, 1}, {2, 2}, {4, 2}, {6, 3}, {10, 5}, {16, 8}, {22, 11}, {30, 15}, {38, 19}, {46, 23}, {60, 30}, {74, 37}, {90, 45}},
            {{1, 1}, {2, 2}, {2, 4}, {3, 6}, {5, 10}, {8, 16}, {11, 22}, {15, 30}, {19, 38}, {23, 46}, {30, 60}, {37, 74}, {45, 90}},
            {{1, 1}, {2, 2}, {5, 2}, {10, 4}, {15, 6}, {20, 8}, {25, 10}, {30, 12}, {40, 16}, {50, 20}, {65, 26}, {80, 32}, {100, 40}},
            {{1, 1}, {2, 2}, {2, 5}, {4, 10}, {6, 15}, {8, 20}, {10, 25}, {12, 30}, {16, 40}, {20, 50}, {26, 65}, {32, 80}, {40, 100}},
            {{1, 1}, {2, 2}, {6, 2}, {9, 3}, {15, 5}, {21, 7}, {27, 9}, {36, 12}, {45, 15}, {54, 18}, {72, 24}, {90, 30}, {111, 37}},
            {{1, 1}, {2, 2}, {2, 6}, {3, 9}, {5, 15}, {7, 21}, {9, 27}, {12, 36}, {15, 45}, {18, 54}, {24, 72}, {30, 90}, {37, 111}},
    };

    /** Pixel budgets: how many of the 13 grids each takes. */
    public enum PixelBudget {
        P0_06M("0.06M", 7), P0_25M("0.25M", 10), P0_60M("0.60M", 12), P1M("1M", 13);

        public final String label;
        public final int scales;

        PixelBudget(String label, int scales) { this.label = label; this.scales = scales; }

        public static PixelBudget parse(String s) {
            for (PixelBudget p : values()) if (p.label.equalsIgnoreCase(s.trim())) return p;
            throw new BadInputException("unknown pixel budget (pn) '" + s + "' (expected one of 0.06M, 0.25M, 0.60M, 1M)");
        }
    }

    /** One token grid. */
    public record Grid(int h, int w) {
        public int tokens() { return h * w; }
    }

    /**
     * A schedule: its template key, budget and grids. {@code offsets[k]} is the running token offset
     * of scale k (RoPE and KV-cache rows).
     */
    public record Schedule(double template, PixelBudget budget, List<Grid> grids) {
        public Schedule { grids = List.copyOf(grids); }
        public int scales() { return grids.size(); }
        public Grid grid(int k) { return grids.get(k); }
        public Grid last() { return grids.getLast(); }
        public int totalTokens() { int n = 0; for (Grid g : grids) n += g.tokens(); return n; }
        public int offset(int k) { int n = 0; for (int i = 0; i < k; i++) n += grids.get(i).tokens(); return n; }
        /** Image height in pixels. */
        public int pixelHeight() { return last().h() * PATCH; }
        public int pixelWidth() { return last().w() * PATCH; }
        /** The same template's 1M schedule (RoPE positions are normalised by its last grid). */
        public Schedule full() { return ScaleSchedules.schedule(templateIndex(template), PixelBudget.P1M); }
    }

    public static int templateIndex(double template) {
        for (int i = 0; i < TEMPLATES.length; i++) if (TEMPLATES[i] == template) return i;
        throw new BadInputException("no aspect-ratio template " + template + " (templates: " + templatesString() + ")");
    }

    private static String templatesString() {
        StringBuilder b = new StringBuilder();
        for (double t : TEMPLATES) b.append(b.isEmpty() ? "" : ", ").append(t);
        return b.toString();
    }

    /** The template for a requested h/w ratio: argmin |template − hDivW|, first minimum wins. */
    public static double templateFor(double hDivW) {
        if (!(hDivW > 0) || Double.isInfinite(hDivW)) throw new BadInputException("aspect ratio h/w must be a positive number, got " + hDivW);
        int best = 0;
        for (int i = 1; i < TEMPLATES.length; i++)
            if (Math.abs(TEMPLATES[i] - hDivW) < Math.abs(TEMPLATES[best] - hDivW)) best = i;
        return TEMPLATES[best];
    }

    /** The schedule for a requested h/w ratio and pixel budget. */
    public static Schedule forAspect(double hDivW, PixelBudget budget) {
        return schedule(templateIndex(templateFor(hDivW)), budget);
    }

    public static Schedule forAspect(double hDivW, String pn) { return forAspect(hDivW, PixelBudget.parse(pn)); }

    static Schedule schedule(int templateIndex, PixelBudget budget) {
        List<Grid> g = new ArrayList<>();
        for (int k = 0; k < budget.scales; k++) g.add(new Grid(GRIDS[templateIndex][k][0], GRIDS[templateIndex][k][1]));
        return new Schedule(TEMPLATES[templateIndex], budget, g);
    }

    /** Every template's schedule for one budget, in template order. */
    public static List<Schedule> all(PixelBudget budget) {
        List<Schedule> out = new ArrayList<>();
        for (int i = 0; i < TEMPLATES.length; i++) out.add(schedule(i, budget));
        return Collections.unmodifiableList(out);
    }

    /** A schedule given explicitly (e.g. from a fixture); its template is found by its grids' 1M table. */
    public static Schedule of(List<Grid> grids) {
        for (int i = 0; i < TEMPLATES.length; i++)
            for (PixelBudget b : PixelBudget.values())
                if (schedule(i, b).grids().equals(grids)) return schedule(i, b);
        throw new BadInputException("scale schedule " + grids + " is not a prefix schedule of any aspect-ratio template");
    }

    public static String describe(Schedule s) {
        return String.format(Locale.ROOT, "template %s, %s: %d scales, %dx%d px, %d tokens", s.template(), s.budget().label,
                s.scales(), s.pixelHeight(), s.pixelWidth(), s.totalTokens());
    }
}
