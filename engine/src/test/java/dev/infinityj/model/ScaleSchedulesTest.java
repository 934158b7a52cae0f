package dev.infinityj.model;

import dev.infinityj.BadInputException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScaleSchedulesTest {
    /** Spec §4.1 table columns, per template: {px h, px w, tokens} for 0.06M, 0.25M, 0.60M, 1M (independent of the grid rows). */
    private static final int[][][] SPEC = {
            {{256, 256, 521}, {512, 512, 2521}, {768, 768, 6425}, {1024, 1024, 10521}},
            {{320, 256, 614}, {560, 448, 2814}, {880, 704, 6854}, {1120, 896, 10774}},
            {{256, 320, 614}, {448, 560, 2814}, {704, 880, 6854}, {896, 1120, 10774}},
            {{320, 240, 665}, {576, 432, 2657}, {960, 720, 7085}, {1152, 864, 10973}},
            {{240, 320, 665}, {432, 576, 2657}, {720, 960, 7085}, {864, 1152, 10973}},
            {{336, 224, 533}, {624, 416, 2759}, {1008, 672, 6941}, {1248, 832, 10997}},
            {{224, 336, 533}, {416, 624, 2759}, {672, 1008, 6941}, {832, 1248, 10997}},
            {{336, 192, 472}, {672, 384, 2628}, {1120, 640, 7220}, {1344, 768, 11252}},
            {{192, 336, 472}, {384, 672, 2628}, {640, 1120, 7220}, {768, 1344, 11252}},
            {{352, 176, 451}, {736, 368, 2681}, {1184, 592, 7219}, {1440, 720, 11269}},
            {{176, 352, 451}, {368, 736, 2681}, {592, 1184, 7219}, {720, 1440, 11269}},
            {{400, 160, 555}, {800, 320, 2555}, {1280, 512, 6805}, {1600, 640, 10805}},
            {{160, 400, 555}, {320, 800, 2555}, {512, 1280, 6805}, {640, 1600, 10805}},
            {{432, 144, 509}, {864, 288, 2588}, {1440, 480, 7016}, {1776, 592, 11123}},
            {{144, 432, 509}, {288, 864, 2588}, {480, 1440, 7016}, {592, 1776, 11123}},
    };

    @Test
    void everyTemplateAndBudgetMatchesTheSpecTotals() {
        ScaleSchedules.PixelBudget[] budgets = ScaleSchedules.PixelBudget.values();
        for (int b = 0; b < budgets.length; b++) {
            List<ScaleSchedules.Schedule> all = ScaleSchedules.all(budgets[b]);
            assertEquals(15, all.size());
            for (int t = 0; t < 15; t++) {
                ScaleSchedules.Schedule s = all.get(t);
                String what = s.template() + " " + budgets[b].label;
                assertEquals(budgets[b].scales, s.scales(), what);
                assertEquals(SPEC[t][b][0], s.pixelHeight(), what);
                assertEquals(SPEC[t][b][1], s.pixelWidth(), what);
                assertEquals(SPEC[t][b][2], s.totalTokens(), what);
                assertEquals(new ScaleSchedules.Grid(1, 1), s.grid(0));
                // every budget is a prefix of the template's 1M schedule (RoPE tables are shared)
                assertEquals(s.grids(), s.full().grids().subList(0, s.scales()), what);
            }
        }
    }

    @Test
    void offsetsOfTheSquare1MSchedule() {
        ScaleSchedules.Schedule s = ScaleSchedules.forAspect(1.0, "1M");
        int[] spec = {0, 1, 5, 21, 57, 121, 265, 521, 921, 1497, 2521, 4121, 6425};
        for (int k = 0; k < spec.length; k++) assertEquals(spec[k], s.offset(k));
    }

    @Test
    void templateSelectionIsArgminWithFirstMinimum() {
        assertEquals(1.0, ScaleSchedules.templateFor(1.0));
        assertEquals(1.333, ScaleSchedules.templateFor(1.3));
        assertEquals(0.5, ScaleSchedules.templateFor(0.52));
        assertEquals(3.0, ScaleSchedules.templateFor(10));
        assertEquals(0.333, ScaleSchedules.templateFor(0.01));
        // exactly between 1.0 and 1.25: both at distance 0.125; 1.0 comes first in the dict order
        assertEquals(1.0, ScaleSchedules.templateFor(1.125));
        // between 0.8 (index 2) and 0.75 (index 4): 0.775 is equidistant up to rounding; compute the rule directly
        double r = 0.775, d08 = Math.abs(0.8 - r), d075 = Math.abs(0.75 - r);
        assertEquals(d08 <= d075 ? 0.8 : 0.75, ScaleSchedules.templateFor(r));
        assertEquals(List.of(new ScaleSchedules.Grid(1, 1), new ScaleSchedules.Grid(2, 2), new ScaleSchedules.Grid(4, 3)),
                ScaleSchedules.forAspect(1.4, "0.06M").grids().subList(0, 3));
    }

    @Test
    void badInputsNameTheOption() {
        BadInputException e = assertThrows(BadInputException.class, () -> ScaleSchedules.PixelBudget.parse("2M"));
        assertTrue(e.getMessage().contains("pn"), e.getMessage());
        assertThrows(BadInputException.class, () -> ScaleSchedules.templateFor(0));
        assertThrows(BadInputException.class, () -> ScaleSchedules.templateFor(Double.NaN));
    }
}
