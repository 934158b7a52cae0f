package dev.infinityj.text;

import java.util.Arrays;
import java.util.HashMap;

/**
 * A byte trie from piece (UTF-8) to id, walked one byte at a time by the Viterbi segmenter (the
 * role of sentencepiece's darts trie over the pieces). Edges live in one hash map keyed by
 * (node, byte); node 0 is the root.
 */
final class PieceTrie {
    private final HashMap<Long, Integer> edges = new HashMap<>();
    private int[] value = new int[64];   // id + 1 at the node where a piece ends, 0 = none
    private int nodes = 1;

    void put(byte[] key, int id) {
        int node = 0;
        for (byte b : key) {
            long e = (long) node << 8 | (b & 0xff);
            Integer next = edges.get(e);
            if (next == null) {
                if (nodes == value.length) value = Arrays.copyOf(value, nodes * 2);
                next = nodes++;
                edges.put(e, next);
            }
            node = next;
        }
        value[node] = id + 1;
    }

    /** The child of {@code node} along byte {@code b}, or -1. */
    int step(int node, byte b) {
        Integer next = edges.get((long) node << 8 | (b & 0xff));
        return next == null ? -1 : next;
    }

    /** The id of the piece ending at {@code node}, or -1. */
    int id(int node) { return value[node] - 1; }

    /** Length of the longest key that is a prefix of s[pos, end), 0 if none. */
    int longestPrefix(byte[] s, int pos, int end) {
        int node = 0, best = 0;
        for (int i = pos; i < end; i++) {
            node = step(node, s[i]);
            if (node < 0) break;
            if (id(node) >= 0) best = i - pos + 1;
        }
        return best;
    }
}
