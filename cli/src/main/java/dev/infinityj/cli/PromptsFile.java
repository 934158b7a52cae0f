package dev.infinityj.cli;

import dev.infinityj.BadInputException;
import dev.infinityj.util.Json;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code --prompts FILE}: one prompt per line, or JSON Lines where each line is an object with
 * "prompt" and optional per-line options ("negative_prompt", "seed", "cfg", "tau", "top_k",
 * "top_p", "aspect", "pn", "batch", "out"). Blank lines and lines starting with '#' are skipped.
 * Errors name the file and line.
 */
public final class PromptsFile {
    /** Keys a JSONL line may carry besides "prompt". */
    public static final Set<String> OPTION_KEYS = Set.of("negative_prompt", "seed", "cfg", "tau", "top_k", "top_p",
            "aspect", "pn", "batch", "out");

    /** One line: its prompt and the options it overrides (values as strings, parsed like the CLI's). */
    public record Entry(int line, String prompt, Map<String, String> overrides) {}

    private PromptsFile() {}

    public static List<Entry> read(Path file) {
        if (!Files.exists(file)) throw new BadInputException("--prompts " + file + ": file not found");
        if (Files.isDirectory(file)) throw new BadInputException("--prompts " + file + ": is a directory, expected a text or JSONL file");
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new BadInputException("--prompts " + file + ": not valid UTF-8 text");
        } catch (IOException e) {
            throw new BadInputException("--prompts " + file + ": cannot read: " + e.getMessage());
        }
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String raw = lines.get(i).strip();
            if (raw.isEmpty() || raw.startsWith("#")) continue;
            String where = file + ":" + (i + 1);
            if (raw.startsWith("{")) {
                Map<String, Object> obj;
                try { obj = Json.parseObject(raw, where); }
                catch (BadInputException e) { throw new BadInputException("--prompts " + e.getMessage()); }
                if (!(obj.get("prompt") instanceof String p) || p.isBlank())
                    throw new BadInputException("--prompts " + where + ": JSON line needs a non-empty string \"prompt\"");
                Map<String, String> ov = new LinkedHashMap<>();
                for (Map.Entry<String, Object> e : obj.entrySet()) {
                    if (e.getKey().equals("prompt")) continue;
                    if (!OPTION_KEYS.contains(e.getKey()))
                        throw new BadInputException("--prompts " + where + ": unknown key \"" + e.getKey() + "\" (expected prompt, " + String.join(", ", OPTION_KEYS.stream().sorted().toList()) + ")");
                    Object v = e.getValue();
                    String s;
                    if (v instanceof List<?> l) {
                        StringBuilder b = new StringBuilder();
                        for (Object o : l) { if (!b.isEmpty()) b.append(','); b.append(o); }
                        s = b.toString();
                    } else if (v == null) continue;
                    else s = String.valueOf(v);
                    ov.put(e.getKey(), s);
                }
                out.add(new Entry(i + 1, p, ov));
            } else {
                out.add(new Entry(i + 1, raw, Map.of()));
            }
        }
        if (out.isEmpty()) throw new BadInputException("--prompts " + file + ": no prompts in the file");
        return out;
    }
}
