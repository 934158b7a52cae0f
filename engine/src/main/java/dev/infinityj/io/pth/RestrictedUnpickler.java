package dev.infinityj.io.pth;

import dev.infinityj.WeightFormatException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A restricted pickle interpreter (protocols 0..5 opcodes that state dicts use) which builds plain
 * Java values: {@code null}, Boolean, Long, Double, String, byte[], {@link PyTuple},
 * {@code List<Object>}, {@code Map<Object,Object>} (insertion-ordered) and {@link Tensor}.
 * <p>
 * Nothing is ever called: GLOBAL resolves only a fixed allow-list of names (tensor rebuild
 * functions, storage types, OrderedDict), REDUCE only interprets those, and any other global,
 * opcode or object construction is refused with a one-line {@link WeightFormatException}.
 */
final class RestrictedUnpickler {
    /** A Python tuple (distinct from a list only for error messages and argument checks). */
    record PyTuple(List<Object> items) {
        Object get(int i) { return items.get(i); }
        int size() { return items.size(); }
    }

    /** A resolved, allowed global. */
    private record PyGlobal(String module, String name) {
        String qualified() { return module + "." + name; }
    }

    /** A storage resolved from a persistent id: typed bytes of {@code numel} elements. */
    private record Storage(DType dtype, String key, MemorySegment bytes, long numel) {}

    /** Supplies the bytes of storage {@code key} (the archive entry data/&lt;key&gt;). */
    interface StorageResolver {
        MemorySegment bytes(String key);
    }

    private static final Map<String, DType> STORAGE_TYPES = Map.ofEntries(
            Map.entry("FloatStorage", DType.F32), Map.entry("DoubleStorage", DType.F64),
            Map.entry("HalfStorage", DType.F16), Map.entry("BFloat16Storage", DType.BF16),
            Map.entry("LongStorage", DType.I64), Map.entry("IntStorage", DType.I32),
            Map.entry("ShortStorage", DType.I16), Map.entry("CharStorage", DType.I8),
            Map.entry("ByteStorage", DType.U8), Map.entry("BoolStorage", DType.BOOL));

    private static final java.util.Set<String> CALLABLES = java.util.Set.of(
            "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
            "torch._utils._rebuild_parameter");

    private static final Object MARK = new Object();
    private static final int MAX_MEMO = 50_000_000;

    private final String where;
    private final MemorySegment in;
    private final StorageResolver storages;
    private final Map<String, Storage> storageCache = new HashMap<>();
    private long pos;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private RestrictedUnpickler(String where, MemorySegment in, StorageResolver storages) {
        this.where = where;
        this.in = in;
        this.storages = storages;
    }

    /** Interprets {@code pickle} up to STOP; {@code where} names the file (and entry) in errors. */
    static Object load(String where, MemorySegment pickle, StorageResolver storages) {
        return new RestrictedUnpickler(where, pickle, storages).run();
    }

    private WeightFormatException refuse(String what) {
        return new WeightFormatException(where + ": " + what);
    }

    private Object run() {
        while (true) {
            long at = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { int proto = u8(); if (proto > 5) throw refuse("unsupported pickle protocol " + proto); } // PROTO
                case 0x95 -> pos += 8; // FRAME: length is advisory
                case '.' -> { // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) throw refuse("malformed pickle: STOP with " + stack.size() + " values on the stack");
                    return stack.get(0);
                }
                case '(' -> { marks.add(stack.size()); }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) in.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), need(4)));
                case 'K' -> push((long) u8());
                case 'M' -> { long p = need(2); push((long) (in.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), p) & 0xffff)); }
                case 0x8a -> push(longN(u8())); // LONG1
                case 0x8b -> push(longN(len32())); // LONG4
                case 'I' -> { // INT (protocol 0 text)
                    String s = line();
                    if (s.equals("01")) push(Boolean.TRUE); else if (s.equals("00")) push(Boolean.FALSE);
                    else try { push(Long.parseLong(s)); } catch (NumberFormatException e) { throw refuse("malformed INT '" + s + "' in pickle"); }
                }
                case 'L' -> { // LONG (protocol 0 text)
                    String s = line();
                    if (s.endsWith("L")) s = s.substring(0, s.length() - 1);
                    try { push(Long.parseLong(s)); } catch (NumberFormatException e) { throw refuse("integer '" + s + "' in pickle does not fit 64 bits"); }
                }
                case 'G' -> push(in.get(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), need(8))); // BINFLOAT
                case 'F' -> { String s = line(); try { push(Double.parseDouble(s)); } catch (NumberFormatException e) { throw refuse("malformed FLOAT '" + s + "' in pickle"); } }
                case 'X' -> push(utf8(len32())); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(len64())); // BINUNICODE8
                case 'T' -> push(utf8(len32())); // BINSTRING (py2 str)
                case 'U' -> push(utf8(u8())); // SHORT_BINSTRING
                case 'B' -> push(bytes(len32())); // BINBYTES
                case 'C' -> push(bytes(u8())); // SHORT_BINBYTES
                case 0x8e -> push(bytes(len64())); // BINBYTES8
                case 0x96 -> push(bytes(len64())); // BYTEARRAY8
                case '}' -> push(new LinkedHashMap<>());
                case ']' -> push(new ArrayList<>());
                case ')' -> push(new PyTuple(List.of()));
                case 't' -> push(new PyTuple(popMark()));
                case 0x85 -> push(new PyTuple(List.of(pop()))); // TUPLE1
                case 0x86 -> { Object b = pop(), a = pop(); push(new PyTuple(listOf(a, b))); } // TUPLE2
                case 0x87 -> { Object c = pop(), b = pop(), a = pop(); push(new PyTuple(listOf(a, b, c))); } // TUPLE3
                case 'l' -> push(new ArrayList<>(popMark())); // LIST
                case 'd' -> { // DICT
                    List<Object> kv = popMark();
                    Map<Object, Object> m = new LinkedHashMap<>();
                    putAll(m, kv);
                    push(m);
                }
                case 'a' -> { Object v = pop(); list(peek(), "APPEND").add(v); } // APPEND
                case 'e' -> { List<Object> vs = popMark(); list(peek(), "APPENDS").addAll(vs); } // APPENDS
                case 's' -> { Object v = pop(), k = pop(); dict(peek(), "SETITEM").put(key(k), v); } // SETITEM
                case 'u' -> { List<Object> kv = popMark(); putAll(dict(peek(), "SETITEMS"), kv); } // SETITEMS
                case 'p' -> memoPut(parseMemoIndex(line()));  // PUT
                case 'q' -> memoPut(u8()); // BINPUT
                case 'r' -> memoPut(len32()); // LONG_BINPUT
                case 0x94 -> memoPut(memo.size()); // MEMOIZE
                case 'g' -> memoGet(parseMemoIndex(line())); // GET
                case 'h' -> memoGet(u8()); // BINGET
                case 'j' -> memoGet(len32()); // LONG_BINGET
                case 'c' -> { // GLOBAL
                    String module = line(), name = line();
                    push(global(module, name));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) throw refuse("malformed STACK_GLOBAL in pickle");
                    push(global(m, n));
                }
                case 'Q' -> push(persistentLoad(pop())); // BINPERSID
                case 'R' -> { Object args = pop(), fn = pop(); push(reduce(fn, args)); } // REDUCE
                case 'b' -> { Object state = pop(); build(peek(), state); } // BUILD
                default -> throw refuse("refused pickle opcode " + opName(op) + " at byte " + at
                        + " (only the opcodes of tensor state dicts are interpreted)");
            }
        }
    }

    // ------------------------------------------------------------------ globals and calls

    private Object global(String module, String name) {
        String q = module + "." + name;
        if (module.equals("torch") && STORAGE_TYPES.containsKey(name)) return new PyGlobal(module, name);
        if (CALLABLES.contains(q)) return new PyGlobal(module, name);
        throw refuse("refused pickle global '" + q.replace("\n", " ") + "' (only tensor state dict globals are allowed: "
                + "torch._utils._rebuild_tensor_v2/_rebuild_tensor/_rebuild_parameter, torch.*Storage, collections.OrderedDict)");
    }

    private Object reduce(Object fn, Object argsObj) {
        if (!(fn instanceof PyGlobal g) || !CALLABLES.contains(g.qualified()))
            throw refuse("refused pickle REDUCE on " + describe(fn) + " (only tensor rebuild functions and OrderedDict may be called)");
        if (!(argsObj instanceof PyTuple args)) throw refuse("malformed REDUCE arguments for " + g.qualified());
        return switch (g.qualified()) {
            case "collections.OrderedDict" -> {
                Map<Object, Object> m = new LinkedHashMap<>();
                if (args.size() == 1 && args.get(0) instanceof List<?> pairs) {
                    for (Object p : pairs) {
                        if (!(p instanceof PyTuple t) || t.size() != 2) throw refuse("malformed OrderedDict items");
                        m.put(key(t.get(0)), t.get(1));
                    }
                } else if (args.size() != 0) throw refuse("malformed OrderedDict arguments");
                yield m;
            }
            case "torch._utils._rebuild_tensor_v2" -> {
                if (args.size() < 4 || args.size() > 7) throw refuse("malformed _rebuild_tensor_v2 call with " + args.size() + " arguments");
                yield rebuildTensor(args);
            }
            case "torch._utils._rebuild_tensor" -> {
                if (args.size() != 4) throw refuse("malformed _rebuild_tensor call with " + args.size() + " arguments");
                yield rebuildTensor(args);
            }
            case "torch._utils._rebuild_parameter" -> {
                if (args.size() < 1 || !(args.get(0) instanceof Tensor t)) throw refuse("malformed _rebuild_parameter call");
                yield t;
            }
            default -> throw new AssertionError(g);
        };
    }

    /** storage, storage_offset, size, stride: a strided zero-copy view, bounds-checked against the storage. */
    private Tensor rebuildTensor(PyTuple args) {
        if (!(args.get(0) instanceof Storage st)) throw refuse("_rebuild_tensor: first argument is not a storage");
        long offset = integer(args.get(1), "storage offset");
        long[] size = ints(args.get(2), "size");
        long[] stride = ints(args.get(3), "stride");
        if (size.length != stride.length) throw refuse("tensor on storage " + st.key + ": size rank " + size.length + " != stride rank " + stride.length);
        if (offset < 0) throw refuse("tensor on storage " + st.key + ": negative storage offset " + offset);
        long last = offset; // index of the furthest element
        boolean empty = false;
        for (int i = 0; i < size.length; i++) {
            if (size[i] < 0 || stride[i] < 0) throw refuse("tensor on storage " + st.key + ": negative size or stride");
            if (size[i] == 0) empty = true;
        }
        if (!empty) {
            try {
                for (int i = 0; i < size.length; i++) last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
            } catch (ArithmeticException e) { throw refuse("tensor on storage " + st.key + ": size/stride overflow"); }
            if (last >= st.numel)
                throw refuse("tensor on storage " + st.key + " reaches element " + last + " but the storage holds " + st.numel
                        + " elements (offset " + offset + ", size " + java.util.Arrays.toString(size) + ", stride " + java.util.Arrays.toString(stride) + ")");
        } else if (offset > st.numel) throw refuse("tensor on storage " + st.key + ": offset " + offset + " beyond the storage of " + st.numel);
        return new Tensor(st.dtype, st.bytes, offset, size, stride);
    }

    private Object persistentLoad(Object pid) {
        if (!(pid instanceof PyTuple t) || t.size() != 5 || !"storage".equals(t.get(0)))
            throw refuse("refused persistent id " + describe(pid) + " (expected ('storage', type, key, location, numel))");
        if (!(t.get(1) instanceof PyGlobal g) || !STORAGE_TYPES.containsKey(g.name()))
            throw refuse("persistent id with an unknown storage type " + describe(t.get(1)));
        if (!(t.get(2) instanceof String key)) throw refuse("persistent id with a non-string storage key");
        long numel = integer(t.get(4), "storage size");
        DType dtype = STORAGE_TYPES.get(g.name());
        Storage cached = storageCache.get(key);
        if (cached != null) {
            if (cached.dtype != dtype || cached.numel != numel) throw refuse("storage " + key + " is referenced with two different types or sizes");
            return cached;
        }
        MemorySegment bytes = storages.bytes(key);
        long need;
        try { need = Math.multiplyExact(numel, dtype.byteSize()); }
        catch (ArithmeticException e) { throw refuse("storage " + key + " size overflows"); }
        if (numel < 0 || bytes.byteSize() != need)
            throw refuse("storage data/" + key + " holds " + bytes.byteSize() + " bytes but the pickle claims " + numel + " " + dtype + " elements (" + need + " bytes)");
        Storage s = new Storage(dtype, key, bytes, numel);
        storageCache.put(key, s);
        return s;
    }

    private void build(Object target, Object state) {
        // OrderedDict state dicts carry their `_metadata` (module versions) as instance state: ignore it.
        if (target instanceof Map<?, ?> && (state instanceof Map<?, ?> || state == null
                || (state instanceof PyTuple pt && pt.items().stream().allMatch(x -> x == null || x instanceof Map<?, ?>)))) return;
        throw refuse("refused pickle BUILD on " + describe(target));
    }

    // ------------------------------------------------------------------ helpers

    private static String describe(Object o) {
        if (o instanceof PyGlobal g) return "'" + g.qualified() + "'";
        if (o == null) return "None";
        if (o instanceof Tensor) return "a tensor";
        if (o instanceof Storage) return "a storage";
        if (o instanceof PyTuple) return "a tuple";
        if (o instanceof List<?>) return "a list";
        if (o instanceof Map<?, ?>) return "a dict";
        return "a " + o.getClass().getSimpleName();
    }

    private long integer(Object o, String what) {
        if (o instanceof Long l) return l;
        throw refuse("tensor " + what + " is not an integer: " + describe(o));
    }

    private long[] ints(Object o, String what) {
        if (!(o instanceof PyTuple t)) throw refuse("tensor " + what + " is not a tuple: " + describe(o));
        long[] r = new long[t.size()];
        for (int i = 0; i < r.length; i++) r[i] = integer(t.get(i), what);
        return r;
    }

    private Object key(Object k) {
        if (k == null || k instanceof String || k instanceof Long || k instanceof Boolean || k instanceof Double || k instanceof PyTuple) return k;
        throw refuse("unhashable or unsupported dict key: " + describe(k));
    }

    private void putAll(Map<Object, Object> m, List<Object> kv) {
        if (kv.size() % 2 != 0) throw refuse("malformed pickle: odd number of dict items");
        for (int i = 0; i < kv.size(); i += 2) m.put(key(kv.get(i)), kv.get(i + 1));
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o, String op) {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw refuse("refused pickle " + op + " on " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o, String op) {
        if (o instanceof LinkedHashMap<?, ?> m) return (Map<Object, Object>) m;
        throw refuse("refused pickle " + op + " on " + describe(o));
    }

    private static List<Object> listOf(Object... xs) {
        List<Object> l = new ArrayList<>(xs.length);
        java.util.Collections.addAll(l, xs);
        return java.util.Collections.unmodifiableList(l);
    }

    private void push(Object o) { stack.add(o); }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw refuse("malformed pickle: stack underflow at byte " + pos);
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw refuse("malformed pickle: stack underflow at byte " + pos);
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw refuse("malformed pickle: no MARK at byte " + pos);
        int m = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(m, stack.size()));
        stack.subList(m, stack.size()).clear();
        return java.util.Collections.unmodifiableList(items);
    }

    private void memoPut(long idx) {
        if (idx < 0 || memo.size() >= MAX_MEMO) throw refuse("malformed pickle: bad memo index " + idx);
        memo.put(idx, peek());
    }

    private void memoGet(long idx) {
        if (!memo.containsKey(idx)) throw refuse("malformed pickle: memo index " + idx + " not defined");
        push(memo.get(idx));
    }

    private long parseMemoIndex(String s) {
        try { return Long.parseLong(s); } catch (NumberFormatException e) { throw refuse("malformed memo index '" + s + "'"); }
    }

    private long need(long n) {
        if (n < 0 || pos + n > in.byteSize()) throw refuse("truncated pickle (needs " + n + " bytes at byte " + pos + " of " + in.byteSize() + ")");
        long p = pos;
        pos += n;
        return p;
    }

    private int u8() { return in.get(ValueLayout.JAVA_BYTE, need(1)) & 0xff; }

    private long len32() { return in.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), need(4)) & 0xffffffffL; }

    private long len64() {
        long n = in.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), need(8));
        if (n < 0) throw refuse("malformed pickle: negative length");
        return n;
    }

    private byte[] bytes(long n) {
        if (n > Integer.MAX_VALUE - 8) throw refuse("pickle string of " + n + " bytes is too long");
        long p = need(n);
        return in.asSlice(p, n).toArray(ValueLayout.JAVA_BYTE);
    }

    private String utf8(long n) { return new String(bytes(n), StandardCharsets.UTF_8); }

    private String line() {
        long start = pos;
        while (true) {
            if (pos >= in.byteSize()) throw refuse("truncated pickle (unterminated line at byte " + start + ")");
            if (in.get(ValueLayout.JAVA_BYTE, pos++) == '\n') break;
            if (pos - start > 4096) throw refuse("malformed pickle: line longer than 4096 bytes at byte " + start);
        }
        return new String(in.asSlice(start, pos - 1 - start).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** LONG1/LONG4: little-endian two's complement; only values that fit a long are accepted. */
    private Long longN(long n) {
        if (n > 8) throw refuse("integer of " + n + " bytes in pickle does not fit 64 bits");
        long p = need(n);
        long v = 0;
        for (int i = (int) n - 1; i >= 0; i--) v = (v << 8) | (in.get(ValueLayout.JAVA_BYTE, p + i) & 0xff);
        if (n > 0 && n < 8 && (in.get(ValueLayout.JAVA_BYTE, p + n - 1) & 0x80) != 0) v -= 1L << (8 * n);
        return v;
    }

    private static String opName(int op) {
        String printable = op >= 0x20 && op < 0x7f ? "'" + (char) op + "' " : "";
        String name = switch (op) {
            case 'i' -> "INST"; case 'o' -> "OBJ"; case 0x81 -> "NEWOBJ"; case 0x92 -> "NEWOBJ_EX";
            case 'P' -> "PERSID"; case 0x82, 0x83, 0x84 -> "EXT"; case 'S' -> "STRING"; case 'V' -> "UNICODE";
            case 0x8f -> "EMPTY_SET"; case 0x90 -> "ADDITEMS"; case 0x91 -> "FROZENSET"; case 0x97 -> "NEXT_BUFFER";
            case 0x98 -> "READONLY_BUFFER";
            default -> "unknown";
        };
        return printable + String.format("0x%02x (%s)", op, name);
    }
}
