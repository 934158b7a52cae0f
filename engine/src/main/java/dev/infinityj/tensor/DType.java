package dev.infinityj.tensor;

import dev.infinityj.WeightFormatException;

/** Element types. Names follow safetensors' spelling; all host data is little-endian. */
public enum DType {
    F32(4, "F32"), BF16(2, "BF16"), F16(2, "F16"), F64(8, "F64"),
    I64(8, "I64"), I32(4, "I32"), I16(2, "I16"), I8(1, "I8"), U8(1, "U8"), BOOL(1, "BOOL");

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    public int byteSize() { return byteSize; }

    public String safetensorsName() { return safetensorsName; }

    public boolean isFloating() { return this == F32 || this == BF16 || this == F16 || this == F64; }

    public static DType fromSafetensors(String name, String where) {
        for (DType d : values()) if (d.safetensorsName.equals(name)) return d;
        throw new WeightFormatException(where + ": unknown dtype '" + name
                + "' (expected one of F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL)");
    }

    /** bf16 → f32: the bf16 bits are the high half of the f32. */
    public static float bf16ToF32(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** f32 → bf16 with round-to-nearest-even (PyTorch's rounding); NaN stays NaN. */
    public static short f32ToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) return (short) ((x >>> 16) | 0x40);
        int rounding = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    public static float f16ToF32(short bits) { return Float.float16ToFloat(bits); }

    public static short f32ToF16(float f) { return Float.floatToFloat16(f); }
}
