package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static dev.infinityj.tensor.Tensor.I16_LE;
import static dev.infinityj.tensor.Tensor.I32_LE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The packed Linear layout: every element at the position the class comment defines (checked from
 * the formula, not the code's loops), and pack and unpack inverse permutations, bit for bit, on K
 * below, at and across the K block size.
 */
class PackedLinearTest {
    private static final CpuThreads TWO = new CpuThreads(2);

    /** Random raw bits (NaN payloads, infinities and subnormals included: a permutation must keep them all). */
    static Tensor randomBits(DType t, long n, long k, long seed) {
        Tensor w = Tensor.allocate(t, n, k);
        MemorySegment s = w.segment();
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < n * k; i++) {
            if (t == DType.F32) s.setAtIndex(I32_LE, i, r.nextInt());
            else s.setAtIndex(I16_LE, i, (short) r.nextInt());
        }
        return w;
    }

    /** Raw bits of element i of a contiguous tensor. */
    static int bits(Tensor t, long i) {
        return t.dtype() == DType.F32 ? t.segment().getAtIndex(I32_LE, i) : t.segment().getAtIndex(I16_LE, i);
    }

    @Test
    void packThenUnpackIsTheIdentityOnOddShapesAndEveryDtype() {
        long[][] shapes = {{16, 1}, {16, 3}, {32, 17}, {48, 33}, {160, 100}, {32, PackedLinear.KBLOCK}, {80, PackedLinear.KBLOCK + 1}, {64, 2047}};
        for (DType t : new DType[]{DType.F32, DType.BF16, DType.F16})
            for (long[] nk : shapes) {
                long n = nk[0], k = nk[1];
                Tensor w = randomBits(t, n, k, 31 * n + k);
                Tensor p = PackedLinear.pack(TWO, w);
                String what = t + "[" + n + ", " + k + "]";
                assertArrayEquals(new long[]{n / 16, k, 16}, p.shape(), what);
                assertEquals(t, p.dtype(), what);
                assertTrue(PackedLinear.isPacked(p), what);
                // the layout, from its definition: K blocks of KC, panels inside, W[16q + j, c] at slot(j)
                for (long q = 0; q < n / 16; q++)
                    for (long c = 0; c < k; c++)
                        for (int j = 0; j < 16; j++) {
                            long b = c - c % PackedLinear.KBLOCK, kc = Math.min(PackedLinear.KBLOCK, k - b);
                            int slot = t == DType.BF16 ? (j < 8 ? 2 * j : 2 * (j - 8) + 1) : j;   // BF16: c0, c8, c1, c9, …
                            if (bits(p, b * n + q * kc * 16 + (c % PackedLinear.KBLOCK) * 16 + slot) != bits(w, (16 * q + j) * k + c))
                                fail(what + ": panel " + q + " (" + c + ", " + j + ")");
                        }
                Tensor u = PackedLinear.unpack(TWO, p);
                assertArrayEquals(new long[]{n, k}, u.shape(), what);
                assertEquals(t, u.dtype(), what);
                for (long i = 0; i < n * k; i++) if (bits(u, i) != bits(w, i)) fail(what + ": element " + i + " after the round trip");
                assertArrayEquals(new long[]{n, k}, PackedLinear.unpackedShape(p.shape()), what);
                assertArrayEquals(p.shape(), PackedLinear.packedShape(new long[]{n, k}), what);
            }
    }

    @Test
    void aStridedSourcePacksLikeItsContiguousCopyAndUnpacksToIt() {
        Tensor base = randomBits(DType.BF16, 40, 32, 7);
        Tensor view = base.transpose(0, 1); // [32, 40], not contiguous
        Tensor u = PackedLinear.unpack(TWO, PackedLinear.pack(TWO, view));
        Tensor c = view.contiguous();
        for (long i = 0; i < c.numel(); i++) assertEquals(bits(c, i), bits(u, i), "element " + i);
    }

    @Test
    void plainUnpacksOnlyPackedWeightsAndUnpackRefusesTheRest() {
        Tensor w = randomBits(DType.F32, 32, 5, 1);
        assertSame(w, PackedLinear.plain(w), "a plain weight is returned as is");
        Tensor odd = randomBits(DType.F32, 40, 5, 2);
        assertFalse(PackedLinear.packable(odd), "40 rows is not a multiple of 16");
        assertThrows(ShapeException.class, () -> PackedLinear.pack(TWO, odd));
        assertThrows(ShapeException.class, () -> PackedLinear.unpack(TWO, w));
        assertThrows(ShapeException.class, () -> PackedLinear.packedShape(new long[]{40, 5}));
        assertThrows(ShapeException.class, () -> PackedLinear.unpackedShape(new long[]{2, 5, 8}));
        assertFalse(PackedLinear.isPackedShape(DType.I64, new long[]{2, 5, 16}));
        assertTrue(PackedLinear.isPackedShape(DType.F16, new long[]{2, 5, 16}));
    }
}
