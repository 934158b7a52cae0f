package dev.infinityj.util;

import dev.infinityj.BadInputException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON parser and writer (RFC 8259): objects become insertion-ordered
 * {@code Map<String,Object>}, arrays {@code List<Object>}, numbers {@code Long} when integral
 * and in range else {@code Double}, plus String, Boolean and null. No dependency, depth-limited
 * so a hostile header cannot blow the stack.
 */
public final class Json {
    private static final int MAX_DEPTH = 512;
    private final String s;
    private final String source;
    private int pos;

    private Json(String s, String source) { this.s = s; this.source = source; }

    /** Parses {@code text}; {@code source} names the file in error messages. */
    public static Object parse(String text, String source) {
        Json p = new Json(text, source);
        p.ws();
        Object v = p.value(0);
        p.ws();
        if (p.pos != p.s.length()) throw p.error("trailing characters after the JSON value");
        return v;
    }

    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text, String source) {
        Object o = parse(text, source);
        if (!(o instanceof Map)) throw new BadInputException(source + ": expected a JSON object at the top level");
        return (Map<String, Object>) o;
    }

    private BadInputException error(String what) {
        return new BadInputException(source + ": invalid JSON at offset " + pos + ": " + what);
    }

    private void ws() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++; else break;
        }
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
        if (pos >= s.length()) throw error("unexpected end of input");
        char c = s.charAt(pos);
        switch (c) {
            case '{': return object(depth);
            case '[': return array(depth);
            case '"': return string();
            case 't': literal("true"); return Boolean.TRUE;
            case 'f': literal("false"); return Boolean.FALSE;
            case 'n': literal("null"); return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                throw error("unexpected character '" + c + "'");
        }
    }

    private void literal(String w) {
        if (!s.startsWith(w, pos)) throw error("expected '" + w + "'");
        pos += w.length();
    }

    private Map<String, Object> object(int depth) {
        Map<String, Object> m = new LinkedHashMap<>();
        pos++;
        ws();
        if (pos < s.length() && s.charAt(pos) == '}') { pos++; return m; }
        while (true) {
            ws();
            if (pos >= s.length() || s.charAt(pos) != '"') throw error("expected a string key");
            String k = string();
            ws();
            if (pos >= s.length() || s.charAt(pos) != ':') throw error("expected ':'");
            pos++;
            ws();
            if (m.containsKey(k)) throw error("duplicate key '" + k + "'");
            m.put(k, value(depth + 1));
            ws();
            if (pos >= s.length()) throw error("unterminated object");
            char c = s.charAt(pos++);
            if (c == '}') return m;
            if (c != ',') throw error("expected ',' or '}'");
        }
    }

    private List<Object> array(int depth) {
        List<Object> l = new ArrayList<>();
        pos++;
        ws();
        if (pos < s.length() && s.charAt(pos) == ']') { pos++; return l; }
        while (true) {
            ws();
            l.add(value(depth + 1));
            ws();
            if (pos >= s.length()) throw error("unterminated array");
            char c = s.charAt(pos++);
            if (c == ']') return l;
            if (c != ',') throw error("expected ',' or ']'");
        }
    }

    private String string() {
        pos++;
        StringBuilder b = null;
        int start = pos;
        while (true) {
            if (pos >= s.length()) throw error("unterminated string");
            char c = s.charAt(pos);
            if (c == '"') {
                String r = b == null ? s.substring(start, pos) : b.append(s, start, pos).toString();
                pos++;
                return r;
            }
            if (c < 0x20) throw error("control character in string");
            if (c == '\\') {
                if (b == null) b = new StringBuilder();
                b.append(s, start, pos);
                pos++;
                if (pos >= s.length()) throw error("unterminated escape");
                char e = s.charAt(pos++);
                switch (e) {
                    case '"' -> b.append('"');
                    case '\\' -> b.append('\\');
                    case '/' -> b.append('/');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (pos + 4 > s.length()) throw error("short \\u escape");
                        try { b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16)); }
                        catch (NumberFormatException ex) { throw error("bad \\u escape"); }
                        pos += 4;
                    }
                    default -> throw error("bad escape '\\" + e + "'");
                }
                start = pos;
            } else pos++;
        }
    }

    private Object number() {
        int start = pos;
        if (s.charAt(pos) == '-') pos++;
        boolean integral = true;
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c >= '0' && c <= '9') pos++;
            else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') { integral = false; pos++; }
            else break;
        }
        String t = s.substring(start, pos);
        try {
            if (integral) {
                try { return Long.parseLong(t); } catch (NumberFormatException big) { return Double.parseDouble(t); }
            }
            return Double.parseDouble(t);
        } catch (NumberFormatException ex) {
            throw error("bad number '" + t + "'");
        }
    }

    // ---------------------------------------------------------------- writing

    public static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v, -1, 0);
        return b.toString();
    }

    public static String writePretty(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v, 2, 0);
        return b.append('\n').toString();
    }

    private static void write(StringBuilder b, Object v, int indent, int level) {
        if (v == null) b.append("null");
        else if (v instanceof String str) quote(b, str);
        else if (v instanceof Double d) {
            if (d.isNaN() || d.isInfinite()) b.append("null"); else b.append(d);
        } else if (v instanceof Float f) {
            if (f.isNaN() || f.isInfinite()) b.append("null"); else b.append(f);
        } else if (v instanceof Number || v instanceof Boolean) b.append(v);
        else if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) b.append(',');
                first = false;
                nl(b, indent, level + 1);
                quote(b, String.valueOf(e.getKey()));
                b.append(indent >= 0 ? ": " : ":");
                write(b, e.getValue(), indent, level + 1);
            }
            if (!m.isEmpty()) nl(b, indent, level);
            b.append('}');
        } else if (v instanceof Iterable<?> it) {
            b.append('[');
            boolean first = true;
            for (Object o : it) {
                if (!first) b.append(indent >= 0 ? ", " : ",");
                first = false;
                write(b, o, indent < 0 ? -1 : (o instanceof Map || o instanceof Iterable ? indent : -1), level + 1);
            }
            b.append(']');
        } else if (v instanceof long[] la) {
            List<Object> l = new ArrayList<>();
            for (long x : la) l.add(x);
            write(b, l, indent, level);
        } else if (v instanceof int[] ia) {
            List<Object> l = new ArrayList<>();
            for (int x : ia) l.add((long) x);
            write(b, l, indent, level);
        } else if (v instanceof double[] da) {
            List<Object> l = new ArrayList<>();
            for (double x : da) l.add(x);
            write(b, l, indent, level);
        } else quote(b, v.toString());
    }

    private static void nl(StringBuilder b, int indent, int level) {
        if (indent < 0) return;
        b.append('\n');
        b.append(" ".repeat(indent * level));
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
