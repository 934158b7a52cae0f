package dev.infinityj.text;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The spec §2.1 rule, case by case. */
class PositivePromptTest {
    @Test
    void substringRuleAppendsTheSuffixOnce() {
        String s = ". very smooth faces, good looking faces, face to the camera, perfect facial features";
        assertEquals("a woman reading" + s, PositivePrompt.apply("a woman reading"));
        assertEquals("a humanoid robot" + s, PositivePrompt.apply("a humanoid robot"));   // "human" and "man" are substrings
        assertEquals("reason and logic" + s, PositivePrompt.apply("reason and logic"));   // "son" inside "reason"
        assertEquals("a red car", PositivePrompt.apply("a red car"));
        assertEquals("A MAN", PositivePrompt.apply("A MAN"));                              // case-sensitive, as `in` is
        assertEquals("", PositivePrompt.apply(""));
    }
}
