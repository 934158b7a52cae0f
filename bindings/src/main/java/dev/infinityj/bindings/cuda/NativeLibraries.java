package dev.infinityj.bindings.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/** Helpers shared by the generated binding classes. */
@SuppressWarnings("restricted") // FFM: opening native libraries is the point
public final class NativeLibraries {
    private NativeLibraries() {}

    /**
     * One bound function.
     *
     * @param headerName the name in the header's prototype (what C code calls)
     * @param symbol     the exported symbol the header's #define maps it to (e.g. cuMemAlloc_v2)
     * @param descriptor the FFM descriptor: the return value first (absent for void), then the parameters
     * @param required   loading fails when the library lacks it
     */
    public record Symbol(String headerName, String symbol, FunctionDescriptor descriptor, boolean required) {
        public int parameterCount() { return descriptor.argumentLayouts().size(); }
    }

    /** Thrown when a library is found but lacks a required symbol (too old a driver, a stub, the wrong library). */
    public static final class MissingSymbolException extends RuntimeException {
        public MissingSymbolException(String message) { super(message); }
    }

    static void requireAll(SymbolLookup lookup, List<Symbol> symbols, String what) {
        List<String> missing = new ArrayList<>();
        for (Symbol s : symbols) if (s.required() && lookup.find(s.symbol()).isEmpty()) missing.add(s.symbol());
        if (!missing.isEmpty())
            throw new MissingSymbolException(what + ": the library lacks " + String.join(", ", missing) + " (driver or library too old?)");
    }

    static MethodHandle bind(Linker linker, SymbolLookup lookup, String symbol, FunctionDescriptor d) {
        return lookup.find(symbol).map(a -> linker.downcallHandle(a, d)).orElse(null);
    }

    static UnsupportedOperationException missing(String symbol) {
        return new UnsupportedOperationException("symbol " + symbol + " is not exported by the loaded library");
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("native call failed: " + t, t);
    }
}
