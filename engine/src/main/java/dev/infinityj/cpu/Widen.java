package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Eight 16-bit floats (bf16 or IEEE half) from a segment, widened to an 8-lane FloatVector.
 * Both conversions are exact. bf16: the bits are the high half of an f32. f16: the exponent and
 * mantissa are moved into f32 position and rescaled by 2¹¹² (exact for normals and subnormals),
 * infinities and NaNs get the f32 all-ones exponent, then the sign is put back; the result equals
 * {@link Float#float16ToFloat} for all 65536 inputs (tested), except that signalling NaNs keep
 * their payload instead of being quietened.
 */
final class Widen {
    private Widen() {}

    static final VectorSpecies<Float> F = Simd.F;
    private static final VectorSpecies<Short> S8 = ShortVector.SPECIES_128;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** 8 bf16 values at byte {@code off}. */
    static FloatVector bf16(MemorySegment s, long off) {
        return ((IntVector) ShortVector.fromMemorySegment(S8, s, off, LE).convertShape(VectorOperators.S2I, I8, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** 8 IEEE binary16 values at byte {@code off}. */
    static FloatVector f16(MemorySegment s, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S8, s, off, LE).convertShape(VectorOperators.S2I, I8, 0);
        IntVector em = h.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector scaled = em.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = h.and(0x7c00).eq(0x7c00);
        IntVector bits = scaled.blend(em.or(0x7f800000), special).or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16));
        return bits.reinterpretAsFloats();
    }
}
