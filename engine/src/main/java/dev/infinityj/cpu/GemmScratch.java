package dev.infinityj.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Per-thread GEMM buffers, kept between calls: packed A and B blocks (float[], kernel-private),
 * the small-M path's widened weight rows, the 8×16 kernel's accumulator tile, and a native MR×16 tile for edge tiles (the micro-kernel
 * only ever writes native segments).
 */
final class GemmScratch {
    private static final ThreadLocal<GemmScratch> LOCAL = ThreadLocal.withInitial(GemmScratch::new);

    private float[] a = new float[0], b = new float[0], w = new float[0];
    final MemorySegment tile = Arena.ofAuto().allocate(Gemm.MR * 32 * 4L, 64);   // room for an 8×32 tile
    /** The 8×16 and 8×32 kernels' accumulator tile. */
    final float[] acc = new float[Gemm.MR * 32];

    static GemmScratch get() { return LOCAL.get(); }

    float[] a(int n) { if (a.length < n) a = new float[n]; return a; }

    float[] b(int n) { if (b.length < n) b = new float[n]; return b; }

    float[] w(int n) { if (w.length < n) w = new float[n]; return w; }
}
