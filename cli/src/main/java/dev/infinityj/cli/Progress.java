package dev.infinityj.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * Per-scale progress on stderr: a redrawn bar when stderr is a terminal, one plain line per
 * scale otherwise (logs, CI), nothing with --quiet or --json.
 */
public final class Progress {
    public enum Mode { BAR, LINES, QUIET }

    public Mode mode() { return mode; }

    private final PrintWriter err;
    private final Mode mode;
    private final int width = 28;

    public Progress(PrintStream err, Mode mode) { this(new PrintWriter(err, true), mode); }

    public Progress(PrintWriter err, Mode mode) {
        this.err = err;
        this.mode = mode;
    }

    /** BAR on a console, LINES when stderr is redirected, QUIET when asked. */
    public static Mode detect(boolean quiet) {
        if (quiet) return Mode.QUIET;
        return System.console() != null && System.console().isTerminal() ? Mode.BAR : Mode.LINES;
    }

    public void message(String s) {
        if (mode == Mode.QUIET) return;
        if (mode == Mode.BAR) err.print("\r\033[K");
        err.println(s);
        err.flush();
    }

    /** Scale {@code si} (0-based) of {@code scales} done, grid h×w, in {@code ms}. */
    public void scale(String label, int si, int scales, int h, int w, double ms) {
        switch (mode) {
            case QUIET -> { }
            case LINES -> { err.printf(Locale.ROOT, "%s scale %2d/%d  %3dx%-3d  %8.1f ms%n", label, si + 1, scales, h, w, ms); err.flush(); }
            case BAR -> {
                int filled = (int) Math.round(width * (si + 1) / (double) scales);
                err.printf(Locale.ROOT, "\r\033[K%s [%s%s] %d/%d  %dx%d  %.0f ms", label,
                        "#".repeat(filled), ".".repeat(width - filled), si + 1, scales, h, w, ms);
                if (si + 1 == scales) err.println();
                err.flush();
            }
        }
    }
}
