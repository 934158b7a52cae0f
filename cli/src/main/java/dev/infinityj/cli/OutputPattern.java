package dev.infinityj.cli;

import dev.infinityj.BadInputException;

import java.nio.file.Path;
import java.text.Normalizer;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code --out} pattern: a path with placeholders {@code {seed}}, {@code {index}} (0-based
 * image index over the whole run, optionally zero-padded as {@code {index:04}}) and
 * {@code {prompt_slug}} (the prompt folded to lower-case ASCII words joined by '-', at most 48
 * characters). Unknown placeholders are rejected up front so no run dies after its first image.
 */
public record OutputPattern(String pattern) {
    private static final Pattern TOKEN = Pattern.compile("\\{([a-z_]+)(?::(0\\d+))?}");

    public OutputPattern {
        Matcher m = TOKEN.matcher(pattern);
        while (m.find()) {
            String t = m.group(1);
            if (!t.equals("seed") && !t.equals("index") && !t.equals("prompt_slug"))
                throw new BadInputException("--out: unknown placeholder {" + t + "} (expected {seed}, {index}, {index:04} or {prompt_slug})");
        }
        String stripped = TOKEN.matcher(pattern).replaceAll("");
        if (stripped.contains("{") || stripped.contains("}"))
            throw new BadInputException("--out: unbalanced '{' or '}' in '" + pattern + "'");
        if (!pattern.toLowerCase(Locale.ROOT).endsWith(".png"))
            throw new BadInputException("--out: '" + pattern + "' must end in .png (infinityj writes PNG)");
    }

    /** True when two images of one run can map to the same path (no {index} and no {seed}). */
    public boolean collides() { return !pattern.contains("{index") && !pattern.contains("{seed}"); }

    public Path resolve(long seed, int index, String prompt) {
        Matcher m = TOKEN.matcher(pattern);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String rep = switch (m.group(1)) {
                case "seed" -> Long.toString(seed);
                case "index" -> m.group(2) == null ? Integer.toString(index)
                        : String.format("%0" + Integer.parseInt(m.group(2)) + "d", index);
                default -> slug(prompt);
            };
            m.appendReplacement(b, Matcher.quoteReplacement(rep));
        }
        m.appendTail(b);
        return Path.of(b.toString());
    }

    public static String slug(String prompt) {
        String ascii = Normalizer.normalize(prompt == null ? "" : prompt, Normalizer.Form.NFKD).replaceAll("\\p{M}+", "");
        String s = ascii.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-+|-+$", "");
        if (s.length() > 48) s = s.substring(0, 48).replaceAll("-+$", "");
        return s.isEmpty() ? "untitled" : s;
    }
}
