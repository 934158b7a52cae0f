package dev.infinityj.bindings.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Finds and opens the CUDA libraries at run time. Nothing is linked at build time, so a machine
 * without a GPU, driver or cuBLAS runs everything else; {@link #openDriver} / {@link #openCublas}
 * report a one-line reason instead of failing hard.
 *
 * <p>Search order for each library (first file that exists and opens wins):
 * <ol>
 *   <li>explicit locations: the CLI's {@code --cuda-lib} (files or directories), then the
 *       {@code infinityj.cuda.lib} system property and the {@code INFINITYJ_CUDA_LIB} environment
 *       variable (both path lists separated by ':');</li>
 *   <li>each directory of {@code LD_LIBRARY_PATH};</li>
 *   <li>standard locations: {@link #STANDARD_DIRS} (distribution, container-toolkit, WSL and
 *       /usr/local/cuda directories; never a {@code stubs} directory, whose libcuda is a stub that
 *       only returns CUDA_ERROR_STUB_LIBRARY);</li>
 *   <li>for cuBLAS only, Python's pip layout as PyTorch installs it:
 *       {@code <site-packages>/nvidia/cublas/lib} (CUDA 12 wheels), {@code nvidia/cu13/lib} (CUDA 13
 *       wheels), then any other {@code nvidia/<pkg>/lib}, for every site-packages or dist-packages
 *       directory under $VIRTUAL_ENV, $CONDA_PREFIX, $PYTHONPATH, ~/.local, ~/.pyenv/versions/*,
 *       /usr/local/lib/python3*, /usr/lib/python3*, /opt/conda;</li>
 *   <li>finally the bare soname through the dynamic loader (ld.so.cache), e.g. {@code libcuda.so.1}.</li>
 * </ol>
 * File names tried in each directory: {@link Lib#fileNames}. All path logic takes the environment
 * and a filesystem root as arguments, so tests run it on a fake tree.
 */
@SuppressWarnings("restricted") // FFM: opening native libraries is the point
public final class CudaLibraries {
    private CudaLibraries() {}

    /** The libraries and the file names tried for each, newest first. */
    public enum Lib {
        CUDA("libcuda.so.1", "libcuda.so"),
        CUBLAS("libcublas.so.13", "libcublas.so.12", "libcublas.so"),
        CUBLASLT("libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so");

        private final List<String> fileNames;
        Lib(String... names) { fileNames = List.of(names); }
        public List<String> fileNames() { return fileNames; }
        public boolean pipLayout() { return this != CUDA; }
    }

    public static final List<String> STANDARD_DIRS = List.of(
            "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
            "/lib/x86_64-linux-gnu", "/lib64", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib",
            "/usr/lib/wsl/lib", "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
            "/opt/cuda/lib64");

    /** Where to look: explicit paths (from --cuda-lib), the environment, and the filesystem root ("/" normally). */
    public record Search(List<Path> explicit, Map<String, String> env, String userHome, Path root) {
        public Search {
            explicit = List.copyOf(explicit);
            env = Map.copyOf(env);
        }

        /** The real machine: the given --cuda-lib paths plus the property / environment variable. */
        public static Search system(List<Path> cudaLibOption) {
            List<Path> ex = new ArrayList<>(cudaLibOption);
            String prop = System.getProperty("infinityj.cuda.lib");
            if (prop != null) for (String p : prop.split(":")) if (!p.isBlank()) ex.add(Path.of(p));
            String ev = System.getenv("INFINITYJ_CUDA_LIB");
            if (ev != null) for (String p : ev.split(":")) if (!p.isBlank()) ex.add(Path.of(p));
            return new Search(ex, System.getenv(), System.getProperty("user.home", "/root"), Path.of("/"));
        }

        Path under(String absolute) {
            return root.resolve(absolute.startsWith("/") ? absolute.substring(1) : absolute);
        }
    }

    /** Candidate files in search order (existing files only), without the final bare-soname fallback. */
    public static List<Path> candidates(Lib lib, Search s) {
        Set<Path> out = new LinkedHashSet<>();
        for (Path p : s.explicit()) {
            if (Files.isRegularFile(p)) { if (matches(lib, p)) out.add(p); }
            else if (Files.isDirectory(p)) addFrom(lib, p, out);
        }
        for (Path dir : pathList(s.env().get("LD_LIBRARY_PATH"))) addFrom(lib, dir, out);
        for (String d : STANDARD_DIRS) addFrom(lib, s.under(d), out);
        if (lib.pipLayout()) for (Path sp : sitePackages(s)) for (Path d : pipDirs(sp)) addFrom(lib, d, out);
        return List.copyOf(out);
    }

    private static boolean matches(Lib lib, Path file) {
        String n = file.getFileName().toString();
        return lib.fileNames().contains(n) || lib.fileNames().stream().anyMatch(f -> n.startsWith(f + "."));
    }

    private static void addFrom(Lib lib, Path dir, Set<Path> out) {
        if (dir.getFileName() != null && dir.getFileName().toString().equals("stubs")) return;
        for (String name : lib.fileNames()) {
            Path f = dir.resolve(name);
            if (Files.exists(f)) { out.add(f); return; }
        }
    }

    private static List<Path> pathList(String v) {
        List<Path> l = new ArrayList<>();
        if (v != null) for (String p : v.split(":")) if (!p.isBlank()) l.add(Path.of(p));
        return l;
    }

    /** site-packages / dist-packages directories that exist, in search order. */
    public static List<Path> sitePackages(Search s) {
        Set<Path> out = new LinkedHashSet<>();
        for (String var : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String v = s.env().get(var);
            if (v != null && !v.isBlank()) pythonLibs(Path.of(v).resolve("lib"), out);
        }
        for (Path p : pathList(s.env().get("PYTHONPATH"))) if (Files.isDirectory(p)) out.add(p);
        Path home = s.under(s.userHome());
        pythonLibs(home.resolve(".local/lib"), out);
        for (Path v : list(home.resolve(".pyenv/versions"))) pythonLibs(v.resolve("lib"), out);
        pythonLibs(s.under("/usr/local/lib"), out);
        Path d = s.under("/usr/lib/python3/dist-packages");
        if (Files.isDirectory(d)) out.add(d);
        pythonLibs(s.under("/usr/lib"), out);
        pythonLibs(s.under("/opt/conda/lib"), out);
        return List.copyOf(out);
    }

    /** lib/python3.X/{site,dist}-packages under {@code lib}, sorted newest version first. */
    private static void pythonLibs(Path lib, Set<Path> out) {
        List<Path> pys = new ArrayList<>();
        for (Path p : list(lib)) if (p.getFileName().toString().startsWith("python3")) pys.add(p);
        pys.sort((a, b) -> pyVersion(b) - pyVersion(a));
        for (Path py : pys)
            for (String sub : List.of("site-packages", "dist-packages")) {
                Path sp = py.resolve(sub);
                if (Files.isDirectory(sp)) out.add(sp);
            }
    }

    private static int pyVersion(Path p) {
        String n = p.getFileName().toString().substring("python3".length());
        try { return n.startsWith(".") ? Integer.parseInt(n.substring(1)) : 0; } catch (NumberFormatException e) { return 0; }
    }

    /** nvidia/cublas/lib, nvidia/cu13/lib, then every other nvidia/&lt;pkg&gt;/lib (sorted). */
    static List<Path> pipDirs(Path sitePackages) {
        Path nv = sitePackages.resolve("nvidia");
        List<Path> out = new ArrayList<>();
        for (String first : List.of("cublas", "cu13", "cu12")) {
            Path l = nv.resolve(first).resolve("lib");
            if (Files.isDirectory(l)) out.add(l);
        }
        List<Path> rest = new ArrayList<>();
        for (Path pkg : list(nv)) {
            Path l = pkg.resolve("lib");
            if (Files.isDirectory(l) && !out.contains(l)) rest.add(l);
        }
        rest.sort(null);
        out.addAll(rest);
        return out;
    }

    private static List<Path> list(Path dir) {
        List<Path> l = new ArrayList<>();
        if (!Files.isDirectory(dir)) return l;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) { for (Path p : ds) l.add(p); }
        catch (IOException e) { return l; }
        l.sort(null);
        return l;
    }

    /** An opened library: where it came from and its symbols. */
    public record Opened(String from, SymbolLookup lookup) {}

    /** Opening failed: a one-line reason. */
    public static final class NotFoundException extends Exception {
        public NotFoundException(String reason) { super(reason); }
    }

    /**
     * Opens {@code lib}: every candidate in order, then the bare soname via the dynamic loader.
     * Libraries stay loaded for the life of the process (global arena), as the driver expects.
     */
    public static Opened open(Lib lib, Search s) throws NotFoundException {
        List<String> tried = new ArrayList<>();
        for (Path p : candidates(lib, s)) {
            Optional<SymbolLookup> l = tryOpen(p.toString());
            if (l.isPresent()) return new Opened(p.toString(), l.get());
            tried.add(p + " (does not load)");
        }
        String soname = lib.fileNames().getFirst();
        for (String name : lib.fileNames()) {
            Optional<SymbolLookup> l = tryOpen(name);
            if (l.isPresent()) return new Opened(name + " (dynamic loader)", l.get());
        }
        throw new NotFoundException(soname + " not found"
                + (tried.isEmpty() ? " (searched --cuda-lib, LD_LIBRARY_PATH, standard directories"
                        + (lib.pipLayout() ? ", pip nvidia/*/lib" : "") + " and the dynamic loader)"
                        : "; unusable: " + String.join(", ", tried)));
    }

    /** {@code SymbolLookup.libraryLookup} throws IllegalArgumentException when the library cannot be opened. */
    static Optional<SymbolLookup> tryOpen(String nameOrPath) {
        try {
            return Optional.of(nameOrPath.contains("/")
                    ? SymbolLookup.libraryLookup(Path.of(nameOrPath), Arena.global())
                    : SymbolLookup.libraryLookup(nameOrPath, Arena.global()));
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            return Optional.empty();
        }
    }

    /** The driver API: opens libcuda and binds {@link CudaDriver}. */
    public static CudaDriver openDriver(Search s) throws NotFoundException {
        Opened o = open(Lib.CUDA, s);
        try { return new CudaDriver(o.lookup()); }
        catch (NativeLibraries.MissingSymbolException e) { throw new NotFoundException(o.from() + ": " + e.getMessage()); }
    }

    /** cuBLAS and cuBLASLt: opens libcublasLt first (libcublas needs it) from the same directory where possible. */
    public record CublasPair(Cublas cublas, CublasLt lt, String from) {}

    public static CublasPair openCublas(Search s) throws NotFoundException {
        // libcublas depends on libcublasLt by soname; opening Lt first (from any candidate dir) satisfies it
        CublasLt lt = null;
        try {
            Opened l = open(Lib.CUBLASLT, s);
            lt = new CublasLt(l.lookup());
        } catch (NotFoundException | NativeLibraries.MissingSymbolException e) {
            // cuBLAS may still load if its own RUNPATH finds Lt; the Lt bindings then stay unavailable
        }
        Opened o = open(Lib.CUBLAS, s);
        try { return new CublasPair(new Cublas(o.lookup()), lt, o.from()); }
        catch (NativeLibraries.MissingSymbolException e) { throw new NotFoundException(o.from() + ": " + e.getMessage()); }
    }
}
