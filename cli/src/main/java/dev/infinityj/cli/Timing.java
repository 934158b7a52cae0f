package dev.infinityj.cli;

import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.pipeline.Pipeline;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Per-stage timing rows of one generation: the summary {@code generate} prints and the rows {@code bench} aggregates. */
final class Timing {
    private Timing() {}

    /** One stage: its label and wall time in ms. */
    record Row(String stage, double ms) {}

    static List<Row> rows(Pipeline.Timings t, ScaleSchedules.Schedule s) {
        List<Row> r = new ArrayList<>();
        r.add(new Row("tokenizer", t.tokenizeNanos() / 1e6));
        r.add(new Row("T5 encoder", t.textEncodeNanos() / 1e6));
        if (t.initImageNanos() > 0) r.add(new Row("init image (VAE encode + BSQ)", t.initImageNanos() / 1e6));
        r.add(new Row("text conditioning", t.conditionNanos() / 1e6));
        for (int k = 0; k < t.scaleNanos().length; k++) {
            ScaleSchedules.Grid g = s.grid(k);
            r.add(new Row(String.format(Locale.ROOT, "scale %d (%dx%d)", k + 1, g.h(), g.w()), t.scaleNanos()[k] / 1e6));
        }
        r.add(new Row("VAE decode", t.vaeNanos() / 1e6));
        r.add(new Row("total", t.totalNanos() / 1e6));
        return r;
    }

    static String table(Pipeline.Timings t, ScaleSchedules.Schedule s) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-30s %10s%n", "stage", "ms"));
        for (Row r : rows(t, s)) b.append(String.format(Locale.ROOT, "%-30s %10.1f%n", r.stage(), r.ms()));
        return b.toString().stripTrailing();
    }

    static Map<String, Object> toJson(Pipeline.Timings t, ScaleSchedules.Schedule s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokenizer", round(t.tokenizeNanos()));
        m.put("t5", round(t.textEncodeNanos()));
        if (t.initImageNanos() > 0) m.put("init_image", round(t.initImageNanos()));
        m.put("text_conditioning", round(t.conditionNanos()));
        List<Object> sc = new ArrayList<>();
        for (long n : t.scaleNanos()) sc.add(round(n));
        m.put("scales", sc);
        m.put("vae", round(t.vaeNanos()));
        m.put("total", round(t.totalNanos()));
        return m;
    }

    static double round(long nanos) { return Math.round(nanos / 1e4) / 100.0; }
}
