package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * Single-precision GEMM on the CPU: {@code C[M,N] = A[M,K]·B[K,N] + biasN[n] + biasM[m]}, or
 * {@code C += …} with {@code accumulate}. A and B are F32, BF16 or F16 ({@link Mat}; B may also be
 * an implicit im2col, {@link ConvInput}); C is F32, row-major with leading dimension {@code ldc},
 * in a native segment. Accumulation is in fp32.
 *
 * <p>Large M: packed and blocked (GotoBLAS order jc(NC) → pc(KC) → pack B → ic(MC) → pack A →
 * jr → ir) around the MR×16 micro-kernel ({@link GemmKernel8x16} with AVX-512's 32 registers,
 * {@link GemmKernel5x16} with AVX2's 16); BF16/F16 are widened while packing.
 * Small M with a {@code [N, K]} weight ({@link Mat#transposed}, the Linear layout): the
 * weight-streaming {@link GemmSmallM}, which reads each weight once and splits N over threads.
 *
 * <p>Determinism: every C element is summed by one thread in an order that depends only on
 * (M, K) — never on the thread count or the task split — so results are bitwise identical for
 * any number of threads.
 */
public final class Gemm {
    private Gemm() {}

    /** Rows of the micro-kernel's tile: 8 ({@link GemmKernel8x16}) with 32 vector registers, else 5. */
    public static final int MR = Simd.WIDE_REGISTERS ? GemmKernel8x16.MR : GemmKernel5x16.MR, NR = 16;
    /** MC: rows of A packed per block (a multiple of MR; mc·KC floats stay in L2). */
    public static final int KC = 256, MC = Simd.WIDE_REGISTERS ? 64 : 60, NC = 2048;

    /**
     * At or below this M, [N, K] weights are streamed instead of packed ({@link GemmSmallM}).
     * Measured (1 thread, Zen 4 VM, BF16 and F32 weights, stream vs packed interleaved in one
     * JVM, GFLOPS): K=2048 N=6144: M=48 57/33, 64 61/55, 80 61/62, 128 60/70; K=8192 N=2048:
     * M=48 52/48, 64 52/53, 80 53/60. Re-measure with GemmBench when the kernels change.
     */
    public static final int SMALL_M = 64;

    /** Below this many multiply-adds a GEMM runs on the calling thread alone. */
    static final long PARALLEL_MIN_MACS = 1L << 18;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /**
     * C = A·B (+ biases), or C += A·B (+ biases) when {@code accumulate}.
     *
     * @param c     native segment holding C; row i starts at byte {@code cOff + 4·i·ldc}
     * @param biasN per-column bias (length ≥ n) or null
     * @param biasM per-row bias (length ≥ m) or null
     */
    public static void multiply(CpuThreads pool, int m, int n, int k, Mat a, GemmB b,
                                MemorySegment c, long cOff, long ldc,
                                float[] biasN, float[] biasM, boolean accumulate) {
        multiply(pool, m, n, k, a, null, b, c, cOff, ldc, biasN, biasM, accumulate);
    }

    /** {@link #multiply} with A packed once ({@link PackedA}, reused across calls). */
    public static void multiply(CpuThreads pool, int m, int n, int k, PackedA a, GemmB b,
                                MemorySegment c, long cOff, long ldc,
                                float[] biasN, float[] biasM, boolean accumulate) {
        if (a.m() != m || a.k() != k) throw new ShapeException("GEMM: packed A is " + a.m() + "x" + a.k() + ", need " + m + "x" + k);
        multiply(pool, m, n, k, null, a, b, c, cOff, ldc, biasN, biasM, accumulate);
    }

    /** a or pa (exactly one non-null). */
    private static void multiply(CpuThreads pool, int m, int n, int k, Mat a, PackedA pa, GemmB b,
                                 MemorySegment c, long cOff, long ldc,
                                 float[] biasN, float[] biasM, boolean accumulate) {
        if (m < 0 || n < 0 || k < 0) throw new ShapeException("GEMM sizes must be >= 0, got " + m + "x" + n + "x" + k);
        if (ldc < n) throw new ShapeException("GEMM: ldc " + ldc + " < n " + n);
        if (biasN != null && biasN.length < n) throw new ShapeException("GEMM: column bias has " + biasN.length + " values, need " + n);
        if (biasM != null && biasM.length < m) throw new ShapeException("GEMM: row bias has " + biasM.length + " values, need " + m);
        if (c.heapBase().isPresent()) throw new IllegalArgumentException("GEMM output must be a native segment");
        if (m == 0 || n == 0) return;
        if (k == 0) {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    long o = cOff + 4 * ((long) i * ldc + j);
                    float v = accumulate ? c.get(F32_LE, o) : 0f;
                    if (biasN != null) v += biasN[j];
                    if (biasM != null) v += biasM[i];
                    c.set(F32_LE, o, v);
                }
            return;
        }
        if (a != null && m <= SMALL_M && b instanceof Mat w && w.rowStride() == 1 && a.colStride() == 1 && a.dtype() == DType.F32) {
            GemmSmallM.multiply(pool, m, n, k, a, w, c, cOff, ldc, biasN, biasM, accumulate);
            return;
        }
        int threads = (long) m * n * k < PARALLEL_MIN_MACS ? 1 : pool.threads();
        int nPanels = (n + NR - 1) / NR, mPanels = (m + MR - 1) / MR;
        int tn, tm;
        if (threads == 1) { tn = 1; tm = 1; }
        else if (nPanels >= 4 * threads) { tn = threads; tm = 1; }       // split N: B packed once, A (cheap) per thread
        else if (mPanels >= 4 * threads) { tn = 1; tm = threads; }       // narrow C: split M, each thread packs all of B
        else { tn = Math.min(nPanels, threads); tm = Math.min(mPanels, (threads + tn - 1) / tn); }
        final int ftn = tn, ftm = tm;
        pool.parallelFor(tn * tm, t -> {
            int ti = t / ftn, tj = t % ftn;
            int m0 = (int) ((long) mPanels * ti / ftm) * MR, m1 = Math.min(m, (int) ((long) mPanels * (ti + 1) / ftm) * MR);
            int n0 = (int) ((long) nPanels * tj / ftn) * NR, n1 = Math.min(n, (int) ((long) nPanels * (tj + 1) / ftn) * NR);
            if (m0 >= m1 || n0 >= n1) return;
            if (a != null && b instanceof PackedLinear.PackedB pb) blockPanels(m0, m1, n0, n1, k, a, pb, c, cOff, ldc, biasN, biasM, accumulate);
            else block(m0, m1, n0, n1, k, a, pa, b, c, cOff, ldc, biasN, biasM, accumulate);
        });
    }

    /** C rows [m0, m1) × columns [n0, n1) on the calling thread; A from {@code a}, or pre-packed {@code pa}. */
    static void block(int m0, int m1, int n0, int n1, int k, Mat a, PackedA pa, GemmB b, MemorySegment c, long cOff, long ldc,
                      float[] biasN, float[] biasM, boolean accumulate) {
        GemmScratch sc = GemmScratch.get();
        long ldcB = 4 * ldc;
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc), nPanels = (nc + NR - 1) / NR;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                boolean add = accumulate || pc > 0;
                float[] bb = sc.b(nPanels * kc * NR);
                // 512-bit 8×32 tiles over full panel pairs where they pay; a pair fills the space of its two panels
                int pairs = Simd.ZMM_GEMM && m1 - m0 >= ZMM_MIN_ROWS ? nc / (2 * NR) : 0;
                for (int pq = 0; pq < pairs; pq++) b.packPanel32(pc, kc, jc + 2 * NR * pq, bb, 2 * pq * kc * NR);
                for (int q = 2 * pairs; q < nPanels; q++)
                    b.packPanel(pc, kc, jc + q * NR, Math.min(NR, nc - q * NR), bb, q * kc * NR);
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic), mPanels = (mc + MR - 1) / MR;
                    float[] aa;
                    int a0;   // where this block's first row panel starts in aa
                    if (pa != null) {
                        aa = pa.data();
                        a0 = pa.offset(pc, kc, ic / MR);
                    } else {
                        aa = sc.a(mPanels * kc * MR);
                        a0 = 0;
                        for (int r = 0; r < mPanels; r++) a.packA(ic + r * MR, Math.min(MR, mc - r * MR), pc, kc, aa, r * kc * MR);
                    }
                    for (int pq = 0; pq < pairs; pq++)
                        rows8x32(kc, aa, a0, mc, bb, 2 * pq * kc * NR, sc, c, cOff + 4 * ((long) ic * ldc + jc + 2 * NR * pq), ldcB, add);
                    for (int q = 2 * pairs; q < nPanels; q++) {
                        int nr = Math.min(NR, nc - q * NR);
                        for (int r = 0; r < mPanels; r++) {
                            int mr = Math.min(MR, mc - r * MR);
                            long co = cOff + 4 * ((long) (ic + r * MR) * ldc + jc + q * NR);
                            if (mr == MR && nr == NR) {
                                kernel(kc, aa, a0 + r * kc * MR, bb, q * kc * NR, sc, c, co, ldcB, add);
                            } else {
                                kernel(kc, aa, a0 + r * kc * MR, bb, q * kc * NR, sc, sc.tile, 0, NR * 4, false);
                                edge(sc.tile, mr, nr, c, co, ldcB, add);
                            }
                        }
                    }
                    if (pc + kc >= k && (biasN != null || biasM != null))
                        addBias(c, cOff + 4 * ((long) ic * ldc + jc), ldcB, mc, nc, biasN, jc, biasM, ic);
                }
            }
        }
    }

    /** From this many rows of A (a block) the 512-bit kernel is used where {@link Simd#ZMM_GEMM}. */
    static final int ZMM_MIN_ROWS = 64;

    /** Rows of A packed at once in {@link #blockPanels}: MA·KBLOCK floats (1 MB: within a 1–2 MB L2). */
    static final int MA = 256;

    /**
     * C rows [m0, m1) × columns [n0, n1) over pre-packed weight panels ({@link PackedLinear}):
     * A is packed once per K block (up to {@link #MA} rows), then each 16-column panel is widened
     * into an L1-sized buffer right before the row panels use it (BF16 on the 8×16 kernel: read by
     * the kernel straight from the weight). Each C element is summed over K blocks of
     * {@link PackedLinear#KBLOCK} in order, an FMA chain inside: fixed by K alone.
     * Serves every M: at M ≤ {@link #SMALL_M} the padded rows of the one tile cost less than the
     * streaming path's widening of the [N, K] rows did.
     */
    static void blockPanels(int m0, int m1, int n0, int n1, int k, Mat a, PackedLinear.PackedB b, MemorySegment c, long cOff, long ldc,
                            float[] biasN, float[] biasM, boolean accumulate) {
        GemmScratch sc = GemmScratch.get();
        long ldcB = 4 * ldc;
        for (int ic = m0; ic < m1; ic += MA) {
            int mc = Math.min(MA, m1 - ic), mPanels = (mc + MR - 1) / MR;
            for (int pc = 0; pc < k; pc += PackedLinear.KBLOCK) {
                int kc = Math.min(PackedLinear.KBLOCK, k - pc);
                boolean add = accumulate || pc > 0, last = pc + kc >= k;
                float[] aa = sc.a(mPanels * kc * MR);
                for (int r = 0; r < mPanels; r++) a.packA(ic + r * MR, Math.min(MR, mc - r * MR), pc, kc, aa, r * kc * MR);
                float[] bb = sc.b(kc * 2 * NR);
                boolean direct = MR == GemmKernel8x16.MR && b.dtype() == DType.BF16;   // B read by the kernel itself
                int j = n0;
                if (Simd.ZMM_GEMM && mc >= ZMM_MIN_ROWS) {
                    // 512-bit 8×32 tiles over panel pairs; the widening pass is shared by ≥ 8 row panels
                    for (; j + 2 * NR <= n1; j += 2 * NR) {
                        b.packPanel32(pc, kc, j, bb, 0);
                        rows8x32(kc, aa, 0, mc, bb, 0, sc, c, cOff + 4 * ((long) ic * ldc + j), ldcB, add);
                        if (last && (biasN != null || biasM != null))
                            addBias(c, cOff + 4 * ((long) ic * ldc + j), ldcB, mc, 2 * NR, biasN, j, biasM, ic);
                    }
                }
                for (; j < n1; j += NR) {
                    long bo = b.panelOffset(pc, kc, j);
                    if (!direct) b.packPanel(pc, kc, j, NR, bb, 0);
                    for (int r = 0; r < mPanels; r++) {
                        int mr = Math.min(MR, mc - r * MR);
                        long co = cOff + 4 * ((long) (ic + r * MR) * ldc + j);
                        MemorySegment cs = mr == MR ? c : sc.tile;
                        long cso = mr == MR ? co : 0, ld = mr == MR ? ldcB : NR * 4;
                        boolean addHere = mr == MR && add;
                        if (direct) GemmKernel8x16.runBf16(kc, aa, r * kc * MR, b.seg(), bo, sc.acc, cs, cso, ld, addHere);
                        else kernel(kc, aa, r * kc * MR, bb, 0, sc, cs, cso, ld, addHere);
                        if (mr != MR) edge(sc.tile, mr, NR, c, co, ldcB, add);
                    }
                    if (last && (biasN != null || biasM != null))
                        addBias(c, cOff + 4 * ((long) ic * ldc + j), ldcB, mc, NR, biasN, j, biasM, ic);
                }
            }
        }
    }

    /**
     * Every row panel of an mc-row A block (panels from {@code aa[a0]}) against one 32-column B
     * panel pair ({@code bb[bo]}) with the 8×32 kernel; C block at byte {@code co0}, partial last
     * panel through the tile.
     */
    private static void rows8x32(int kc, float[] aa, int a0, int mc, float[] bb, int bo, GemmScratch sc,
                                 MemorySegment c, long co0, long ldcB, boolean add) {
        for (int r = 0, i = 0; i < mc; r++, i += MR) {
            int mr = Math.min(MR, mc - i);
            long co = co0 + i * ldcB;
            if (mr == MR) {
                GemmKernel8x32.run(kc, aa, a0 + r * kc * MR, bb, bo, sc.acc, c, co, ldcB, add);
            } else {
                GemmKernel8x32.run(kc, aa, a0 + r * kc * MR, bb, bo, sc.acc, sc.tile, 0, 2 * NR * 4, false);
                edge(sc.tile, 2 * NR, mr, 2 * NR, c, co, ldcB, add);
            }
        }
    }

    /** The MR×16 micro-kernel (MR is a constant, so the JIT keeps one branch). */
    private static void kernel(int kc, float[] aa, int ao, float[] bb, int bo, GemmScratch sc,
                               MemorySegment c, long co, long ldcB, boolean add) {
        if (MR == GemmKernel8x16.MR) GemmKernel8x16.run(kc, aa, ao, bb, bo, sc.acc, c, co, ldcB, add);
        else GemmKernel5x16.run(kc, aa, ao, bb, bo, c, co, ldcB, add);
    }

    /** C[0..mr, 0..nr] (+)= tile, the same arithmetic as the kernel's own store. */
    private static void edge(MemorySegment tile, int mr, int nr, MemorySegment c, long co, long ldcB, boolean add) {
        edge(tile, NR, mr, nr, c, co, ldcB, add);
    }

    /** As above for a tile whose rows are {@code tileCols} floats apart. */
    private static void edge(MemorySegment tile, int tileCols, int mr, int nr, MemorySegment c, long co, long ldcB, boolean add) {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++) {
                float v = tile.get(F32_LE, 4L * (i * tileCols + j));
                long o = co + i * ldcB + 4L * j;
                c.set(F32_LE, o, add ? v + c.get(F32_LE, o) : v);
            }
    }

    private static void addBias(MemorySegment c, long co, long ldcB, int mc, int nc, float[] biasN, int j0, float[] biasM, int i0) {
        int vl = Widen.F.length(), nv = nc - nc % vl;
        for (int i = 0; i < mc; i++) {
            long row = co + i * ldcB;
            if (biasN != null) {
                int j = 0;
                for (; j < nv; j += vl) {
                    long o = row + 4L * j;
                    FloatVector.fromMemorySegment(Widen.F, c, o, LE).add(FloatVector.fromArray(Widen.F, biasN, j0 + j))
                            .intoMemorySegment(c, o, LE);
                }
                for (; j < nc; j++) c.set(F32_LE, row + 4L * j, c.get(F32_LE, row + 4L * j) + biasN[j0 + j]);
            }
            if (biasM != null) {
                float bm = biasM[i0 + i];
                int j = 0;
                for (; j < nv; j += vl) {
                    long o = row + 4L * j;
                    FloatVector.fromMemorySegment(Widen.F, c, o, LE).add(bm).intoMemorySegment(c, o, LE);
                }
                for (; j < nc; j++) c.set(F32_LE, row + 4L * j, c.get(F32_LE, row + 4L * j) + bm);
            }
        }
    }
}
