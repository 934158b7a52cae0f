package dev.infinityj.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * FlashAttention-2 style multi-head attention on the CPU: o = softmax(scale·q kᵀ [+ bias]) v,
 * online softmax over blocks of {@link #KB} keys, never materialising Lq×Lk.
 *
 * <p>One task = one head × a block of {@link #QB} queries ({@link #QB_LARGE} when Lq ≥ 512, so each
 * K/V block fetched from memory serves more queries). Q·Kᵀ: with Lq ≥ {@link #TRANSPOSE_MIN_LQ}, K is
 * first laid out transposed per 64-key block ([D][KB], once per call) and scores come from
 * 4-query × 2-vector broadcast-FMA tiles (measured ~100 GFLOPS/core in isolation); for the small
 * scales (few queries) it is vectorised over D instead, 4-query × 2-key tiles (1 × 4 for leftover
 * queries) with {@link VecMath#hsum}. P·V is vectorised over Dv in 4-query × 2-vector tiles
 * reading V rows straight from the segment. Every score and output lane is a fixed sequence of
 * FMAs, and block sizes depend only on the shape, so results are identical for any thread count.
 * Rows are addressed by element offset + row stride + head stride, so q/k/v may be strided views
 * (packed qkv, KV-cache rows) as long as D is unit-stride. The plain reference is
 * {@code NaiveBackend.attention}.
 */
public final class FlashAttention {
    private FlashAttention() {}

    static final VectorSpecies<Float> S = Simd.F; // one vector shape for all kernels (see Simd)
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    /** Queries per task and keys per online-softmax block. */
    public static final int QB = 32, QB_LARGE = 128, KB = 64;

    /** Where one operand lives: element offset of [0,0,0], row stride (dim 0) and head stride (dim 1). */
    public record Operand(MemorySegment seg, long offset, long rowStride, long headStride) {}

    /**
     * out [lq, h, dv] (a contiguous segment starting at element 0) ← attention.
     * bias, if not null, is a contiguous F32 [h, lq, lk] segment (added after scaling).
     */
    public static void run(CpuThreads pool, Operand q, Operand k, Operand v, MemorySegment bias,
                           MemorySegment out, int lq, int lk, int h, int d, int dv, float scale) {
        int qbs = lq >= 4 * QB_LARGE ? QB_LARGE : QB;
        int nqb = (lq + qbs - 1) / qbs;
        int tasks = h * nqb;
        boolean par = pool != null && (double) lq * lk * h * (d + dv) >= (1 << 17);
        // With several query blocks per head, Kᵀ is laid out once (block-major [KB keys][D] → [D][KB])
        // so Q·Kᵀ becomes a broadcast-FMA GEMM tile like P·V, with no horizontal sums. The choice
        // depends only on the shape, never on the thread count.
        boolean transpose = lq >= TRANSPOSE_MIN_LQ && (long) h * ((lk + KB - 1) / KB) * d * KB <= Integer.MAX_VALUE - 8;
        float[] kt = transpose ? transposeK(pool, par, k, lk, h, d) : null;
        int nkb = (lk + KB - 1) / KB;
        java.util.function.IntConsumer body = t -> {
            int head = t / nqb, q0 = (t % nqb) * qbs;
            task(q, k, kt, nkb, v, bias, out, head, q0, Math.min(qbs, lq - q0), lq, lk, h, d, dv, scale);
        };
        if (!par) for (int t = 0; t < tasks; t++) body.accept(t);
        else pool.parallelFor(tasks, body);
    }

    /** Query count from which K is transposed up front (the transpose costs about one query block). */
    static final int TRANSPOSE_MIN_LQ = 2 * QB;

    private static final ThreadLocal<java.lang.ref.SoftReference<float[]>> KT = ThreadLocal.withInitial(() -> new java.lang.ref.SoftReference<>(null));

    /** kt[((head·nkb + b)·d + p)·KB + jj] = k[b·KB + jj, head, p], zero for keys past lk. */
    static float[] transposeK(CpuThreads pool, boolean par, Operand k, int lk, int h, int d) {
        int nkb = (lk + KB - 1) / KB;
        long size = (long) h * nkb * d * KB;   // the caller checked it fits an array
        float[] kt = KT.get().get();
        if (kt == null || kt.length < size) { kt = new float[(int) size]; KT.set(new java.lang.ref.SoftReference<>(kt)); }
        float[] dst = kt;
        java.util.function.IntConsumer body = t -> {
            int head = t / nkb, b = t % nkb;
            transposeBlock(k.seg(), k.offset() + head * k.headStride() + (long) b * KB * k.rowStride(), k.rowStride(),
                    Math.min(KB, lk - b * KB), d, dst, t * d * KB);
        };
        if (par) pool.parallelFor(h * nkb, body);
        else for (int t = 0; t < h * nkb; t++) body.accept(t);
        return kt;
    }

    static void transposeBlock(MemorySegment k, long off, long row, int nk, int d, float[] dst, int at) {
        for (int jj = 0; jj < nk; jj++) {
            long r = off + jj * row;
            for (int p = 0; p < d; p++) dst[at + p * KB + jj] = k.getAtIndex(F, r + p);
        }
        for (int p = 0; p < d; p++) java.util.Arrays.fill(dst, at + p * KB + nk, at + p * KB + KB, 0f);
    }

    private static final class Scratch {
        float[] q = new float[0], s = new float[0], o = new float[0];
        float[] m = new float[QB_LARGE], l = new float[QB_LARGE];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static void task(Operand q, Operand k, float[] kt, int nkb, Operand v, MemorySegment bias, MemorySegment out,
                     int head, int q0, int nq, int lq, int lk, int h, int d, int dv, float scale) {
        Scratch sc = SCRATCH.get();
        if (sc.q.length < nq * d) sc.q = new float[nq * d];
        if (sc.s.length < nq * KB) sc.s = new float[nq * KB];
        if (sc.o.length < nq * dv) sc.o = new float[nq * dv];
        float[] qb = sc.q, sb = sc.s, ob = sc.o, m = sc.m, l = sc.l;
        for (int i = 0; i < nq; i++) {
            loadScaled(q.seg(), q.offset() + (long) (q0 + i) * q.rowStride() + head * q.headStride(), d, scale, qb, i * d);
            m[i] = Float.NEGATIVE_INFINITY;
            l[i] = 0f;
        }
        java.util.Arrays.fill(ob, 0, nq * dv, 0f);
        long kBase = k.offset() + head * k.headStride(), vBase = v.offset() + head * v.headStride();
        for (int j0 = 0; j0 < lk; j0 += KB) {
            int nk = Math.min(KB, lk - j0);
            if (kt != null) scoresT(qb, nq, d, kt, (head * nkb + j0 / KB) * d * KB, sb);
            else scores(qb, nq, d, k.seg(), kBase + j0 * k.rowStride(), k.rowStride(), nk, sb);
            if (bias != null)
                for (int i = 0; i < nq; i++)
                    addBias(bias, ((long) head * lq + q0 + i) * lk + j0, sb, i * KB, nk);
            for (int i = 0; i < nq; i++) {
                float corr = softmaxStep(sb, i * KB, nk, m, l, i);
                if (corr != 1f) scaleRow(ob, i * dv, dv, corr);
            }
            accumulate(sb, nq, nk, v.seg(), vBase + j0 * v.rowStride(), v.rowStride(), dv, ob);
        }
        for (int i = 0; i < nq; i++)
            storeScaled(ob, i * dv, dv, 1f / l[i], out, ((long) (q0 + i) * h + head) * dv);
    }

    static void loadScaled(MemorySegment seg, long off, int n, float scale, float[] dst, int at) {
        int p = 0;
        for (; p <= n - L; p += L)
            FloatVector.fromMemorySegment(S, seg, (off + p) * 4, LE).mul(scale).intoArray(dst, at + p);
        for (; p < n; p++) dst[at + p] = seg.getAtIndex(F, off + p) * scale;
    }

    static void storeScaled(float[] src, int at, int n, float f, MemorySegment seg, long off) {
        int p = 0;
        for (; p <= n - L; p += L)
            FloatVector.fromArray(S, src, at + p).mul(f).intoMemorySegment(seg, (off + p) * 4, LE);
        for (; p < n; p++) seg.setAtIndex(F, off + p, src[at + p] * f);
    }

    static void addBias(MemorySegment bias, long off, float[] s, int at, int n) {
        int p = 0;
        for (; p <= n - L; p += L)
            FloatVector.fromArray(S, s, at + p).add(FloatVector.fromMemorySegment(S, bias, (off + p) * 4, LE)).intoArray(s, at + p);
        for (; p < n; p++) s[at + p] += bias.getAtIndex(F, off + p);
    }

    static void scaleRow(float[] a, int at, int n, float f) {
        int p = 0;
        for (; p <= n - L; p += L) FloatVector.fromArray(S, a, at + p).mul(f).intoArray(a, at + p);
        for (; p < n; p++) a[at + p] *= f;
    }

    /**
     * Online-softmax update of query row i over scores s[at, at+n): turns them into exp(s − m_new),
     * updates the running max m[i] and sum l[i]; returns exp(m_old − m_new), the factor for the
     * accumulated output row.
     */
    static float softmaxStep(float[] s, int at, int n, float[] m, float[] l, int i) {
        float mx = Float.NEGATIVE_INFINITY;
        int p = 0;
        if (n >= L) {
            FloatVector vm = FloatVector.fromArray(S, s, at);
            for (p = L; p <= n - L; p += L) vm = vm.max(FloatVector.fromArray(S, s, at + p));
            mx = vm.reduceLanes(VectorOperators.MAX);
        }
        for (; p < n; p++) mx = Math.max(mx, s[at + p]);
        float mOld = m[i], mNew = Math.max(mOld, mx);
        float corr = mOld == mNew ? 1f : mOld == Float.NEGATIVE_INFINITY ? 0f : VecMath.exp(mOld - mNew);
        FloatVector sum = FloatVector.zero(S);
        for (p = 0; p <= n - L; p += L) {
            FloatVector e = VecMath.exp(FloatVector.fromArray(S, s, at + p).sub(mNew));
            e.intoArray(s, at + p);
            sum = sum.add(e);
        }
        float tot = VecMath.hsum(sum);
        for (; p < n; p++) { float e = VecMath.exp(s[at + p] - mNew); s[at + p] = e; tot += e; }
        l[i] = l[i] * corr + tot;
        m[i] = mNew;
        return corr;
    }

    /** s[i·KB + j] = q_i · k_j for i < nq, j < nk; q rows at q[i·d], key rows at kOff + j·kRow. */
    static void scores(float[] q, int nq, int d, MemorySegment k, long kOff, long kRow, int nk, float[] s) {
        int i = 0;
        for (; i <= nq - 4; i += 4) {
            int j = 0;
            for (; j <= nk - 2; j += 2) tile4x2(q, i * d, d, k, kOff + j * kRow, kOff + (j + 1) * kRow, s, i * KB + j);
            for (; j < nk; j++)
                for (int ii = i; ii < i + 4; ii++) s[ii * KB + j] = dot(q, ii * d, k, kOff + j * kRow, d);
        }
        for (; i < nq; i++) {
            int j = 0;
            for (; j <= nk - 4; j += 4) tile1x4(q, i * d, d, k, kOff + j * kRow, kRow, s, i * KB + j);
            for (; j < nk; j++) s[i * KB + j] = dot(q, i * d, k, kOff + j * kRow, d);
        }
    }

    /** One query against four consecutive keys (four independent FMA chains: the Lq = 1..3 case). */
    static void tile1x4(float[] q, int qa, int d, MemorySegment k, long k0, long kRow, float[] s, int sa) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        long k1 = k0 + kRow, k2 = k1 + kRow, k3 = k2 + kRow;
        int p = 0;
        for (; p <= d - L; p += L) {
            FloatVector y = FloatVector.fromArray(S, q, qa + p);
            a0 = y.fma(FloatVector.fromMemorySegment(S, k, (k0 + p) * 4, LE), a0);
            a1 = y.fma(FloatVector.fromMemorySegment(S, k, (k1 + p) * 4, LE), a1);
            a2 = y.fma(FloatVector.fromMemorySegment(S, k, (k2 + p) * 4, LE), a2);
            a3 = y.fma(FloatVector.fromMemorySegment(S, k, (k3 + p) * 4, LE), a3);
        }
        float r0 = VecMath.hsum(a0), r1 = VecMath.hsum(a1), r2 = VecMath.hsum(a2), r3 = VecMath.hsum(a3);
        for (; p < d; p++) {
            float y = q[qa + p];
            r0 += y * k.getAtIndex(F, k0 + p); r1 += y * k.getAtIndex(F, k1 + p);
            r2 += y * k.getAtIndex(F, k2 + p); r3 += y * k.getAtIndex(F, k3 + p);
        }
        s[sa] = r0; s[sa + 1] = r1; s[sa + 2] = r2; s[sa + 3] = r3;
    }

    /** s[i·KB + j] = q_i · kt[:, j] for i < nq and all KB columns of a transposed key block at kt[ka]. */
    static void scoresT(float[] q, int nq, int d, float[] kt, int ka, float[] s) {
        int i = 0;
        for (; i <= nq - 4; i += 4)
            for (int c = 0; c < KB; c += 2 * L) qk4x2(q, i * d, d, kt, ka + c, s, i * KB + c);
        for (; i < nq; i++)
            for (int c = 0; c < KB; c += L) qk1(q, i * d, d, kt, ka + c, s, i * KB + c);
    }

    /** Four queries × 2L keys: broadcast q[i][p] times the key row p of the transposed block. */
    static void qk4x2(float[] q, int qa, int d, float[] kt, int ka, float[] s, int sa) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int p = 0; p < d; p++) {
            int kp = ka + p * KB;
            FloatVector k0 = FloatVector.fromArray(S, kt, kp), k1 = FloatVector.fromArray(S, kt, kp + L);
            FloatVector b = FloatVector.broadcast(S, q[qa + p]);
            c00 = k0.fma(b, c00); c01 = k1.fma(b, c01);
            b = FloatVector.broadcast(S, q[qa + d + p]);
            c10 = k0.fma(b, c10); c11 = k1.fma(b, c11);
            b = FloatVector.broadcast(S, q[qa + 2 * d + p]);
            c20 = k0.fma(b, c20); c21 = k1.fma(b, c21);
            b = FloatVector.broadcast(S, q[qa + 3 * d + p]);
            c30 = k0.fma(b, c30); c31 = k1.fma(b, c31);
        }
        c00.intoArray(s, sa); c01.intoArray(s, sa + L);
        c10.intoArray(s, sa + KB); c11.intoArray(s, sa + KB + L);
        c20.intoArray(s, sa + 2 * KB); c21.intoArray(s, sa + 2 * KB + L);
        c30.intoArray(s, sa + 3 * KB); c31.intoArray(s, sa + 3 * KB + L);
    }

    static void qk1(float[] q, int qa, int d, float[] kt, int ka, float[] s, int sa) {
        FloatVector c = FloatVector.zero(S);
        for (int p = 0; p < d; p++) c = FloatVector.fromArray(S, kt, ka + p * KB).fma(FloatVector.broadcast(S, q[qa + p]), c);
        c.intoArray(s, sa);
    }

    static float dot(float[] q, int qa, MemorySegment k, long ko, int d) {
        FloatVector acc = FloatVector.zero(S);
        int p = 0;
        for (; p <= d - L; p += L)
            acc = FloatVector.fromArray(S, q, qa + p).fma(FloatVector.fromMemorySegment(S, k, (ko + p) * 4, LE), acc);
        float r = VecMath.hsum(acc);
        for (; p < d; p++) r += q[qa + p] * k.getAtIndex(F, ko + p);
        return r;
    }

    /** Four queries (rows qa, qa+d, qa+2d, qa+3d) against two keys; results at s[sa + r·KB + {0,1}]. */
    static void tile4x2(float[] q, int qa, int d, MemorySegment k, long k0, long k1, float[] s, int sa) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        int p = 0;
        for (; p <= d - L; p += L) {
            FloatVector x0 = FloatVector.fromMemorySegment(S, k, (k0 + p) * 4, LE);
            FloatVector x1 = FloatVector.fromMemorySegment(S, k, (k1 + p) * 4, LE);
            FloatVector y = FloatVector.fromArray(S, q, qa + p);
            a00 = y.fma(x0, a00); a01 = y.fma(x1, a01);
            y = FloatVector.fromArray(S, q, qa + d + p);
            a10 = y.fma(x0, a10); a11 = y.fma(x1, a11);
            y = FloatVector.fromArray(S, q, qa + 2 * d + p);
            a20 = y.fma(x0, a20); a21 = y.fma(x1, a21);
            y = FloatVector.fromArray(S, q, qa + 3 * d + p);
            a30 = y.fma(x0, a30); a31 = y.fma(x1, a31);
        }
        float r00 = VecMath.hsum(a00), r01 = VecMath.hsum(a01);
        float r10 = VecMath.hsum(a10), r11 = VecMath.hsum(a11);
        float r20 = VecMath.hsum(a20), r21 = VecMath.hsum(a21);
        float r30 = VecMath.hsum(a30), r31 = VecMath.hsum(a31);
        for (; p < d; p++) {
            float x0 = k.getAtIndex(F, k0 + p);
            float x1 = k.getAtIndex(F, k1 + p);
            r00 += q[qa + p] * x0; r01 += q[qa + p] * x1;
            r10 += q[qa + d + p] * x0; r11 += q[qa + d + p] * x1;
            r20 += q[qa + 2 * d + p] * x0; r21 += q[qa + 2 * d + p] * x1;
            r30 += q[qa + 3 * d + p] * x0; r31 += q[qa + 3 * d + p] * x1;
        }
        s[sa] = r00; s[sa + 1] = r01;
        s[sa + KB] = r10; s[sa + KB + 1] = r11;
        s[sa + 2 * KB] = r20; s[sa + 2 * KB + 1] = r21;
        s[sa + 3 * KB] = r30; s[sa + 3 * KB + 1] = r31;
    }

    /** o[i·dv + c] += Σ_j p[i·KB + j] · v[vOff + j·vRow + c] for i < nq, j < nk, c < dv. */
    static void accumulate(float[] p, int nq, int nk, MemorySegment v, long vOff, long vRow, int dv, float[] o) {
        int i = 0;
        for (; i <= nq - 4; i += 4) {
            int c = 0;
            for (; c <= dv - 2 * L; c += 2 * L) pv4x2(p, i, nk, v, vOff + c, vRow, o, i * dv + c, dv);
            for (; c <= dv - L; c += L) for (int ii = i; ii < i + 4; ii++) pv1(p, ii, nk, v, vOff + c, vRow, o, ii * dv + c);
            for (; c < dv; c++) for (int ii = i; ii < i + 4; ii++) o[ii * dv + c] += pvScalar(p, ii, nk, v, vOff + c, vRow);
        }
        for (; i < nq; i++) {
            int c = 0;
            for (; c <= dv - 4 * L; c += 4 * L) pv1x4(p, i, nk, v, vOff + c, vRow, o, i * dv + c);
            for (; c <= dv - L; c += L) pv1(p, i, nk, v, vOff + c, vRow, o, i * dv + c);
            for (; c < dv; c++) o[i * dv + c] += pvScalar(p, i, nk, v, vOff + c, vRow);
        }
    }

    /** Four query rows × 2L output columns. */
    static void pv4x2(float[] p, int i, int nk, MemorySegment v, long vOff, long vRow, float[] o, int oa, int dv) {
        FloatVector c00 = FloatVector.fromArray(S, o, oa), c01 = FloatVector.fromArray(S, o, oa + L);
        FloatVector c10 = FloatVector.fromArray(S, o, oa + dv), c11 = FloatVector.fromArray(S, o, oa + dv + L);
        FloatVector c20 = FloatVector.fromArray(S, o, oa + 2 * dv), c21 = FloatVector.fromArray(S, o, oa + 2 * dv + L);
        FloatVector c30 = FloatVector.fromArray(S, o, oa + 3 * dv), c31 = FloatVector.fromArray(S, o, oa + 3 * dv + L);
        int pa = i * KB;
        for (int j = 0; j < nk; j++) {
            long vo = (vOff + j * vRow) * 4;
            FloatVector v0 = FloatVector.fromMemorySegment(S, v, vo, LE), v1 = FloatVector.fromMemorySegment(S, v, vo + 4L * L, LE);
            FloatVector b = FloatVector.broadcast(S, p[pa + j]);
            c00 = v0.fma(b, c00); c01 = v1.fma(b, c01);
            b = FloatVector.broadcast(S, p[pa + KB + j]);
            c10 = v0.fma(b, c10); c11 = v1.fma(b, c11);
            b = FloatVector.broadcast(S, p[pa + 2 * KB + j]);
            c20 = v0.fma(b, c20); c21 = v1.fma(b, c21);
            b = FloatVector.broadcast(S, p[pa + 3 * KB + j]);
            c30 = v0.fma(b, c30); c31 = v1.fma(b, c31);
        }
        c00.intoArray(o, oa); c01.intoArray(o, oa + L);
        c10.intoArray(o, oa + dv); c11.intoArray(o, oa + dv + L);
        c20.intoArray(o, oa + 2 * dv); c21.intoArray(o, oa + 2 * dv + L);
        c30.intoArray(o, oa + 3 * dv); c31.intoArray(o, oa + 3 * dv + L);
    }

    /** One query row × 4L output columns (four independent FMA chains). */
    static void pv1x4(float[] p, int i, int nk, MemorySegment v, long vOff, long vRow, float[] o, int oa) {
        FloatVector c0 = FloatVector.fromArray(S, o, oa), c1 = FloatVector.fromArray(S, o, oa + L);
        FloatVector c2 = FloatVector.fromArray(S, o, oa + 2 * L), c3 = FloatVector.fromArray(S, o, oa + 3 * L);
        int pa = i * KB;
        for (int j = 0; j < nk; j++) {
            long vo = (vOff + j * vRow) * 4;
            FloatVector b = FloatVector.broadcast(S, p[pa + j]);
            c0 = FloatVector.fromMemorySegment(S, v, vo, LE).fma(b, c0);
            c1 = FloatVector.fromMemorySegment(S, v, vo + 4L * L, LE).fma(b, c1);
            c2 = FloatVector.fromMemorySegment(S, v, vo + 8L * L, LE).fma(b, c2);
            c3 = FloatVector.fromMemorySegment(S, v, vo + 12L * L, LE).fma(b, c3);
        }
        c0.intoArray(o, oa); c1.intoArray(o, oa + L); c2.intoArray(o, oa + 2 * L); c3.intoArray(o, oa + 3 * L);
    }

    /** One query row × L output columns. */
    static void pv1(float[] p, int i, int nk, MemorySegment v, long vOff, long vRow, float[] o, int oa) {
        FloatVector c = FloatVector.fromArray(S, o, oa);
        int pa = i * KB;
        for (int j = 0; j < nk; j++)
            c = FloatVector.fromMemorySegment(S, v, (vOff + j * vRow) * 4, LE).fma(FloatVector.broadcast(S, p[pa + j]), c);
        c.intoArray(o, oa);
    }

    static float pvScalar(float[] p, int i, int nk, MemorySegment v, long vOff, long vRow) {
        float acc = 0;
        for (int j = 0; j < nk; j++) acc += p[i * KB + j] * v.getAtIndex(F, vOff + j * vRow);
        return acc;
    }
}
