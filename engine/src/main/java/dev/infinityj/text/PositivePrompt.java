package dev.infinityj.text;

import java.util.List;

/**
 * The official optional "positive prompt" augmentation ({@code enable_positive_prompt}, default
 * off; spec §2.1, run_infinity.py:59-65): when any listed word occurs as a case-sensitive
 * SUBSTRING of the prompt (so "human" matches "man"), a fixed suffix is appended once. Never
 * applied to the negative prompt.
 */
public final class PositivePrompt {
    private PositivePrompt() {}

    public static final List<String> WORDS = List.of("man", "woman", "men", "women", "boy", "girl", "child", "person",
            "human", "adult", "teenager", "employee", "employer", "worker", "mother", "father", "sister", "brother",
            "grandmother", "grandfather", "son", "daughter");

    public static final String SUFFIX = ". very smooth faces, good looking faces, face to the camera, perfect facial features";

    public static String apply(String prompt) {
        for (String w : WORDS) if (prompt.contains(w)) return prompt + SUFFIX;
        return prompt;
    }
}
