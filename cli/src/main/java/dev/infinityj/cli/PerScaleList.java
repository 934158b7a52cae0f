package dev.infinityj.cli;

import dev.infinityj.BadInputException;

import java.util.Arrays;

/**
 * A value given once or per scale: "3" or "3,3,3.5,4". Checked against the schedule's scale
 * count once it is known, with an error naming the option.
 */
public record PerScaleList(String option, double[] values) {

    public static PerScaleList parse(String option, String text) {
        String[] parts = text.split(",");
        double[] v = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try { v[i] = Double.parseDouble(parts[i].trim()); }
            catch (NumberFormatException e) {
                throw new BadInputException(option + ": '" + parts[i].trim() + "' is not a number (expected one value or a comma-separated per-scale list)");
            }
            if (!Double.isFinite(v[i])) throw new BadInputException(option + ": values must be finite, got " + parts[i].trim());
        }
        return new PerScaleList(option, v);
    }

    /** The values expanded to {@code scales} entries (a single value is broadcast). */
    public double[] expand(int scales) {
        if (values.length == 1) { double[] o = new double[scales]; Arrays.fill(o, values[0]); return o; }
        if (values.length != scales)
            throw new BadInputException(option + ": got " + values.length + " values but the schedule has " + scales + " scales (give one value or exactly " + scales + ")");
        return values.clone();
    }

    /** Every value must lie in [min, max] (inclusive where the flags say so). */
    public PerScaleList requireRange(double min, boolean minInclusive, double max) {
        for (double v : values)
            if (v > max || (minInclusive ? v < min : v <= min))
                throw new BadInputException(option + ": " + v + " is out of range (expected " + (minInclusive ? "[" : "(") + min + ", " + max + "])");
        return this;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (double v : values) { if (!b.isEmpty()) b.append(','); b.append(v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v)); }
        return b.toString();
    }
}
