package dev.infinityj.util;

import dev.infinityj.BadInputException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a file so that it either appears complete or not at all: the content goes to a
 * temporary file beside the target (same directory, same file system), is forced to disk, and
 * is renamed over the target at the end. On any failure the temporary file is deleted.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Temporary files being written now: deleted by a shutdown hook on Ctrl-C / SIGTERM, so no half-written file is left. */
    private static final java.util.Set<Path> IN_FLIGHT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        try {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                for (Path p : IN_FLIGHT) try { Files.deleteIfExists(p); } catch (IOException | RuntimeException ignored) { }
            }, "infinityj-atomic-files-cleanup"));
        } catch (IllegalStateException | SecurityException ignored) {
            // already shutting down
        }
    }

    @FunctionalInterface
    public interface Writer {
        void write(Path tmp) throws IOException;
    }

    /** Checks up front that {@code target} can be written (parent exists and is a writable directory). */
    public static void checkWritable(Path target, String what) {
        Path abs = target.toAbsolutePath();
        Path parent = abs.getParent();
        if (Files.isDirectory(abs)) throw new BadInputException(what + " " + target + ": is a directory, expected a file path");
        if (parent == null || !Files.isDirectory(parent))
            throw new BadInputException(what + " " + target + ": directory " + parent + " does not exist");
        if (!Files.isWritable(parent)) throw new BadInputException(what + " " + target + ": directory " + parent + " is not writable");
    }

    public static void write(Path target, Writer writer) {
        Path abs = target.toAbsolutePath();
        checkWritable(abs, "output");
        Path tmp = null;
        try {
            tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp");
            IN_FLIGHT.add(tmp);
            ordinaryPermissions(tmp, abs);
            writer.write(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) { ch.force(true); }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            IN_FLIGHT.remove(tmp);
            tmp = null;
        } catch (IOException e) {
            throw new BadInputException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try { Files.deleteIfExists(tmp); } catch (IOException ignored) { }
                IN_FLIGHT.remove(tmp);
            }
        }
    }

    /**
     * Temporary files are created private (rw-------); the finished file gets the permissions of
     * the file it replaces, else those of an ordinary new file (rw-r--r--), so a model directory or
     * an image is readable as any other file would be.
     */
    private static void ordinaryPermissions(Path tmp, Path target) throws IOException {
        try {
            Files.setPosixFilePermissions(tmp, Files.exists(target) ? Files.getPosixFilePermissions(target)
                    : java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system: the platform's defaults apply
        }
    }

    public static void writeBytes(Path target, byte[] data) {
        write(target, tmp -> { try (OutputStream o = Files.newOutputStream(tmp)) { o.write(data); } });
    }
}
