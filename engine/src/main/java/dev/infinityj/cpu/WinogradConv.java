package dev.infinityj.cpu;

import dev.infinityj.ShapeException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.infinityj.tensor.Tensor.F32_LE;

/**
 * 3×3, stride 1, pad 1 convolution by Winograd F(4×4, 3×3) (Lavin &amp; Gray, points 0, ±1, ±2, ∞):
 * each 4×4 output tile is {@code Aᵀ [ Σ_c (G g_oc Gᵀ) ⊙ (Bᵀ d_c B) ] A} over the 6×6 input tile
 * d_c, i.e. 36 multiplies per tile and channel pair instead of 144 (4× fewer).
 *
 * <p>Layout: the transformed weights U are 36 row-major [O, C] matrices ({@link #transformWeights},
 * done once per weight, see {@link WinogradWeights}); the tiles are processed in chunks
 * of whole tile rows (at most {@link #CHUNK_BYTES} of transformed data): the input transform writes
 * V, 36 row-major [C, T] matrices; 36 GEMMs ({@link Gemm#multiply}) give M_ξ = U_ξ · V_ξ, [O, T];
 * the output transform turns M into 4×4 tiles, adds the bias and writes the rows of y.
 * Transforms are vectorised over 8 neighbouring tiles of one tile row ({@link Simd#F}): the 6 input
 * rows of a tile row are copied, zero padded, and split into the 4 phases of the tile grid (x mod 4)
 * so that every tap of 8 tiles is one contiguous load; the output rows come out in phases too and
 * are interleaved while copied out (the split and the interleave are two-table lane selects;
 * a first version with stride-4 gathers and scatters was several times slower).
 *
 * <p>Memory: V and M of one chunk live in a per-calling-thread scratch buffer that is reused
 * (about {@link #CHUNK_BYTES}, more only when a single tile row is larger: 36·(C+O)·4 bytes per
 * tile); transformed weights take 36·O·C·4 bytes (4× an F32 3×3 weight).
 *
 * <p>Determinism: every output element is computed by one fixed sequence of operations — the
 * chunk split depends only on the shapes, the transforms are element-wise, and {@link Gemm} sums
 * in an order that depends only on (O, C) — so results are bitwise identical for any thread count.
 * {@link #reference} is the same algorithm in plain scalar float64 code, for tests.
 */
public final class WinogradConv {
    private WinogradConv() {}

    /** Positions of the 6×6 transform domain. */
    public static final int POS = 36;

    /** Upper bound on the transformed input plus output of one chunk of tiles (bytes). */
    static final long CHUNK_BYTES = Long.getLong("infinityj.winogradChunkBytes", 24L << 20);

    private static final VectorSpecies<Float> F = Simd.F;
    private static final int L = 8;                                   // lanes of F
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** G (6×3) of F(4, 3). */
    static final double[][] G = {
            {1 / 4.0, 0, 0},
            {-1 / 6.0, -1 / 6.0, -1 / 6.0},
            {-1 / 6.0, 1 / 6.0, -1 / 6.0},
            {1 / 24.0, 1 / 12.0, 1 / 6.0},
            {1 / 24.0, -1 / 12.0, 1 / 6.0},
            {0, 0, 1}};
    /** Bᵀ (6×6). */
    static final double[][] BT = {
            {4, 0, -5, 0, 1, 0},
            {0, -4, -4, 1, 1, 0},
            {0, 4, -4, -1, 1, 0},
            {0, -2, -1, 2, 1, 0},
            {0, 2, -1, -2, 1, 0},
            {0, 4, 0, -5, 0, 1}};
    /** Aᵀ (4×6). */
    static final double[][] AT = {
            {1, 1, 1, 1, 1, 0},
            {0, 1, -1, 2, -2, 0},
            {0, 1, 1, 4, 4, 0},
            {0, 1, -1, 8, -8, 1}};

    // transform constants as vectors (no helper call: helpers inside these kernels hit C2's inlining node limit)
    private static final FloatVector P2 = FloatVector.broadcast(F, 2f), P4 = FloatVector.broadcast(F, 4f),
            P8 = FloatVector.broadcast(F, 8f), M4 = FloatVector.broadcast(F, -4f), M5 = FloatVector.broadcast(F, -5f);

    /** Bytes of transformed weights for O×C filters. */
    public static long weightBytes(int o, int c) { return (long) POS * o * c * 4; }

    /**
     * U[ξ = 6i + j][o][c] = (G g_oc Gᵀ)[i][j] for a 3×3 weight [O, C, 3, 3] (any dtype), into native
     * memory of {@code arena}; in float arithmetic vectorised over 8 input channels (a few ulp from
     * the float64 transform {@link #transformFilter}, tested), split over the pool by output channel.
     */
    public static MemorySegment transformWeights(Tensor w, Arena arena, CpuThreads pool) {
        if (w.rank() != 4 || w.dim(2) != 3 || w.dim(3) != 3) throw new ShapeException("Winograd: expected a 3×3 weight, got " + w.describe());
        int o = Math.toIntExact(w.dim(0)), c = Math.toIntExact(w.dim(1));
        MemorySegment u = arena.allocate(weightBytes(o, c), 64);
        long plane = (long) o * c;
        int cp = (c + L - 1) / L * L;
        pool.parallelRange(o, 1, (o0, o1) -> {
            float[] gt = new float[9 * cp], t = new float[18 * L], out = new float[POS * cp];
            for (int oc = (int) o0; oc < o1; oc++) {
                float[] g = w.get(oc).contiguous().to(DType.F32).toFloatArray();   // [C, 3, 3]
                for (int k = 0; k < 9; k++)
                    for (int ci = 0; ci < c; ci++) gt[k * cp + ci] = g[ci * 9 + k];
                for (int ci = 0; ci < cp; ci += L) filterBlock(gt, cp, ci, t, out);
                for (int xi = 0; xi < POS; xi++)
                    MemorySegment.copy(out, xi * cp, u, F32_LE, 4 * (xi * plane + (long) oc * c), c);
            }
        });
        return u;
    }

    private static final FloatVector QUARTER = FloatVector.broadcast(F, 0.25f), SIXTH = FloatVector.broadcast(F, 1 / 6f),
            MSIXTH = FloatVector.broadcast(F, -1 / 6f), TWELFTH = FloatVector.broadcast(F, 1 / 12f),
            TWENTYFOURTH = FloatVector.broadcast(F, 1 / 24f);

    /** G g Gᵀ of 8 filters (channels ci …): gt[(3a + b)·cp + ci] = g[a][b] → out[(6i + j)·cp + ci]. */
    private static void filterBlock(float[] gt, int cp, int ci, float[] t, float[] out) {
        for (int b = 0; b < 3; b++) filterColumn(gt, cp, ci + b * cp, t, b);     // t[i][b] = (G g)[i][b]
        for (int i = 0; i < 6; i++) filterRow(t, i, out, cp, ci + 6 * i * cp);    // out[i][j] = (t Gᵀ)[i][j]
    }

    private static void filterColumn(float[] gt, int cp, int at, float[] t, int b) {
        FloatVector x0 = FloatVector.fromArray(F, gt, at), x1 = FloatVector.fromArray(F, gt, at + 3 * cp),
                x2 = FloatVector.fromArray(F, gt, at + 6 * cp);
        FloatVector s = x0.add(x2), p = x0.fma(TWENTYFOURTH, x2.mul(SIXTH)), q = x1.mul(TWELFTH);
        x0.mul(QUARTER).intoArray(t, b * L);
        s.add(x1).mul(MSIXTH).intoArray(t, (3 + b) * L);
        s.sub(x1).mul(MSIXTH).intoArray(t, (6 + b) * L);
        p.add(q).intoArray(t, (9 + b) * L);
        p.sub(q).intoArray(t, (12 + b) * L);
        x2.intoArray(t, (15 + b) * L);
    }

    private static void filterRow(float[] t, int i, float[] out, int cp, int at) {
        FloatVector x0 = FloatVector.fromArray(F, t, 3 * i * L), x1 = FloatVector.fromArray(F, t, (3 * i + 1) * L),
                x2 = FloatVector.fromArray(F, t, (3 * i + 2) * L);
        FloatVector s = x0.add(x2), p = x0.fma(TWENTYFOURTH, x2.mul(SIXTH)), q = x1.mul(TWELFTH);
        x0.mul(QUARTER).intoArray(out, at);
        s.add(x1).mul(MSIXTH).intoArray(out, at + cp);
        s.sub(x1).mul(MSIXTH).intoArray(out, at + 2 * cp);
        p.add(q).intoArray(out, at + 3 * cp);
        p.sub(q).intoArray(out, at + 4 * cp);
        x2.intoArray(out, at + 5 * cp);
    }

    /** t[6i + j] = (G g Gᵀ)[i][j] of the 3×3 filter g at rows[off …] (row-major), in float64 (reference). */
    static void transformFilter(float[] g, int off, double[] t) {
        for (int i = 0; i < 6; i++) {
            double r0 = G[i][0] * g[off] + G[i][1] * g[off + 3] + G[i][2] * g[off + 6];      // (G g)[i][0..2]
            double r1 = G[i][0] * g[off + 1] + G[i][1] * g[off + 4] + G[i][2] * g[off + 7];
            double r2 = G[i][0] * g[off + 2] + G[i][1] * g[off + 5] + G[i][2] * g[off + 8];
            for (int j = 0; j < 6; j++) t[i * 6 + j] = r0 * G[j][0] + r1 * G[j][1] + r2 * G[j][2];
        }
    }

    /** Tile rows per chunk for this shape (depends only on the shape, never on threads). */
    static int chunkTileRows(int c, int o, int tilesX, int tilesY, long chunkBytes) {
        long perTile = (long) POS * (c + o) * 4;
        long tiles = Math.max(1, Math.min(2048, chunkBytes / perTile));
        return (int) Math.max(1, Math.min(tilesY, tiles / tilesX));
    }

    /**
     * y[O, H, W] (contiguous at byte {@code yOff} of {@code y}) = conv3×3(pad 1)(x) + bias, x [C, H, W]
     * at byte {@code xOff} of {@code xs} with the given channel and row strides (elements; rows
     * contiguous), u from {@link #transformWeights}.
     */
    public static void conv(CpuThreads pool, MemorySegment xs, long xOff, long chStride, long rowStride, int c, int h, int w,
                            MemorySegment u, int o, float[] bias, MemorySegment y, long yOff) {
        conv(pool, xs, xOff, chStride, rowStride, c, h, w, prepare(u, o, c), bias, y, yOff, CHUNK_BYTES);
    }

    /** {@link #conv} with the transformed weights already packed for the GEMMs ({@link #prepare}). */
    public static void conv(CpuThreads pool, MemorySegment xs, long xOff, long chStride, long rowStride, int c, int h, int w,
                            Transformed u, float[] bias, MemorySegment y, long yOff) {
        conv(pool, xs, xOff, chStride, rowStride, c, h, w, u, bias, y, yOff, CHUNK_BYTES);
    }

    /**
     * Transformed weights ready for the 36 GEMMs: each U_ξ [O, C] packed once into the kernel's
     * A-panel order ({@link PackedA}), so no call re-packs them (that was 19 % of a decode).
     */
    public record Transformed(PackedA[] positions, int o, int c) {
        public long bytes() {
            long b = 0;
            for (PackedA p : positions) b += p.bytes();
            return b;
        }
    }

    /** Packs {@link #transformWeights}' output for the GEMMs. */
    public static Transformed prepare(MemorySegment u, int o, int c) {
        if (u.byteSize() < weightBytes(o, c)) throw new ShapeException("Winograd: transformed weights too small");
        PackedA[] p = new PackedA[POS];
        for (int xi = 0; xi < POS; xi++) p[xi] = PackedA.pack(Mat.rowMajor(u, 4L * xi * o * c, DType.F32, c), o, c);
        return new Transformed(p, o, c);
    }

    /** {@link #conv} with chunks of at most {@code chunkBytes} (tests: several chunks on small maps). */
    static void conv(CpuThreads pool, MemorySegment xs, long xOff, long chStride, long rowStride, int c, int h, int w,
                     MemorySegment u, int o, float[] bias, MemorySegment y, long yOff, long chunkBytes) {
        conv(pool, xs, xOff, chStride, rowStride, c, h, w, prepare(u, o, c), bias, y, yOff, chunkBytes);
    }

    static void conv(CpuThreads pool, MemorySegment xs, long xOff, long chStride, long rowStride, int c, int h, int w,
                     Transformed u, float[] bias, MemorySegment y, long yOff, long chunkBytes) {
        int o = u.o();
        if (c < 1 || o < 1 || h < 1 || w < 1) throw new ShapeException("Winograd: empty conv " + c + "→" + o + " at " + h + "×" + w);
        if (u.c() != c) throw new ShapeException("Winograd: transformed weights for " + u.c() + " input channels, the input has " + c);
        int tilesX = (w + 3) / 4, tilesY = (h + 3) / 4;
        int rowsPer = chunkTileRows(c, o, tilesX, tilesY, chunkBytes);
        int maxT = rowsPer * tilesX;
        int ld = (maxT + 7 + L - 1) / L * L;       // row length of V and M: room for the last 8-tile block's overhang
        long vBytes = 4L * POS * c * ld;
        MemorySegment scratch = scratch(vBytes + 4L * POS * o * ld);
        MemorySegment v = scratch, m = scratch.asSlice(vBytes);
        int pl = (tilesX + L - 1) / L * L + L;     // one phase of one row: tiles, rounded up, + room for the shift by one tile
        for (int ty0 = 0; ty0 < tilesY; ty0 += rowsPer) {
            final int r0 = ty0, r1 = Math.min(tilesY, ty0 + rowsPer), nt = (r1 - r0) * tilesX;
            pool.parallelRange(c, 1, (c0, c1) -> {
                float[] line = new float[4 * pl], rows = new float[24 * pl], tmp = new float[POS * L];
                for (int ci = (int) c0; ci < c1; ci++)
                    for (int ty = r0; ty < r1; ty++) {
                        loadRows(xs, xOff + 4 * (ci * chStride), rowStride, h, w, 4 * ty - 1, line, rows, pl);
                        for (int tx = 0; tx < tilesX; tx += L)
                            inputBlock(rows, pl, tx, tmp, v, 4 * ((long) ci * ld + (long) (ty - r0) * tilesX + tx), 4L * c * ld);
                    }
            });
            pool.parallelFor(POS, xi -> Gemm.multiply(pool, o, nt, c, u.positions()[xi],
                    Mat.rowMajor(v, 4L * xi * c * ld, DType.F32, ld),
                    m, 4L * xi * o * ld, ld, null, null, false));
            pool.parallelRange(o, 1, (o0, o1) -> {
                float[] out = new float[16 * pl], line = new float[4 * pl], tmp = new float[24 * L];
                for (int oc = (int) o0; oc < o1; oc++) {
                    float b = bias == null ? 0f : bias[oc];
                    for (int ty = r0; ty < r1; ty++) {
                        for (int tx = 0; tx < tilesX; tx += L)
                            outputBlock(m, 4 * ((long) oc * ld + (long) (ty - r0) * tilesX + tx), 4L * o * ld, b, tmp, out, pl, tx);
                        int rowsOut = Math.min(4, h - 4 * ty);
                        for (int i = 0; i < rowsOut; i++)
                            storeRow(out, 4 * i * pl, pl, line, w, y, yOff + 4 * (((long) oc * h + 4 * ty + i) * w));
                    }
                }
            });
        }
    }

    private static final ThreadLocal<MemorySegment[]> SCRATCH = ThreadLocal.withInitial(() -> new MemorySegment[1]);

    /**
     * The calling thread's V and M buffer, grown to {@code bytes} and then reused: one per thread
     * that calls {@link #conv}, at most about {@link #CHUNK_BYTES} unless one tile row is larger.
     */
    private static MemorySegment scratch(long bytes) {
        MemorySegment[] s = SCRATCH.get();
        if (s[0] == null || s[0].byteSize() < bytes) {
            s[0] = null;
            s[0] = Arena.ofAuto().allocate(bytes, 64);
        }
        return s[0];
    }

    /**
     * Input rows iy0 … iy0+5 of one channel, zero padded (x = −1, x ≥ W, rows outside the map) and
     * split into the 4 phases of the tile grid: rows[(4k + q)·pl + t] = x[iy0+k][4t + q − 1].
     * {@code line} is scratch of at least 4·pl floats.
     */
    static void loadRows(MemorySegment xs, long chanOff, long rowStride, int h, int w, int iy0, float[] line, float[] rows, int pl) {
        for (int k = 0; k < 6; k++) {
            int iy = iy0 + k;
            if (iy < 0 || iy >= h) java.util.Arrays.fill(rows, 4 * k * pl, 4 * (k + 1) * pl, 0f);
            else {
                line[0] = 0f;
                MemorySegment.copy(xs, F32_LE, chanOff + 4 * (iy * rowStride), line, 1, w);
                java.util.Arrays.fill(line, 1 + w, 4 * pl, 0f);
                split4(line, rows, 4 * k * pl, pl);
            }
        }
    }

    /** dst[at + q·pl + t] = line[4t + q] for t &lt; pl, q &lt; 4 (pl a multiple of 8). */
    static void split4(float[] line, float[] dst, int at, int pl) {
        for (int t = 0; t < pl; t += L) split8(line, 4 * t, dst, at + t, pl);
    }

    // lane selectors (two-table lookups, vpermt2ps) for the 4-phase split of 32 floats
    private static final FloatVector SEL01 = FloatVector.fromArray(F, new float[] {0, 4, 8, 12, 1, 5, 9, 13}, 0),
            SEL23 = FloatVector.fromArray(F, new float[] {2, 6, 10, 14, 3, 7, 11, 15}, 0),
            SEL_LO = FloatVector.fromArray(F, new float[] {0, 1, 2, 3, 8, 9, 10, 11}, 0),
            SEL_HI = FloatVector.fromArray(F, new float[] {4, 5, 6, 7, 12, 13, 14, 15}, 0);

    /** The 4 phases of 8 tiles: dst[at + q·pl + t] = line[src + 4t + q], t &lt; 8 (2× the scalar loop, measured). */
    private static void split8(float[] line, int src, float[] dst, int at, int pl) {
        FloatVector a = FloatVector.fromArray(F, line, src), b = FloatVector.fromArray(F, line, src + L);
        FloatVector c = FloatVector.fromArray(F, line, src + 2 * L), d = FloatVector.fromArray(F, line, src + 3 * L);
        FloatVector ab01 = SEL01.selectFrom(a, b), cd01 = SEL01.selectFrom(c, d);
        FloatVector ab23 = SEL23.selectFrom(a, b), cd23 = SEL23.selectFrom(c, d);
        SEL_LO.selectFrom(ab01, cd01).intoArray(dst, at);
        SEL_HI.selectFrom(ab01, cd01).intoArray(dst, at + pl);
        SEL_LO.selectFrom(ab23, cd23).intoArray(dst, at + 2 * pl);
        SEL_HI.selectFrom(ab23, cd23).intoArray(dst, at + 3 * pl);
    }

    /** Scalar {@link #split4}, for tests. */
    static void split4Reference(float[] line, float[] dst, int at, int pl) {
        for (int t = 0; t < pl; t++)
            for (int q = 0; q < 4; q++) dst[at + q * pl + t] = line[4 * t + q];
    }

    /**
     * Bᵀ d B of 8 neighbouring tiles tx … tx+7 (from {@link #loadRows}' phases) into V[ξ] at byte
     * {@code vOff + ξ·vPlane} (8 floats each).
     */
    static void inputBlock(float[] rows, int pl, int tx, float[] tmp, MemorySegment v, long vOff, long vPlane) {
        for (int l = 0; l < 6; l++) inputColumn(rows, pl, (l & 3) * pl + tx + (l >> 2), tmp, l);  // tmp[i][l] = (Bᵀ d)[i][l]
        for (int i = 0; i < 6; i++) inputRow(tmp, i, v, vOff + 6L * i * vPlane, vPlane);          // V[i][j] = (tmp B)[i][j]
    }

    /** Column l of Bᵀ d: d[k][l] = rows[4k·pl + at …] (8 tiles). */
    private static void inputColumn(float[] rows, int pl, int at, float[] tmp, int l) {
        FloatVector d0 = FloatVector.fromArray(F, rows, at);
        FloatVector d1 = FloatVector.fromArray(F, rows, 4 * pl + at);
        FloatVector d2 = FloatVector.fromArray(F, rows, 8 * pl + at);
        FloatVector d3 = FloatVector.fromArray(F, rows, 12 * pl + at);
        FloatVector d4 = FloatVector.fromArray(F, rows, 16 * pl + at);
        FloatVector d5 = FloatVector.fromArray(F, rows, 20 * pl + at);
        FloatVector a = d2.fma(M4, d4), b = d1.fma(M4, d3), cc = d4.sub(d2), dd = d3.sub(d1).mul(P2);
        d0.fma(P4, d2.fma(M5, d4)).intoArray(tmp, l * L);
        a.add(b).intoArray(tmp, (6 + l) * L);
        a.sub(b).intoArray(tmp, (12 + l) * L);
        cc.add(dd).intoArray(tmp, (18 + l) * L);
        cc.sub(dd).intoArray(tmp, (24 + l) * L);
        d1.fma(P4, d3.fma(M5, d5)).intoArray(tmp, (30 + l) * L);
    }

    private static void inputRow(float[] tmp, int i, MemorySegment v, long off, long plane) {
        int t = i * 6 * L;
        FloatVector d0 = FloatVector.fromArray(F, tmp, t);
        FloatVector d1 = FloatVector.fromArray(F, tmp, t + L);
        FloatVector d2 = FloatVector.fromArray(F, tmp, t + 2 * L);
        FloatVector d3 = FloatVector.fromArray(F, tmp, t + 3 * L);
        FloatVector d4 = FloatVector.fromArray(F, tmp, t + 4 * L);
        FloatVector d5 = FloatVector.fromArray(F, tmp, t + 5 * L);
        FloatVector a = d2.fma(M4, d4), b = d1.fma(M4, d3), cc = d4.sub(d2), dd = d3.sub(d1).mul(P2);
        d0.fma(P4, d2.fma(M5, d4)).intoMemorySegment(v, off, LE);
        a.add(b).intoMemorySegment(v, off + plane, LE);
        a.sub(b).intoMemorySegment(v, off + 2 * plane, LE);
        cc.add(dd).intoMemorySegment(v, off + 3 * plane, LE);
        cc.sub(dd).intoMemorySegment(v, off + 4 * plane, LE);
        d1.fma(P4, d3.fma(M5, d5)).intoMemorySegment(v, off + 5 * plane, LE);
    }

    /**
     * Aᵀ M A + bias of 8 neighbouring tiles tx … tx+7 (M[ξ] at byte {@code mOff + ξ·mPlane}) into
     * the phases of the 4 output rows: out[(4r + j)·pl + tx + t] = y[r][4(tx+t) + j].
     */
    static void outputBlock(MemorySegment m, long mOff, long mPlane, float bias, float[] tmp, float[] out, int pl, int tx) {
        for (int j = 0; j < 6; j++) outputColumn(m, mOff + j * mPlane, 6 * mPlane, tmp, j);  // tmp[r][j] = (Aᵀ M)[r][j]
        for (int r = 0; r < 4; r++) outputRow(tmp, r, bias, out, 4 * r * pl + tx, pl);
    }

    /** Interleaves the 4 phases of one output row (at out[at …]) and writes its w values at byte yOff. */
    static void storeRow(float[] out, int at, int pl, float[] line, int w, MemorySegment y, long yOff) {
        for (int t = 0; 4 * t < w; t += L) merge8(out, at + t, pl, line, 4 * t);
        MemorySegment.copy(line, 0, y, F32_LE, yOff, w);
    }

    /** The inverse of {@link #split8}: line[dst + 4t + q] = out[at + q·pl + t], t &lt; 8. */
    private static void merge8(float[] out, int at, int pl, float[] line, int dst) {
        FloatVector p0 = FloatVector.fromArray(F, out, at), p1 = FloatVector.fromArray(F, out, at + pl);
        FloatVector p2 = FloatVector.fromArray(F, out, at + 2 * pl), p3 = FloatVector.fromArray(F, out, at + 3 * pl);
        FloatVector lo01 = SEL_LO.selectFrom(p0, p1), lo23 = SEL_LO.selectFrom(p2, p3);
        FloatVector hi01 = SEL_HI.selectFrom(p0, p1), hi23 = SEL_HI.selectFrom(p2, p3);
        SEL01.selectFrom(lo01, lo23).intoArray(line, dst);
        SEL23.selectFrom(lo01, lo23).intoArray(line, dst + L);
        SEL01.selectFrom(hi01, hi23).intoArray(line, dst + 2 * L);
        SEL23.selectFrom(hi01, hi23).intoArray(line, dst + 3 * L);
    }

    private static void outputColumn(MemorySegment m, long off, long step, float[] tmp, int j) {
        FloatVector m0 = FloatVector.fromMemorySegment(F, m, off, LE);
        FloatVector m1 = FloatVector.fromMemorySegment(F, m, off + step, LE);
        FloatVector m2 = FloatVector.fromMemorySegment(F, m, off + 2 * step, LE);
        FloatVector m3 = FloatVector.fromMemorySegment(F, m, off + 3 * step, LE);
        FloatVector m4 = FloatVector.fromMemorySegment(F, m, off + 4 * step, LE);
        FloatVector m5 = FloatVector.fromMemorySegment(F, m, off + 5 * step, LE);
        FloatVector a = m1.add(m2), b = m1.sub(m2), cc = m3.add(m4), dd = m3.sub(m4);
        m0.add(a).add(cc).intoArray(tmp, j * L);
        dd.fma(P2, b).intoArray(tmp, (6 + j) * L);
        cc.fma(P4, a).intoArray(tmp, (12 + j) * L);
        dd.fma(P8, b).add(m5).intoArray(tmp, (18 + j) * L);
    }

    private static void outputRow(float[] tmp, int r, float bias, float[] out, int at, int pl) {
        int t = r * 6 * L;
        FloatVector m0 = FloatVector.fromArray(F, tmp, t);
        FloatVector m1 = FloatVector.fromArray(F, tmp, t + L);
        FloatVector m2 = FloatVector.fromArray(F, tmp, t + 2 * L);
        FloatVector m3 = FloatVector.fromArray(F, tmp, t + 3 * L);
        FloatVector m4 = FloatVector.fromArray(F, tmp, t + 4 * L);
        FloatVector m5 = FloatVector.fromArray(F, tmp, t + 5 * L);
        FloatVector a = m1.add(m2), b = m1.sub(m2), cc = m3.add(m4), dd = m3.sub(m4);
        m0.add(a).add(cc).add(bias).intoArray(out, at);
        dd.fma(P2, b).add(bias).intoArray(out, at + pl);
        cc.fma(P4, a).add(bias).intoArray(out, at + 2 * pl);
        dd.fma(P8, b).add(m5).add(bias).intoArray(out, at + 3 * pl);
    }

    /**
     * The same algorithm in plain float64 scalar code (weights transformed here too), for tests:
     * x [C][H][W] (contiguous), w [O][C][3][3], bias (nullable) → y [O][H][W].
     */
    public static double[] reference(double[] x, int c, int h, int w, double[] wt, int o, double[] bias) {
        int tilesX = (w + 3) / 4, tilesY = (h + 3) / 4;
        double[] y = new double[o * h * w];
        double[][] u = new double[o * c][36];
        for (int k = 0; k < o * c; k++)
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++) {
                    double s = 0;
                    for (int a = 0; a < 3; a++)
                        for (int b = 0; b < 3; b++) s += G[i][a] * wt[k * 9 + a * 3 + b] * G[j][b];
                    u[k][i * 6 + j] = s;
                }
        double[] d = new double[36], vt = new double[36];
        for (int ty = 0; ty < tilesY; ty++)
            for (int tx = 0; tx < tilesX; tx++) {
                double[][] v = new double[c][36];
                for (int ci = 0; ci < c; ci++) {
                    for (int k = 0; k < 6; k++)
                        for (int l = 0; l < 6; l++) {
                            int iy = 4 * ty - 1 + k, ix = 4 * tx - 1 + l;
                            d[k * 6 + l] = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[(ci * h + iy) * w + ix] : 0;
                        }
                    for (int i = 0; i < 6; i++)
                        for (int l = 0; l < 6; l++) {
                            double s = 0;
                            for (int k = 0; k < 6; k++) s += BT[i][k] * d[k * 6 + l];
                            vt[i * 6 + l] = s;
                        }
                    for (int i = 0; i < 6; i++)
                        for (int j = 0; j < 6; j++) {
                            double s = 0;
                            for (int l = 0; l < 6; l++) s += vt[i * 6 + l] * BT[j][l];
                            v[ci][i * 6 + j] = s;
                        }
                }
                for (int oc = 0; oc < o; oc++) {
                    double[] mm = new double[36];
                    for (int ci = 0; ci < c; ci++)
                        for (int p = 0; p < 36; p++) mm[p] += u[oc * c + ci][p] * v[ci][p];
                    for (int r = 0; r < 4; r++)
                        for (int s2 = 0; s2 < 4; s2++) {
                            int oy = 4 * ty + r, ox = 4 * tx + s2;
                            if (oy >= h || ox >= w) continue;
                            double s = bias == null ? 0 : bias[oc];
                            for (int i = 0; i < 6; i++)
                                for (int j = 0; j < 6; j++) s += AT[r][i] * mm[i * 6 + j] * AT[s2][j];
                            y[(oc * h + oy) * w + ox] = s;
                        }
                }
            }
        return y;
    }
}
