package dev.infinityj.cuda;

import dev.infinityj.backend.Interpolation;
import dev.infinityj.backend.NaiveBackend;
import dev.infinityj.model.BitCodes;
import dev.infinityj.model.LatentLayout;
import dev.infinityj.sampling.BitSampler;
import dev.infinityj.sampling.Philox;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every CUDA kernel against the scalar reference on random inputs of odd sizes, the GPU sampler
 * against the CPU sampler bit for bit, graph capture and replay, and a thousand generations without
 * leaks. Needs an NVIDIA GPU (sm_80+) with its driver; elsewhere every test skips with the probe's
 * reason. Tolerances are relative to the largest reference magnitude: 1e-4 for fp32 kernels, 1e-2
 * where cuBLAS rounds the activations to bf16 (as the official autocast does).
 */
class CudaBackendGpuTest {
    static CudaBackend be, own; // cuBLAS where present; own GEMM kernels only
    static final NaiveBackend ref = new NaiveBackend();

    @BeforeAll
    static void open() {
        Optional<String> why = CudaBackend.probe();
        assumeTrue(why.isEmpty(), () -> "no usable GPU, CUDA tests skipped: " + why.orElse(""));
        be = new CudaBackend();
        own = new CudaBackend(CudaBackend.Options.defaults().withCublas(false));
        System.out.println("[cuda] " + be.describe() + " / " + own.describe());
    }

    @AfterAll
    static void close() {
        if (be != null) be.close();
        if (own != null) own.close();
    }

    static Tensor rand(Random r, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.ofFloats(v, shape);
    }

    static double relErr(Tensor got, Tensor want) {
        float[] g = got.toFloatArray(), w = want.toFloatArray();
        assertEquals(w.length, g.length);
        double max = 1e-12, err = 0;
        for (int i = 0; i < w.length; i++) {
            max = Math.max(max, Math.abs(w[i]));
            err = Math.max(err, Math.abs(g[i] - w[i]));
            if (Float.isNaN(g[i]) != Float.isNaN(w[i])) return Double.POSITIVE_INFINITY;
        }
        return err / max;
    }

    static void close(CudaBackend b, Tensor devResult, Tensor want, double tol, String what) {
        Tensor got = b.download(devResult);
        assertArrayEquals(want.shape(), got.shape(), what);
        double e = relErr(got, want);
        assertTrue(e <= tol, what + ": relative error " + e + " > " + tol);
    }

    @Test
    void gemms() {
        Random r = new Random(11);
        Tensor x = rand(r, 3, 37, 129), wf = rand(r, 61, 129), bias = rand(r, 61);
        Tensor want = ref.linear(x, wf, bias);
        Tensor wb = wf.to(DType.BF16);
        Tensor wantB = ref.linear(x, wb, bias);
        close(own, own.linear(own.upload(x), own.upload(wf), bias), want, 1e-4, "own fp32 linear");
        close(own, own.linear(own.upload(x), own.upload(wb), bias), wantB, 1e-4, "own bf16-weight linear");
        close(own, own.linear(own.upload(x), own.upload(wf.to(DType.F16)), bias), ref.linear(x, wf.to(DType.F16), bias), 1e-4, "own f16-weight linear");
        close(be, be.linear(be.upload(x), be.upload(wf), bias), want, be.usesCublas() ? 1e-3 : 1e-4, "fp32 linear");
        close(be, be.linear(be.upload(x), be.upload(wb), bias), wantB, 1e-2, "bf16 linear (cuBLAS: bf16 activations)");
        Tensor a = rand(r, 5, 17, 33), b = rand(r, 5, 33, 23);
        close(own, own.matmul(a, b), ref.matmul(a, b), 1e-4, "own bmm");
        close(be, be.matmul(a, b), ref.matmul(a, b), 1e-3, "matmul");
        close(be, be.matmul(a.get(1), b.get(1)), ref.matmul(a.get(1), b.get(1)), 1e-3, "rank-2 matmul");
    }

    @Test
    void normsAndActivations() {
        Random r = new Random(12);
        Tensor x = rand(r, 7, 3, 517), w = rand(r, 517), b = rand(r, 517);
        Tensor xd = be.upload(x);
        close(be, be.layerNorm(xd, w, b, 1e-6f), ref.layerNorm(x, w, b, 1e-6f), 1e-4, "layerNorm");
        close(be, be.layerNorm(xd, null, null, 1e-5f), ref.layerNorm(x, null, null, 1e-5f), 1e-4, "layerNorm no affine");
        close(be, be.adaLayerNorm(xd, w, b, 1e-6f), ref.adaLayerNorm(x, w, b, 1e-6f), 1e-4, "adaLayerNorm");
        close(be, be.rmsNorm(xd, w.to(DType.BF16), 1e-6f), ref.rmsNorm(x, w.to(DType.BF16), 1e-6f), 1e-4, "rmsNorm");
        close(be, be.softmax(xd), ref.softmax(x), 1e-4, "softmax");
        close(be, be.geluTanh(xd), ref.geluTanh(x), 1e-5, "geluTanh");
        close(be, be.geluErf(xd), ref.geluErf(x), 1e-5, "geluErf");
        close(be, be.silu(xd), ref.silu(x), 1e-5, "silu");
        close(be, be.relu(xd), ref.relu(x), 0, "relu");
        close(be, be.biasAct(xd, b, 1), ref.geluTanh(ref.add(x, b)), 1e-5, "bias+gelu");
        close(be, be.biasAct(xd, b, 3), ref.silu(ref.add(x, b)), 1e-5, "bias+silu");
        close(be, be.add(xd, b), ref.add(x, b), 0, "add");
        close(be, be.mul(xd, be.upload(x)), ref.mul(x, x), 0, "mul");
        close(be, be.scale(xd, 0.37f), ref.scale(x, 0.37f), 0, "scale");
        Tensor hx = rand(r, 9, 5, 3, 24); // packed [L, 3, H, D]
        Tensor hd = be.upload(hx);
        Tensor hs = rand(r, 3);
        close(be, be.headL2Normalize(hd.permute(1, 0, 2, 3).get(1), hs, 1e-6f),
                ref.headL2Normalize(hx.permute(1, 0, 2, 3).get(1), hs, 1e-6f), 1e-5, "headL2Normalize strided");
        Tensor m = rand(r, 8, 11, 13);
        close(be, be.groupNorm(m, 4, rand(new Random(1), 8), rand(new Random(2), 8), 1e-6f),
                ref.groupNorm(m, 4, rand(new Random(1), 8), rand(new Random(2), 8), 1e-6f), 1e-4, "groupNorm");
        Tensor st = be.groupNormStats(m, 2, 1e-6f);
        close(be, st, ref.groupNormStats(m, 2, 1e-6f), 1e-5, "groupNormStats");
        close(be, be.groupNormApply(be.upload(m).slice(1, 3, 7), 2, st, null, null, true),
                ref.groupNormApply(m.slice(1, 3, 7).contiguous(), 2, ref.groupNormStats(m, 2, 1e-6f), null, null, true), 1e-4, "groupNormApply band");
    }

    @Test
    void attentionRopeCopies() {
        Random r = new Random(13);
        Tensor q = rand(r, 19, 3, 40), k = rand(r, 53, 3, 40), v = rand(r, 53, 3, 24), bias = rand(r, 3, 19, 53);
        close(be, be.attention(be.upload(q), be.upload(k), be.upload(v), 0.15f), ref.attention(q, k, v, 0.15f), 1e-4, "attention");
        close(be, be.attentionWithBias(q, k, v, bias, 1f), ref.attentionWithBias(q, k, v, bias, 1f), 1e-4, "attentionWithBias");
        Tensor packed = rand(r, 19, 3, 3, 40);
        Tensor pd = be.upload(packed);
        close(be, be.attention(pd.permute(1, 0, 2, 3).get(0), pd.permute(1, 0, 2, 3).get(1), pd.permute(1, 0, 2, 3).get(2), 0.2f),
                ref.attention(packed.permute(1, 0, 2, 3).get(0), packed.permute(1, 0, 2, 3).get(1), packed.permute(1, 0, 2, 3).get(2), 0.2f), 1e-4, "attention on packed qkv");
        Tensor x = rand(r, 21, 3, 16), cos = rand(r, 21, 8), sin = rand(r, 21, 8);
        Tensor xd = be.upload(x);
        be.ropeInterleavedInPlace(xd, cos, sin);
        Tensor xr = x.contiguous().to(DType.F32);
        Tensor xrCopy = Tensor.ofFloats(xr.toFloatArray(), 21, 3, 16);
        ref.ropeInterleavedInPlace(xrCopy, cos, sin);
        close(be, xd, xrCopy, 0, "rope (bit-exact)");
        Tensor cache = be.allocate(DType.F32, 2, 30, 3, 16);
        Tensor rows = rand(r, 7, 3, 16);
        be.copyInto(cache.get(1).slice(0, 4, 11), be.upload(rows));
        Tensor back = be.download(cache);
        assertArrayEquals(rows.toFloatArray(), back.get(1).slice(0, 4, 11).contiguous().toFloatArray());
        assertArrayEquals(x.permute(2, 0, 1).contiguous().toFloatArray(), be.download(be.upload(x).permute(2, 0, 1)).toFloatArray(), "strided download");
    }

    /**
     * FUSED (flash_attention.cu), SIMPLE (attention.cu) and, with cuBLAS, CUBLAS (materialised scores)
     * against NaiveBackend and against each other on shapes that cross the flash kernel's tile edges:
     * Lq ≠ Lk, Lq past one 64-query tile, Lk not a multiple of 16, head dims 8 … 128, Dv ≠ D, KV-cache
     * slices, packed (strided) q, bias, BF16 inputs and the fused cosine normalisation.
     */
    @Test
    void attentionImplementationsAgree() {
        Random r = new Random(18);
        int[][] shapes = {{70, 37, 3, 16, 16}, {5, 130, 2, 8, 24}, {1, 1, 2, 40, 40}, {64, 16, 1, 128, 128},
                {129, 301, 4, 64, 64}, {65, 1000, 2, 96, 96}, {200, 513, 2, 128, 128}, {3, 50, 1, 64, 8}};
        List<CudaBackend.AttentionKernel> kinds = new ArrayList<>(List.of(CudaBackend.AttentionKernel.FUSED, CudaBackend.AttentionKernel.SIMPLE));
        if (be.usesCublas()) kinds.add(CudaBackend.AttentionKernel.CUBLAS);
        for (int[] sh : shapes) {
            int lq = sh[0], lk = sh[1], h = sh[2], d = sh[3], dv = sh[4];
            String what = "Lq " + lq + " Lk " + lk + " H " + h + " D " + d + " Dv " + dv;
            Tensor q = rand(r, lq, h, d), bias = rand(r, h, lq, lk);
            Tensor kc = be.upload(rand(r, lk + 9, h, d)), vc = be.upload(rand(r, lk + 9, h, dv));
            Tensor k = kc.slice(0, 0, lk), v = vc.slice(0, 0, lk);
            Tensor kh = be.download(k), vh = be.download(v);
            float sc = (float) (1 / Math.sqrt(d));
            Tensor want = ref.attention(q, kh, vh, sc), wantB = ref.attentionWithBias(q, kh, vh, bias, 0.5f);
            Tensor qs = rand(r, h);
            Tensor wantCos = ref.attention(ref.headL2Normalize(q, qs, 1e-12f), ref.headL2Normalize(kh, null, 1e-12f), vh, 1f);
            Tensor fused = null;
            for (CudaBackend.AttentionKernel kind : kinds) {
                // cuBLAS runs CUBLAS_COMPUTE_32F, which may use TF32 on some builds: looser bound
                double tol = kind == CudaBackend.AttentionKernel.CUBLAS ? 2e-3 : 1e-4;
                Tensor got = be.attention(be.upload(q), k, v, null, sc, kind);
                close(be, got, want, tol, kind + " " + what);
                if (kind == CudaBackend.AttentionKernel.FUSED) fused = be.download(got);
                else assertTrue(relErr(be.download(got), fused) <= tol, kind + " vs FUSED " + what);
                close(be, be.attention(q, k, v, bias, 0.5f, kind), wantB, tol, kind + " bias " + what);
                close(be, be.cosineAttention(be.upload(q), k, v, qs, true, 1e-12f, 1f, kind), wantCos, tol, kind + " cosine " + what);
            }
            Tensor qb = q.to(DType.BF16), kb = kh.to(DType.BF16), vb = vh.to(DType.BF16);
            close(be, be.attention(be.upload(qb), be.upload(kb), be.upload(vb), null, sc, CudaBackend.AttentionKernel.FUSED),
                    ref.attention(qb.to(DType.F32), kb.to(DType.F32), vb.to(DType.F32), sc), 1e-4, "bf16 flash " + what);
        }
        Tensor packed = rand(r, 77, 3, 4, 128), pd = be.upload(packed);
        for (CudaBackend.AttentionKernel kind : kinds)
            close(be, be.attention(pd.permute(1, 0, 2, 3).get(0), pd.permute(1, 0, 2, 3).get(1), pd.permute(1, 0, 2, 3).get(2), null, 0.09f, kind),
                    ref.attention(packed.permute(1, 0, 2, 3).get(0), packed.permute(1, 0, 2, 3).get(1), packed.permute(1, 0, 2, 3).get(2), 0.09f),
                    kind == CudaBackend.AttentionKernel.CUBLAS ? 2e-3 : 1e-4, kind + " packed qkv");
    }

    /**
     * MMA (flash_attention_mma.cu, tensor cores; before this test ran on a GPU it was checked only by
     * ptxas and a lane-level emulation) against FUSED on the same BF16 inputs, and against NaiveBackend
     * on them: tile tails (Lq, Lk not multiples of 64), several heads, D = Dv = 128 / 64 / 16 and D ≠ Dv,
     * KV-cache slices, bias, fused cosine. Probabilities are rounded to bf16 (≤ 2⁻⁸ relative per
     * weight), hence 1e-2 of the output's range.
     */
    @Test
    void mmaAttentionAgreesWithFused() {
        Random r = new Random(19);
        int[][] shapes = {{70, 37, 3, 16, 16}, {129, 301, 4, 64, 64}, {200, 513, 2, 128, 128}, {65, 1000, 2, 128, 128}, {33, 64, 1, 32, 48}};
        var mma = CudaBackend.AttentionKernel.MMA;
        for (int[] sh : shapes) {
            int lq = sh[0], lk = sh[1], h = sh[2], d = sh[3], dv = sh[4];
            String what = "MMA Lq " + lq + " Lk " + lk + " H " + h + " D " + d + " Dv " + dv;
            Tensor q = rand(r, lq, h, d).to(DType.BF16), bias = rand(r, h, lq, lk);
            Tensor kc = be.upload(rand(r, lk + 9, h, d).to(DType.BF16)), vc = be.upload(rand(r, lk + 9, h, dv).to(DType.BF16));
            Tensor k = kc.slice(0, 0, lk), v = vc.slice(0, 0, lk), qd = be.upload(q);
            Tensor qf = q.to(DType.F32), kf = be.download(k).to(DType.F32), vf = be.download(v).to(DType.F32);
            float sc = (float) (2 / Math.sqrt(d));
            Tensor got = be.download(be.attention(qd, k, v, null, sc, mma));
            assertTrue(relErr(got, be.download(be.attention(qd, k, v, null, sc, CudaBackend.AttentionKernel.FUSED))) <= 1e-2, what + " vs FUSED");
            close(be, be.attention(qd, k, v, null, sc, mma), ref.attention(qf, kf, vf, sc), 1e-2, what);
            close(be, be.attention(qd, k, v, bias, 0.5f, mma), ref.attentionWithBias(qf, kf, vf, bias, 0.5f), 1e-2, what + " bias");
            Tensor qs = rand(r, h);
            close(be, be.cosineAttention(qd, k, v, qs, true, 1e-12f, 1f, mma),
                    ref.attention(ref.headL2Normalize(qf, qs, 1e-12f), ref.headL2Normalize(kf, null, 1e-12f), vf, 1f), 1e-2, what + " cosine");
        }
    }

    @Test
    void mapsConvAndAccumulation() {
        Random r = new Random(14);
        Tensor m = rand(r, 5, 13, 17);
        Tensor md = be.upload(m);
        for (int[] s : new int[][] {{29, 31}, {7, 9}, {13, 17}, {1, 1}, {64, 64}})
            for (Interpolation mode : Interpolation.values())
                close(be, be.interpolate(md, s[0], s[1], mode), ref.interpolate(m, s[0], s[1], mode),
                        mode == Interpolation.BILINEAR || mode == Interpolation.NEAREST || mode == Interpolation.NEAREST_EXACT ? 0 : 1e-6,
                        mode + " " + s[0] + "x" + s[1]);
        Tensor acc = be.upload(rand(r, 5, 32, 40));
        Tensor want = ref.add(be.download(acc), ref.interpolate(m, 32, 40, Interpolation.BILINEAR));
        be.accumulateBilinear(acc, md);
        close(be, acc, want, 0, "accumulateBilinear");
        Tensor w = rand(r, 7, 5, 3, 3), b = rand(r, 7);
        close(be, be.conv2d(md, w, b, 1, 1), ref.conv2d(m, w, b, 1, 1), 1e-4, "conv2d 3x3");
        close(be, be.conv2d(md, w.to(DType.BF16), null, 2, 0), ref.conv2d(m, w.to(DType.BF16), null, 2, 0), 1e-4, "conv2d stride 2");
    }

    /**
     * The implicit-GEMM conv and the direct conv against NaiveBackend and each other: VAE-like layers
     * (3×3 pad 1 with 128/256 channels, a 1×1 shortcut), tile edges (70 output channels, odd pixel
     * counts, K off multiples of 16), stride 2, BF16 weights.
     */
    @Test
    void convolutionImplementationsAgree() {
        Random r = new Random(19);
        int[][] cases = {{128, 33, 47, 128, 3, 1, 1}, {256, 20, 19, 128, 1, 1, 0}, {5, 13, 17, 70, 3, 1, 1},
                {6, 12, 10, 9, 3, 2, 1}, {4, 8, 9, 66, 3, 2, 0}, {32, 64, 64, 3, 3, 1, 1}};
        for (int[] k : cases) {
            int C = k[0], H = k[1], W = k[2], O = k[3], ks = k[4], st = k[5], pad = k[6];
            String what = "C " + C + " " + H + "x" + W + " O " + O + " k " + ks + " s " + st + " p " + pad;
            Tensor x = rand(r, C, H, W), w = rand(r, O, C, ks, ks), b = rand(r, O);
            Tensor xd = be.upload(x);
            Tensor want = ref.conv2d(x, w, b, st, pad), wantB = ref.conv2d(x, w.to(DType.BF16), null, st, pad);
            Tensor direct = be.download(be.conv2d(xd, w, b, st, pad, CudaBackend.ConvKernel.DIRECT));
            Tensor gemm = be.conv2d(xd, w, b, st, pad, CudaBackend.ConvKernel.IMPLICIT_GEMM);
            close(be, gemm, want, 1e-4, "implicit GEMM " + what);
            assertTrue(relErr(direct, want) <= 1e-4, "direct " + what);
            close(be, be.conv2d(xd, be.upload(w.to(DType.BF16)), null, st, pad, CudaBackend.ConvKernel.IMPLICIT_GEMM), wantB, 1e-4, "implicit GEMM bf16 " + what);
        }
    }

    @Test
    void philoxAndSamplerAgreeWithTheCpuBitForBit() throws ReflectiveOperationException {
        long[] words = be.download(be.philoxWords(0x123456789abcdefL, 5, (1L << 32) - 3, 1001)).toLongArray();
        int[] o = new int[4];
        for (int i = 0; i < 1001; i++) {
            long idx = (1L << 32) - 3 + i;
            Philox.block((int) idx, (int) (idx >>> 32), 5, 0, 0x89abcdef, 0x1234567, o);
            for (int j = 0; j < 4; j++) assertEquals(o[j], (int) words[4 * i + j], "philox word " + i + "," + j);
        }
        Random r = new Random(15);
        int rows = 40_003;
        float[] lc = new float[2 * rows], lu = new float[2 * rows];
        for (int i = 0; i < lc.length; i++) { lc[i] = (float) r.nextGaussian() * 4; lu[i] = (float) r.nextGaussian() * 4; }
        double[][] cases = {{3, 0.5, 900, 0.97}, {4, 1, 0, 0}, {1, 0.5, 900, 0.97}, {2, 0.8, 1, 0}, {3, 0.5, 2, 0.6}};
        long differing = 0;
        List<String> diffs = new ArrayList<>();
        for (double[] k : cases) {
            float[] mixed = CudaBackendFakeDriverTest.mix(lc, lu, k[0], k[1]);
            byte[] want = new byte[rows];
            BitSampler.sample(mixed, rows, (int) k[2], k[3], 987654321L, 9, 12L, want);
            Tensor mixedDev = be.allocate(DType.F32, 2L * rows);
            Tensor bits = be.sampleBits(be.upload(Tensor.ofFloats(lc, rows, 2)), Tensor.ofFloats(lu, rows, 2), k[0], k[1], (int) k[2], k[3],
                    987654321L, 9, 12L, mixedDev);
            assertArrayEquals(mixed, be.download(mixedDev).toFloatArray(), "sampler input (CFG, 1/tau) for " + java.util.Arrays.toString(k));
            long[] got = be.download(bits).toLongArray();
            for (int i = 0; i < rows; i++) if (got[i] != want[i]) { differing++; if (diffs.size() < 5) diffs.add(java.util.Arrays.toString(k) + " row " + i); }
        }
        assertEquals(0, differing, "bits differing from the CPU sampler: " + diffs);
    }

    @Test
    void bitsToCodesOnTheDevice() {
        Random r = new Random(16);
        for (boolean patchify : new boolean[] {false, true}) {
            int h = 7, w = 9, d = patchify ? 64 : 32;
            byte[] bits = new byte[h * w * d];
            for (int i = 0; i < bits.length; i++) bits[i] = (byte) r.nextInt(2);
            LatentLayout lay = new LatentLayout(d, patchify);
            Tensor hb = Tensor.allocate(DType.U8, bits.length);
            java.lang.foreign.MemorySegment.copy(bits, 0, hb.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bits.length);
            Tensor codes = be.bitsToCodes(be.upload(hb), h, w, d, patchify, BitCodes.magnitude(lay.channels()));
            assertArrayEquals(lay.bitsToCodes(bits, h, w), be.download(codes).toFloatArray());
        }
    }

    @Test
    void graphCaptureAndReplay() {
        Tensor acc = be.upload(Tensor.ofFloats(new float[] {1, 2, 3, 4, 5}, 5));
        Tensor inc = be.upload(Tensor.ofFloats(new float[] {1, 1, 1, 1, 1}, 5));
        be.addInPlace(acc, inc); // loads the module outside the capture
        CudaStream s = be.context().stream();
        s.beginCapture();
        be.addInPlace(acc, inc);
        be.addInPlace(acc, inc);
        try (CudaGraph g = s.endCapture()) {
            assertArrayEquals(new float[] {2, 3, 4, 5, 6}, be.download(acc).toFloatArray(), "capture does not execute");
            g.launch(s);
            g.launch(s);
            g.launch(s);
        }
        assertArrayEquals(new float[] {8, 9, 10, 11, 12}, be.download(acc).toFloatArray());
        try (CudaEvent a = new CudaEvent(be.context(), 0); CudaEvent b = new CudaEvent(be.context(), 0)) {
            a.record(s);
            be.softmax(acc);
            b.record(s);
            b.synchronize();
            assertTrue(b.elapsedSince(a) >= 0);
        }
    }

    @Test
    void aThousandGenerationsDoNotLeakDeviceMemory() throws InterruptedException {
        Random r = new Random(17);
        Tensor weight = be.upload(rand(r, 64, 48).to(DType.BF16));
        CudaContext c = be.context();
        gen(r, weight);
        long live0 = settle(c), free0 = c.memoryInfo()[0];
        for (int g = 0; g < 1000; g++) gen(r, weight);
        long live1 = settle(c), free1 = c.memoryInfo()[0];
        assertTrue(live1 <= live0 + 2, "live allocations " + live0 + " → " + live1);
        assertTrue(free0 - free1 < 64L << 20, "device free memory dropped by " + (free0 - free1) + " bytes");
        CudaContext.MemoryStats m = c.memoryStats();
        System.out.println("[cuda] pool after 1000 generations: " + m);
        assertTrue(m.driverAllocations() < m.requests() / 2, "the pool serves most requests from its cache: " + m);
    }

    private static void gen(Random r, Tensor weight) {
        Tensor fHat = be.allocate(DType.F32, 8, 16, 16);
        Tensor x = be.upload(rand(r, 32, 48));
        for (int s = 0; s < 4; s++) {
            // odd scales in a scope (recycled at close, as the model loops do), even ones left to the GC
            try (dev.infinityj.backend.Scope sc = s % 2 == 1 ? be.scope() : dev.infinityj.backend.Scope.NONE) {
                Tensor y = be.linear(be.layerNorm(x, null, null, 1e-6f), weight, null);
                Tensor bits = be.sampleBits(y, be.scale(y, 0.5f), 3, 0.5, 900, 0.97, 42, s, 0, null);
                be.accumulateBilinear(fHat, be.bitsToCodes(bits.slice(0, 0, 4 * 4 * 8), 4, 4, 8, false, 0.35f));
            }
        }
        be.download(fHat);
    }

    private static long settle(CudaContext c) throws InterruptedException {
        long live = Long.MAX_VALUE;
        for (int i = 0; i < 20; i++) {
            System.gc();
            Thread.sleep(20);
            c.collect();
            c.releaseCached(); // the pool's cached blocks back to the driver, so cuMemGetInfo sees only live ones
            long now = c.liveAllocations();
            if (now == live) break;
            live = now;
        }
        return c.liveAllocations();
    }
}
