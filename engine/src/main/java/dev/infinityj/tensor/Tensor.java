package dev.infinityj.tensor;

import dev.infinityj.ShapeException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A dumb view: dtype, shape, strides and offset (both in elements) over a storage segment.
 * Host storage is always a native or mapped {@link MemorySegment}, never a heap segment: kernels
 * that see heap segments once stay ~5x slower for mapped ones (measured here), so there is no
 * constructor taking a Java array. Views share storage; {@link #contiguous()} copies when needed.
 */
public final class Tensor {
    public static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DType dtype;
    private final long[] shape;
    private final long[] strides;
    private final long offset;
    private final MemorySegment storage;

    public Tensor(DType dtype, MemorySegment storage, long offset, long[] shape, long[] strides) {
        if (shape.length != strides.length) throw new ShapeException("shape rank " + shape.length + " != strides rank " + strides.length);
        for (long s : shape) if (s < 0) throw new ShapeException("negative dimension in shape " + Arrays.toString(shape));
        if (storage.heapBase().isPresent())
            throw new IllegalArgumentException("Tensor storage must be a native or mapped segment, not a heap segment");
        this.dtype = dtype;
        this.storage = storage;
        this.offset = offset;
        this.shape = shape.clone();
        this.strides = strides.clone();
    }

    /** A contiguous row-major tensor over {@code storage} starting at byte 0. */
    public static Tensor of(DType dtype, MemorySegment storage, long... shape) {
        long n = numel(shape);
        if (n * dtype.byteSize() > storage.byteSize())
            throw new ShapeException("storage of " + storage.byteSize() + " bytes is too small for " + dtype + Arrays.toString(shape));
        return new Tensor(dtype, storage, 0, shape, contiguousStrides(shape));
    }

    /** Zero-filled, contiguous, in automatically managed native memory (freed by the GC). */
    public static Tensor allocate(DType dtype, long... shape) {
        Tensor t = allocate(Arena.ofAuto(), dtype, shape);
        NativeGarbage.allocated(t.storage.byteSize());
        return t;
    }

    /**
     * Contiguous, in automatically managed native memory like {@link #allocate(DType, long...)}, but
     * the contents are unspecified (not zero-filled; the block may be recycled from a dead tensor).
     * Only for outputs every element of which the caller writes before anyone reads them.
     */
    public static Tensor allocateUninitialized(DType dtype, long... shape) {
        long bytes = Math.max(1, numel(shape) * dtype.byteSize());
        Tensor t = of(dtype, RecycledMemory.allocate(bytes), shape);
        NativeGarbage.allocated(bytes);
        return t;
    }

    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        long bytes = Math.max(1, numel(shape) * dtype.byteSize());
        return of(dtype, arena.allocate(bytes, 64), shape);
    }

    /** A new F32 tensor holding {@code values} (copied into native memory). */
    public static Tensor ofFloats(float[] values, long... shape) {
        if (numel(shape) != values.length)
            throw new ShapeException(values.length + " values do not fill shape " + Arrays.toString(shape));
        Tensor t = allocate(DType.F32, shape);
        MemorySegment.copy(values, 0, t.storage, F32_LE, 0, values.length);
        return t;
    }

    public static long numel(long... shape) {
        long n = 1;
        for (long s : shape) n = Math.multiplyExact(n, s);
        return n;
    }

    public static long[] contiguousStrides(long[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) { st[i] = s; s *= shape[i]; }
        return st;
    }

    public DType dtype() { return dtype; }
    public long[] shape() { return shape.clone(); }
    public long dim(int i) { return shape[i < 0 ? shape.length + i : i]; }
    public int rank() { return shape.length; }
    public long[] strides() { return strides.clone(); }
    public long offset() { return offset; }
    public MemorySegment storage() { return storage; }
    public long numel() { return numel(shape); }

    public boolean isContiguous() {
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != s) return false;
            s *= shape[i];
        }
        return true;
    }

    /** The bytes of a contiguous tensor as a segment slice starting at its first element. */
    public MemorySegment segment() {
        if (!isContiguous()) throw new ShapeException("segment() needs a contiguous tensor, got strides " + Arrays.toString(strides));
        return storage.asSlice(offset * dtype.byteSize(), numel() * dtype.byteSize());
    }

    /** Byte offset of the first element inside {@link #storage()}. */
    public long byteOffset() { return offset * dtype.byteSize(); }

    public Tensor reshape(long... newShape) {
        long known = 1; int infer = -1;
        long[] s = newShape.clone();
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) { if (infer >= 0) throw new ShapeException("reshape: more than one -1"); infer = i; }
            else known *= s[i];
        }
        if (infer >= 0) s[infer] = known == 0 ? 0 : numel() / known;
        if (numel(s) != numel()) throw new ShapeException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        Tensor c = isContiguous() ? this : contiguous();
        return new Tensor(dtype, c.storage, c.offset, s, contiguousStrides(s));
    }

    /** Elements [start, end) of dimension {@code d}; shares storage. */
    public Tensor slice(int d, long start, long end) {
        if (d < 0) d += shape.length;
        if (start < 0 || end > shape[d] || start > end)
            throw new ShapeException("slice [" + start + "," + end + ") out of dimension " + d + " of size " + shape[d]);
        long[] s = shape.clone();
        s[d] = end - start;
        return new Tensor(dtype, storage, offset + start * strides[d], s, strides);
    }

    /** Index {@code i} of dimension 0, dropping that dimension. */
    public Tensor get(long i) {
        Tensor t = slice(0, i, i + 1);
        return new Tensor(dtype, storage, t.offset, Arrays.copyOfRange(shape, 1, shape.length), Arrays.copyOfRange(strides, 1, strides.length));
    }

    public Tensor permute(int... order) {
        if (order.length != shape.length) throw new ShapeException("permute needs " + shape.length + " axes");
        long[] s = new long[order.length], st = new long[order.length];
        for (int i = 0; i < order.length; i++) { s[i] = shape[order[i]]; st[i] = strides[order[i]]; }
        return new Tensor(dtype, storage, offset, s, st);
    }

    public Tensor transpose(int a, int b) {
        int[] order = new int[shape.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        if (a < 0) a += shape.length;
        if (b < 0) b += shape.length;
        order[a] = b; order[b] = a;
        return permute(order);
    }

    /** This tensor if contiguous, else a contiguous copy. */
    public Tensor contiguous() {
        if (isContiguous()) return this;
        Tensor out = allocate(dtype, shape);
        long n = numel();
        int es = dtype.byteSize();
        long[] idx = new long[shape.length];
        for (long i = 0; i < n; i++) {
            MemorySegment.copy(storage, elementByteOffset(idx), out.storage, i * es, es);
            increment(idx);
        }
        return out;
    }

    private void increment(long[] idx) {
        for (int d = shape.length - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) return;
            idx[d] = 0;
        }
    }

    private long elementByteOffset(long[] idx) {
        long e = offset;
        for (int d = 0; d < idx.length; d++) e += idx[d] * strides[d];
        return e * dtype.byteSize();
    }

    /** Element at a multi-index, widened to float (slow; for tests, tools and small tensors). */
    public float getFloat(long... idx) {
        if (idx.length != shape.length) throw new ShapeException("index rank " + idx.length + " != tensor rank " + shape.length);
        for (int d = 0; d < idx.length; d++)
            if (idx[d] < 0 || idx[d] >= shape[d]) throw new ShapeException("index " + Arrays.toString(idx) + " out of shape " + Arrays.toString(shape));
        return readAsFloat(elementByteOffset(idx));
    }

    public void setFloat(float v, long... idx) {
        long b = elementByteOffset(idx);
        switch (dtype) {
            case F32 -> storage.set(F32_LE, b, v);
            case BF16 -> storage.set(I16_LE, b, DType.f32ToBf16(v));
            case F16 -> storage.set(I16_LE, b, DType.f32ToF16(v));
            case F64 -> storage.set(F64_LE, b, v);
            default -> throw new ShapeException("setFloat on " + dtype + " tensor");
        }
    }

    private float readAsFloat(long b) {
        return switch (dtype) {
            case F32 -> storage.get(F32_LE, b);
            case BF16 -> DType.bf16ToF32(storage.get(I16_LE, b));
            case F16 -> DType.f16ToF32(storage.get(I16_LE, b));
            case F64 -> (float) storage.get(F64_LE, b);
            case I64 -> storage.get(I64_LE, b);
            case I32 -> storage.get(I32_LE, b);
            case I16 -> storage.get(I16_LE, b);
            case I8 -> storage.get(ValueLayout.JAVA_BYTE, b);
            case U8, BOOL -> storage.get(ValueLayout.JAVA_BYTE, b) & 0xff;
        };
    }

    private double readAsDouble(long b) {
        return switch (dtype) {
            case F64 -> storage.get(F64_LE, b);
            case I64 -> storage.get(I64_LE, b);
            default -> readAsFloat(b);
        };
    }

    /** All elements in row-major order, widened to float. */
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) throw new ShapeException("tensor too large for a Java array: " + n);
        float[] out = new float[(int) n];
        if (dtype == DType.F32 && isContiguous()) {
            MemorySegment.copy(storage, F32_LE, byteOffset(), out, 0, (int) n);
            return out;
        }
        long[] idx = new long[shape.length];
        for (int i = 0; i < n; i++) { out[i] = readAsFloat(elementByteOffset(idx)); increment(idx); }
        return out;
    }

    public double[] toDoubleArray() {
        long n = numel();
        double[] out = new double[Math.toIntExact(n)];
        long[] idx = new long[shape.length];
        for (int i = 0; i < n; i++) { out[i] = readAsDouble(elementByteOffset(idx)); increment(idx); }
        return out;
    }

    public long[] toLongArray() {
        long n = numel();
        long[] out = new long[Math.toIntExact(n)];
        long[] idx = new long[shape.length];
        for (int i = 0; i < n; i++) {
            long b = elementByteOffset(idx);
            out[i] = switch (dtype) {
                case I64 -> storage.get(I64_LE, b);
                case I32 -> storage.get(I32_LE, b);
                case I16 -> storage.get(I16_LE, b);
                case I8 -> storage.get(ValueLayout.JAVA_BYTE, b);
                case U8, BOOL -> storage.get(ValueLayout.JAVA_BYTE, b) & 0xff;
                default -> (long) readAsDouble(b);
            };
            increment(idx);
        }
        return out;
    }

    /** A contiguous copy converted to {@code target} (F32, BF16, F16 or F64); this tensor if nothing changes. */
    public Tensor to(DType target) {
        if (target == dtype && isContiguous()) return this;
        if (!target.isFloating()) throw new ShapeException("to(" + target + ") supports floating targets only");
        Tensor out = allocate(target, shape);
        long n = numel();
        long[] idx = new long[shape.length];
        MemorySegment o = out.storage;
        for (long i = 0; i < n; i++) {
            long b = elementByteOffset(idx);
            switch (target) {
                case F32 -> o.setAtIndex(F32_LE, i, readAsFloat(b));
                case BF16 -> o.setAtIndex(I16_LE, i, DType.f32ToBf16(readAsFloat(b)));
                case F16 -> o.setAtIndex(I16_LE, i, DType.f32ToF16(readAsFloat(b)));
                case F64 -> o.setAtIndex(F64_LE, i, readAsDouble(b));
                default -> throw new AssertionError();
            }
            increment(idx);
        }
        return out;
    }

    public String describe() { return dtype + Arrays.toString(shape); }

    @Override
    public String toString() { return "Tensor" + describe(); }
}
