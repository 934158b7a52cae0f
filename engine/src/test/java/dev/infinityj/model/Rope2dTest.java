package dev.infinityj.model;

import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Rope2dTest {

    private static int[] range(int from, int step, int to) {
        int[] r = new int[(to - from) / step + 1];
        for (int i = 0; i < r.length; i++) r[i] = from + i * step;
        return r;
    }

    /** The spec's §3.6 index vectors for 1:1 (U = 64). */
    @Test
    void squarePositionsMatchTheSpec() {
        Map<Integer, int[]> spec = Map.ofEntries(
                Map.entry(1, new int[]{0}),
                Map.entry(2, new int[]{0, 32}),
                Map.entry(4, new int[]{0, 16, 32, 48}),
                Map.entry(6, new int[]{0, 11, 21, 32, 43, 53}),
                Map.entry(8, range(0, 8, 56)),
                Map.entry(12, new int[]{0, 5, 11, 16, 21, 27, 32, 37, 43, 48, 53, 59}),
                Map.entry(16, range(0, 4, 60)),
                Map.entry(20, new int[]{0, 3, 6, 10, 13, 16, 19, 22, 26, 29, 32, 35, 38, 42, 45, 48, 51, 54, 58, 61}),
                Map.entry(24, new int[]{0, 3, 5, 8, 11, 13, 16, 19, 21, 24, 27, 29, 32, 35, 37, 40, 43, 45, 48, 51, 53, 56, 59, 61}),
                Map.entry(32, range(0, 2, 62)),
                Map.entry(40, new int[]{0, 2, 3, 5, 6, 8, 10, 11, 13, 14, 16, 18, 19, 21, 22, 24, 26, 27, 29, 30, 32, 34, 35, 37, 38, 40, 42, 43, 45, 46, 48, 50, 51, 53, 54, 56, 58, 59, 61, 62}),
                Map.entry(48, new int[]{0, 1, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 19, 20, 21, 23, 24, 25, 27, 28, 29, 31, 32, 33, 35, 36, 37, 39, 40, 41, 43, 44, 45, 47, 48, 49, 51, 52, 53, 55, 56, 57, 59, 60, 61, 63}),
                Map.entry(64, range(0, 1, 63)));
        for (var e : spec.entrySet()) assertArrayEquals(e.getValue(), Rope2d.positions(e.getKey(), 64), "n = " + e.getKey());
    }

    @Test
    void tiesRoundHalfToEven() {
        // template 1.5, 1M last grid 78×52; scale 48×32: column 4 → 4·(52/32) = 6.5 → 6
        assertEquals(6, Rope2d.positions(32, 52)[4]);
        // and 6.5 is exact in fp32, so plain Math.round would give 7: the tie really occurs
        assertEquals(6.5f, 4f * (float) (52.0 / 32));
    }

    /** The official table slice recorded in each fixture (rope.cos_sin [2, total, hd/2]). */
    @Test
    void tablesMatchTheFixtures() {
        for (String name : new String[]{"infinity-tiny-a", "infinity-tiny-b", "infinity-tiny-bf16"}) {
            var dir = Fixtures.dir(name);
            InfinityConfig c = InfinityConfig.fromJson(dir.resolve("config.json"));
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
                long[] s = f.get("input.scale_schedule").toLongArray();
                var grids = new java.util.ArrayList<ScaleSchedules.Grid>();
                for (int i = 0; i < s.length / 3; i++) grids.add(new ScaleSchedules.Grid((int) s[3 * i + 1], (int) s[3 * i + 2]));
                Rope2d rope = new Rope2d(ScaleSchedules.of(grids), c.headDim());
                float[] ref = f.get("rope.cos_sin").toFloatArray();
                float[] cos = rope.cosTable(), sin = rope.sinTable();
                assertEquals(ref.length, cos.length + sin.length, name);
                double max = 0;
                for (int i = 0; i < cos.length; i++) {
                    max = Math.max(max, Math.abs(cos[i] - ref[i]));
                    max = Math.max(max, Math.abs(sin[i] - ref[cos.length + i]));
                }
                assertTrue(max < 1e-6, name + ": max |diff| " + max);
            }
        }
    }
}
