package dev.infinityj.io.pth;

import dev.infinityj.WeightFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A read-only zip central-directory parser over a mapped file (ZIP64 included), so that stored
 * entries can be handed out as zero-copy slices of the mapping. Only what PyTorch archives need:
 * entries are located, never extracted to disk, and names that would escape an extraction
 * directory ({@code ../}, absolute paths, backslashes, drive letters) are refused outright.
 */
final class ZipArchive {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int EOCD_SIG = 0x06054b50, ZIP64_LOCATOR_SIG = 0x07064b50, ZIP64_EOCD_SIG = 0x06064b50;
    private static final int CEN_SIG = 0x02014b50, LOC_SIG = 0x04034b50;
    static final int STORED = 0;

    /** One entry: {@code dataOffset} is where its (possibly compressed) bytes start in the file. */
    record Entry(String name, int method, long compressedSize, long size, long dataOffset) {}

    private final String where;
    private final MemorySegment file;
    private final Map<String, Entry> entries;

    private ZipArchive(String where, MemorySegment file, Map<String, Entry> entries) {
        this.where = where;
        this.file = file;
        this.entries = entries;
    }

    Map<String, Entry> entries() { return entries; }

    Entry entry(String name) { return entries.get(name); }

    /** The bytes of a STORED entry, as a slice of the mapping; compressed entries are refused. */
    MemorySegment stored(Entry e) {
        if (e.method() != STORED)
            throw new WeightFormatException(where + ": zip entry '" + e.name() + "' is compressed (method " + e.method()
                    + "); PyTorch archives store tensor data uncompressed, refusing");
        return file.asSlice(e.dataOffset(), e.size());
    }

    static ZipArchive open(String where, MemorySegment file) {
        long size = file.byteSize();
        if (size < 22) throw bad(where, "not a zip archive (" + size + " bytes, too short for an end-of-central-directory record)");
        long eocd = -1;
        for (long p = size - 22, stop = Math.max(0, size - 22 - 0xffff); p >= stop; p--) {
            if (file.get(U32, p) == EOCD_SIG && p + 22 + u16(file, p + 20) == size) { eocd = p; break; }
        }
        if (eocd < 0) {
            if (size >= 2 && (file.get(ValueLayout.JAVA_BYTE, 0) & 0xff) == 0x80)
                throw bad(where, "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with torch >= 1.6");
            throw bad(where, "not a zip archive (no end-of-central-directory record; truncated file?)");
        }
        long count = u16(file, eocd + 10);
        long cdSize = u32(file, eocd + 12);
        long cdOffset = u32(file, eocd + 16);
        if (count == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
            long loc = eocd - 20;
            if (loc >= 0 && file.get(U32, loc) == ZIP64_LOCATOR_SIG) {
                long z = file.get(U64, loc + 8);
                if (z < 0 || z + 56 > size || file.get(U32, z) != ZIP64_EOCD_SIG) throw bad(where, "bad ZIP64 end-of-central-directory offset " + z);
                count = file.get(U64, z + 32);
                cdSize = file.get(U64, z + 40);
                cdOffset = file.get(U64, z + 48);
            } else if (cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
                throw bad(where, "ZIP64 sizes without a ZIP64 locator (truncated file?)");
            }
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset + cdSize > size || count < 0 || count > cdSize / 46)
            throw bad(where, "central directory (offset " + cdOffset + ", " + cdSize + " bytes, " + count + " entries) does not fit the file of " + size + " bytes");
        Map<String, Entry> out = new LinkedHashMap<>();
        long p = cdOffset, end = cdOffset + cdSize;
        for (long i = 0; i < count; i++) {
            if (p + 46 > end || file.get(U32, p) != CEN_SIG) throw bad(where, "corrupt central directory entry " + i);
            int flags = u16(file, p + 8);
            int method = u16(file, p + 10);
            long csize = u32(file, p + 20), usize = u32(file, p + 24);
            int nameLen = u16(file, p + 28), extraLen = u16(file, p + 30), commentLen = u16(file, p + 32);
            long localOff = u32(file, p + 42);
            if (p + 46 + nameLen + extraLen + commentLen > end) throw bad(where, "corrupt central directory entry " + i);
            String name = new String(file.asSlice(p + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            // ZIP64 extra field: the 8-byte values of exactly those fields that were saturated.
            for (long x = p + 46 + nameLen, xe = x + extraLen; x + 4 <= xe; ) {
                int id = u16(file, x), len = u16(file, x + 2);
                if (x + 4 + len > xe) break;
                if (id == 1) {
                    long q = x + 4, qe = q + len;
                    if (usize == 0xffffffffL && q + 8 <= qe) { usize = file.get(U64, q); q += 8; }
                    if (csize == 0xffffffffL && q + 8 <= qe) { csize = file.get(U64, q); q += 8; }
                    if (localOff == 0xffffffffL && q + 8 <= qe) { localOff = file.get(U64, q); }
                }
                x += 4 + len;
            }
            p += 46 + nameLen + extraLen + commentLen;
            checkName(where, name);
            if ((flags & 1) != 0) throw bad(where, "zip entry '" + name + "' is encrypted");
            if (localOff < 0 || localOff + 30 > size || file.get(U32, localOff) != LOC_SIG)
                throw bad(where, "zip entry '" + name + "' has a bad local header offset " + localOff);
            long data = localOff + 30 + u16(file, localOff + 26) + u16(file, localOff + 28);
            if (csize < 0 || usize < 0 || data + csize > size || data + csize < data)
                throw bad(where, "zip entry '" + name + "' (" + csize + " bytes at " + data + ") extends past the end of the file of " + size + " bytes (truncated file?)");
            if (method == STORED && csize != usize)
                throw bad(where, "stored zip entry '" + name + "' claims " + usize + " bytes but holds " + csize);
            if (out.put(name, new Entry(name, method, csize, usize, data)) != null)
                throw bad(where, "duplicate zip entry '" + name + "'");
        }
        return new ZipArchive(where, file, Collections.unmodifiableMap(out));
    }

    /** Refuses names that would escape an extraction directory, even though we never extract. */
    static void checkName(String where, String name) {
        boolean bad = name.isEmpty() || name.startsWith("/") || name.indexOf('\\') >= 0 || name.indexOf('\0') >= 0
                || (name.length() >= 2 && name.charAt(1) == ':');
        for (String part : name.split("/", -1)) if (part.equals("..")) bad = true;
        if (bad) throw bad(where, "refused zip entry name '" + name.replace("\0", "\\0") + "' (escapes the archive: '..', absolute or drive path)");
    }

    private static int u16(MemorySegment s, long p) { return s.get(U16, p) & 0xffff; }

    private static long u32(MemorySegment s, long p) { return s.get(U32, p) & 0xffffffffL; }

    private static WeightFormatException bad(String where, String what) {
        return new WeightFormatException(where + ": " + what);
    }
}
