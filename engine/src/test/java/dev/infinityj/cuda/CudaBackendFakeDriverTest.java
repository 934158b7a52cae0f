package dev.infinityj.cuda;

import dev.infinityj.ShapeException;
import dev.infinityj.backend.Interpolation;
import dev.infinityj.backend.Scope;
import dev.infinityj.model.BitCodes;
import dev.infinityj.model.LatentLayout;
import dev.infinityj.sampling.BitSampler;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The whole CUDA backend on {@link FakeCudaDriver}: every op's launch plumbing (kernel names, argument
 * kinds, pointers inside live allocations), host↔device copies, strided views, the sampler's host-side
 * constants (through the Java transcription of bit_sample), error naming, and allocation lifetimes
 * over a thousand generation-like loops. Kernel numerics need a GPU: CudaBackendGpuTest.
 */
class CudaBackendFakeDriverTest {
    FakeCudaDriver fake;
    CudaBackend be;

    @BeforeEach
    void open() throws ReflectiveOperationException {
        assumeTrue(CudaContext.kernelsMissingReason() == null, "CUDA kernels not in this build: " + CudaContext.kernelsMissingReason());
        fake = new FakeCudaDriver();
        be = new CudaBackend(fake.driver(), CudaBackend.Options.defaults().withCublas(false)
                .withAttention(CudaBackend.AttentionKernel.FUSED).withConv(CudaBackend.ConvKernel.IMPLICIT_GEMM));
    }

    @AfterEach
    void close() {
        if (be != null) be.close();
        if (fake != null) assertEquals(List.of(), fake.errors, "errors inside the fake driver");
    }

    static Tensor rand(Random r, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.ofFloats(v, shape);
    }

    @Test
    void uploadDownloadRoundTripAndDeviceResidency() {
        Random r = new Random(1);
        Tensor h = rand(r, 3, 5, 7);
        Tensor d = be.upload(h);
        assertTrue(be.isDevice(d));
        assertFalse(be.isDevice(h));
        assertSame(d, be.upload(d));
        assertArrayEquals(h.toFloatArray(), be.download(d).toFloatArray());
        Tensor b = be.upload(h.to(DType.BF16));
        assertEquals(DType.BF16, b.dtype());
        assertArrayEquals(h.to(DType.BF16).toFloatArray(), be.download(b).toFloatArray());
        // a contiguous view with an offset, and a strided view (through the strided-copy kernel)
        assertArrayEquals(h.get(2).toFloatArray(), be.download(d.get(2)).toFloatArray());
        Tensor t = d.transpose(0, 2);
        assertArrayEquals(h.transpose(0, 2).contiguous().toFloatArray(), be.download(t).toFloatArray());
        assertTrue(fake.launches.contains("strided_copy_32"));
        Tensor z = be.allocate(DType.F32, 4, 4);
        assertArrayEquals(new float[16], be.download(z).toFloatArray());
    }

    @Test
    void elementwiseValuesThroughTheEmulatedKernels() {
        Random r = new Random(2);
        Tensor a = rand(r, 5, 9), b = rand(r, 9);
        assertArrayEquals(new dev.infinityj.backend.NaiveBackend().add(a, b).toFloatArray(), be.download(be.add(be.upload(a), b)).toFloatArray());
        assertArrayEquals(new dev.infinityj.backend.NaiveBackend().mul(a, b).toFloatArray(), be.download(be.mul(a, be.upload(b))).toFloatArray());
        assertArrayEquals(new dev.infinityj.backend.NaiveBackend().scale(a, 0.3f).toFloatArray(), be.download(be.scale(be.upload(a), 0.3f)).toFloatArray());
        Tensor acc = be.upload(a);
        be.addInPlace(acc, be.upload(a));
        assertArrayEquals(new dev.infinityj.backend.NaiveBackend().scale(a, 2f).toFloatArray(), be.download(acc).toFloatArray());
        // BF16 inputs are widened on the device
        Tensor ab = a.to(DType.BF16);
        assertArrayEquals(new dev.infinityj.backend.NaiveBackend().add(ab.to(DType.F32), b).toFloatArray(), be.download(be.add(be.upload(ab), b)).toFloatArray());
        // copyInto a strided destination (KV-cache rows)
        Tensor cache = be.allocate(DType.F32, 6, 2, 9);
        Tensor rows = rand(r, 3, 9);
        be.copyInto(cache.get(1).slice(0, 0, 1), be.upload(rows.slice(0, 0, 1)));      // contiguous destination
        be.copyInto(cache.slice(0, 2, 5).slice(1, 1, 2), be.upload(rows.reshape(3, 1, 9))); // strided destination
        Tensor back = be.download(cache);
        for (int j = 0; j < 9; j++) assertEquals(rows.getFloat(0, j), back.getFloat(1, 0, j));
        for (int i = 0; i < 3; i++) for (int j = 0; j < 9; j++) assertEquals(rows.getFloat(i, j), back.getFloat(2 + i, 1, j));
    }

    @Test
    void everyOpLaunchesItsKernelWithWellFormedArguments() {
        Random r = new Random(3);
        Tensor x = be.upload(rand(r, 7, 13));
        Tensor wb = be.upload(rand(r, 11, 13).to(DType.BF16));
        be.linear(x, wb, rand(r, 11));
        be.linear(x, be.upload(rand(r, 11, 13)), null);
        be.linear(x, be.upload(rand(r, 11, 13).to(DType.F16)), null);
        be.matmul(be.upload(rand(r, 3, 5, 7)), rand(r, 3, 7, 4));
        be.layerNorm(x, rand(r, 13), rand(r, 13), 1e-6f);
        be.adaLayerNorm(x, rand(r, 13), rand(r, 13), 1e-6f);
        be.rmsNorm(x, rand(r, 13).to(DType.BF16), 1e-6f);
        be.softmax(x);
        be.geluTanh(x); be.geluErf(x); be.silu(x); be.relu(x);
        be.biasAct(x, rand(r, 13), 1);
        Tensor qkv = be.upload(rand(r, 5, 3, 3, 8)); // [L, 3, H, D] packed: strided q/k/v views
        // no reshape of strided device views: Tensor.reshape would copy through the host
        Tensor q = qkv.permute(1, 0, 2, 3).get(0), k = be.upload(rand(r, 9, 3, 8)), v = be.upload(rand(r, 9, 3, 6));
        be.attention(q, k, v, 0.3f);
        be.attentionWithBias(q, k, v, rand(r, 3, 5, 9), 1f);
        be.headL2Normalize(qkv.permute(1, 0, 2, 3).get(1), rand(r, 3), 1e-6f);
        Tensor rq = be.upload(rand(r, 5, 3, 8));
        be.ropeInterleavedInPlace(rq, rand(r, 5, 4), rand(r, 5, 4));
        Tensor map = be.upload(rand(r, 4, 5, 7));
        be.interpolate(map, 9, 11, Interpolation.BILINEAR);
        be.interpolate(map, 3, 2, Interpolation.NEAREST);
        be.interpolate(map, 3, 2, Interpolation.NEAREST_EXACT);
        Tensor area = be.interpolate(map, 2, 3, Interpolation.AREA); // host fallback
        assertTrue(be.isDevice(area));
        be.conv2d(map, rand(r, 6, 4, 3, 3), rand(r, 6), 1, 1);
        be.groupNorm(map, 2, rand(r, 4), rand(r, 4), 1e-6f);
        be.groupNormApply(map, 2, be.groupNormStats(map, 2, 1e-6f), null, null, true);
        Tensor acc = be.allocate(DType.F32, 4, 10, 14);
        be.accumulateBilinear(acc, map);
        assertEquals(List.of("gemm_xwT_bf16", "gemm_xwT_f32", "gemm_xwT_f16", "bmm_f32", "layer_norm_f32", "layer_norm_f32",
                        "bf16_to_f32", "rms_norm_f32", "softmax_f32", "bias_act_f32", "bias_act_f32", "bias_act_f32", "bias_act_f32",
                        "bias_act_f32", "flash_attention_f32", "flash_attention_f32", "head_l2_normalize_f32", "rope_interleaved_f32",
                        "bilinear_f32", "nearest_f32", "nearest_f32", "conv2d_igemm_f32", "group_norm_stats_f32", "group_norm_apply_f32",
                        "group_norm_stats_f32", "group_norm_apply_f32", "bilinear_f32"),
                fake.launches.stream().filter(n -> !n.equals("strided_copy_32")).toList());
    }

    private void same(Tensor dev, Tensor want, double tol, String what) {
        Tensor got = be.download(dev);
        assertArrayEquals(want.shape(), got.shape(), what);
        float[] g = got.toFloatArray(), w = want.toFloatArray();
        double max = 1e-12, err = 0;
        for (int i = 0; i < w.length; i++) { max = Math.max(max, Math.abs(w[i])); err = Math.max(err, Math.abs(g[i] - w[i])); }
        assertTrue(err / max <= tol, what + ": relative error " + err / max);
    }

    /**
     * Every op's values through the Java transcriptions of the kernels: checks what the backend passes
     * (dimensions, strides, offsets, operand order), not the CUDA code itself.
     */
    @Test
    void everyOpAgreesWithTheReferenceThroughTheEmulatedKernels() {
        var ref = new dev.infinityj.backend.NaiveBackend();
        Random r = new Random(7);
        Tensor x = rand(r, 2, 7, 13), w = rand(r, 11, 13), bias = rand(r, 11), g = rand(r, 13), b = rand(r, 13);
        Tensor xd = be.upload(x);
        same(be.linear(xd, be.upload(w), bias), ref.linear(x, w, bias), 1e-5, "linear f32");
        same(be.linear(xd, be.upload(w.to(DType.BF16)), null), ref.linear(x, w.to(DType.BF16), null), 1e-5, "linear bf16");
        same(be.linear(xd.get(1), w.to(DType.F16), bias), ref.linear(x.get(1), w.to(DType.F16), bias), 1e-5, "linear f16, offset view");
        Tensor w32 = rand(new Random(8), 32, 13).to(DType.BF16); // a converted file's packed weight: linearWeight gives cuBLAS/our kernel [N, K]
        Tensor w32p = dev.infinityj.cpu.PackedLinear.pack(dev.infinityj.cpu.CpuThreads.shared(), w32);
        same(be.linear(xd, be.linearWeight(w32p), null), ref.linear(x, w32, null), 1e-5, "linear on a packed weight");
        Tensor a3 = rand(r, 3, 5, 7), b3 = rand(r, 3, 7, 4);
        same(be.matmul(a3, b3), ref.matmul(a3, b3), 1e-5, "matmul");
        same(be.matmul(a3.get(2), b3.get(2)), ref.matmul(a3.get(2), b3.get(2)), 1e-5, "matmul rank 2");
        same(be.layerNorm(xd, g, b, 1e-6f), ref.layerNorm(x, g, b, 1e-6f), 1e-5, "layerNorm");
        same(be.adaLayerNorm(xd, g, b, 1e-6f), ref.adaLayerNorm(x, g, b, 1e-6f), 1e-5, "adaLayerNorm");
        same(be.rmsNorm(xd, g.to(DType.BF16), 1e-6f), ref.rmsNorm(x, g.to(DType.BF16), 1e-6f), 1e-5, "rmsNorm");
        same(be.rmsNorm(xd, g.to(DType.F16), 1e-6f), ref.rmsNorm(x, g.to(DType.F16), 1e-6f), 1e-5, "rmsNorm f16 weight");
        same(be.softmax(xd), ref.softmax(x), 1e-5, "softmax");
        same(be.geluTanh(xd), ref.geluTanh(x), 1e-6, "geluTanh");
        same(be.geluErf(xd), ref.geluErf(x), 1e-6, "geluErf");
        same(be.silu(xd), ref.silu(x), 1e-6, "silu");
        same(be.relu(xd), ref.relu(x), 0, "relu");
        same(be.biasAct(xd, b, 3), ref.silu(ref.add(x, b)), 1e-6, "bias+silu");
        Tensor packed = rand(r, 5, 3, 3, 8), pd = be.upload(packed);
        Tensor k = rand(r, 9, 3, 8), v = rand(r, 9, 3, 6), ab = rand(r, 3, 5, 9);
        Tensor q = pd.permute(1, 0, 2, 3).get(0), qh = packed.permute(1, 0, 2, 3).get(0);
        same(be.attention(q, k, v, 0.3f), ref.attention(qh, k, v, 0.3f), 1e-5, "attention strided q");
        same(be.attentionWithBias(q, k, v, ab, 1f), ref.attentionWithBias(qh, k, v, ab, 1f), 1e-5, "attentionWithBias");
        same(be.attention(q, k, v, ab, 0.3f, CudaBackend.AttentionKernel.SIMPLE), ref.attentionWithBias(qh, k, v, ab, 0.3f), 1e-5, "simple attention kernel");
        same(be.attention(be.upload(qh.to(DType.BF16)), be.upload(k.to(DType.BF16)), be.upload(v.to(DType.BF16)), null, 0.3f,
                CudaBackend.AttentionKernel.FUSED), ref.attention(qh.to(DType.BF16).to(DType.F32), k.to(DType.BF16).to(DType.F32), v.to(DType.BF16).to(DType.F32), 0.3f),
                1e-5, "bf16 flash attention");
        Tensor hs = rand(r, 3);
        same(be.headL2Normalize(pd.permute(1, 0, 2, 3).get(1), hs, 1e-6f), ref.headL2Normalize(packed.permute(1, 0, 2, 3).get(1), hs, 1e-6f), 1e-6, "headL2Normalize strided");
        Tensor rx = rand(r, 5, 3, 8), cos = rand(r, 5, 4), sin = rand(r, 5, 4);
        Tensor rd = be.upload(rx);
        be.ropeInterleavedInPlace(rd, cos, sin);
        ref.ropeInterleavedInPlace(rx, cos, sin);
        same(rd, rx, 0, "rope");
        Tensor map = rand(r, 4, 5, 7), md = be.upload(map);
        for (Interpolation mode : Interpolation.values())
            same(be.interpolate(md, 9, 11, mode), ref.interpolate(map, 9, 11, mode), 0, mode.toString());
        same(be.interpolate(md, 2, 3, Interpolation.BILINEAR), ref.interpolate(map, 2, 3, Interpolation.BILINEAR), 0, "bilinear down");
        Tensor acc0 = rand(r, 4, 10, 14), acc = be.upload(acc0);
        be.accumulateBilinear(acc, md);
        same(acc, ref.add(acc0, ref.interpolate(map, 10, 14, Interpolation.BILINEAR)), 0, "accumulateBilinear");
        Tensor cw = rand(r, 6, 4, 3, 3), cb = rand(r, 6);
        same(be.conv2d(md, cw, cb, 1, 1), ref.conv2d(map, cw, cb, 1, 1), 1e-5, "conv2d");
        same(be.conv2d(md, cw.to(DType.BF16), null, 2, 0), ref.conv2d(map, cw.to(DType.BF16), null, 2, 0), 1e-5, "conv2d stride 2 bf16");
        same(be.conv2d(md, cw, cb, 1, 1, CudaBackend.ConvKernel.DIRECT), ref.conv2d(map, cw, cb, 1, 1), 1e-5, "direct conv2d");
        Tensor gw = rand(r, 4), gb = rand(r, 4);
        same(be.groupNorm(md, 2, gw, gb, 1e-6f), ref.groupNorm(map, 2, gw, gb, 1e-6f), 1e-5, "groupNorm");
        Tensor st = be.groupNormStats(md, 2, 1e-6f);
        same(st, ref.groupNormStats(map, 2, 1e-6f), 1e-6, "groupNormStats");
        same(be.groupNormApply(md.slice(1, 1, 4), 2, st, gw, null, true),
                ref.groupNormApply(map.slice(1, 1, 4).contiguous(), 2, ref.groupNormStats(map, 2, 1e-6f), gw, null, true), 1e-5, "groupNormApply band");
        assertTrue(fake.launches.containsAll(Kernels.SIGNATURE.keySet().stream()
                .filter(n -> !n.equals("philox_words") && !n.equals("bit_sample") && !n.equals("bits_to_codes")
                        && !n.equals("f32_to_bf16") && !n.equals("bf16_to_f32") && !n.equals("scale_f32")
                        && !n.equals("binary_bcast_f32") && !n.equals("add_inplace_f32")
                        && !n.equals("flash_attention_mma_bf16") /* MmaAttentionFakeDriverTest */).toList()), "launched: " + new java.util.TreeSet<>(fake.launches));
    }

    /**
     * The flash kernel's tiling (through its thread-by-thread transcription) against NaiveBackend on
     * shapes that cross tile edges: Lq ≠ Lk, Lq past one 64-query tile, Lk not a multiple of the
     * 16-key tile, head dims 8 … 128, Dv ≠ D, strided q and KV-cache slices, bias, BF16 inputs, and the
     * fused cosine normalisation against headL2Normalize + attention.
     */
    @Test
    void flashAttentionTilesAgreeWithTheReference() {
        var ref = new dev.infinityj.backend.NaiveBackend();
        var fused = CudaBackend.AttentionKernel.FUSED;
        Random r = new Random(8);
        int[][] shapes = {{70, 37, 3, 16, 16}, {5, 130, 2, 8, 24}, {1, 1, 2, 40, 40}, {64, 16, 1, 128, 128}, {65, 17, 2, 96, 96}, {3, 50, 1, 64, 8}};
        for (int[] sh : shapes) {
            int lq = sh[0], lk = sh[1], h = sh[2], d = sh[3], dv = sh[4];
            String what = "Lq " + lq + " Lk " + lk + " H " + h + " D " + d + " Dv " + dv;
            Tensor q = rand(r, lq, h, d), bias = rand(r, h, lq, lk);
            // keys and values as slices of a longer preallocated cache, as SelfAttention passes them
            Tensor kc = be.upload(rand(r, lk + 9, h, d)), vc = be.upload(rand(r, lk + 9, h, dv));
            Tensor k = kc.slice(0, 0, lk), v = vc.slice(0, 0, lk);
            Tensor kh = be.download(k), vh = be.download(v);
            float sc = (float) (1 / Math.sqrt(d));
            same(be.attention(be.upload(q), k, v, null, sc, fused), ref.attention(q, kh, vh, sc), 1e-5, what);
            same(be.attention(q, k, v, bias, 0.5f, fused), ref.attentionWithBias(q, kh, vh, bias, 0.5f), 1e-5, what + " bias");
            Tensor qs = rand(r, h);
            Tensor want = ref.attention(ref.headL2Normalize(q, qs, 1e-12f), ref.headL2Normalize(kh, null, 1e-12f), vh, 1f);
            same(be.cosineAttention(be.upload(q), k, v, qs, true, 1e-12f, 1f, fused), want, 1e-5, what + " fused cosine");
            same(be.cosineAttention(be.upload(q), k, v, qs, true, 1e-12f, 1f, CudaBackend.AttentionKernel.SIMPLE), want, 1e-5, what + " unfused cosine");
            Tensor kn = be.headL2Normalize(k, null, 1e-12f);
            same(be.cosineAttention(be.upload(q), kn, v, qs, false, 1e-12f, 1f, fused), want, 1e-5, what + " cosine, k already normalised");
        }
        assertTrue(fake.launches.contains("flash_attention_f32"));
        assertTrue(fake.launches.contains("attention_f32"), "the SIMPLE cosine path runs the reference kernel");
        // head dims above 128 leave the flash kernel for the simple one
        fake.launches.clear();
        Tensor q = rand(r, 3, 1, 160), k = rand(r, 5, 1, 160), v = rand(r, 5, 1, 160);
        same(be.attention(q, k, v, null, 0.1f, fused), ref.attention(q, k, v, 0.1f), 1e-5, "D 160");
        assertEquals(List.of("attention_f32"), fake.launches.stream().filter(n -> n.contains("attention")).toList());
    }

    /**
     * The implicit-GEMM conv's tiling (through its transcription) and the direct kernel against
     * NaiveBackend: output channels past one 64-tile, pixel counts and K = C·kh·kw off the tile
     * multiples, 1×1 and 3×3, stride 2 with and without padding, F32 and BF16 weights, no bias.
     */
    @Test
    void convolutionsAgreeWithTheReference() {
        var ref = new dev.infinityj.backend.NaiveBackend();
        Random r = new Random(10);
        int[][] cases = {{5, 13, 17, 70, 3, 1, 1}, {3, 9, 11, 7, 1, 1, 0}, {6, 12, 10, 9, 3, 2, 1}, {4, 8, 9, 66, 3, 2, 0},
                {17, 5, 5, 3, 3, 1, 1}, {2, 3, 70, 5, 1, 1, 0}};
        for (int[] k : cases) {
            int C = k[0], H = k[1], W = k[2], O = k[3], ks = k[4], st = k[5], pad = k[6];
            String what = "C " + C + " " + H + "x" + W + " O " + O + " k " + ks + " s " + st + " p " + pad;
            Tensor x = rand(r, C, H, W), w = rand(r, O, C, ks, ks), b = rand(r, O);
            Tensor xd = be.upload(x);
            for (CudaBackend.ConvKernel kind : CudaBackend.ConvKernel.values()) {
                same(be.conv2d(xd, w, b, st, pad, kind), ref.conv2d(x, w, b, st, pad), 1e-5, kind + " " + what);
                same(be.conv2d(xd, be.upload(w.to(DType.BF16)), null, st, pad, kind), ref.conv2d(x, w.to(DType.BF16), null, st, pad), 1e-5, kind + " bf16 " + what);
            }
        }
        assertTrue(fake.launches.containsAll(List.of("conv2d_igemm_f32", "conv2d_igemm_bf16", "conv2d_f32")), fake.launches.toString());
        assertThrows(dev.infinityj.ShapeException.class, () -> be.conv2d(be.upload(rand(r, 2, 2, 2)), rand(r, 3, 2, 5, 5), null, 1, 0));
    }

    @Test
    void attentionKernelPropertyIsParsedOrRejected() {
        String old = System.getProperty("infinityj.cuda.attention");
        try {
            System.setProperty("infinityj.cuda.attention", "cuBLAS");
            assertEquals(CudaBackend.AttentionKernel.CUBLAS, CudaBackend.Options.defaults().attention());
            System.setProperty("infinityj.cuda.attention", "simple");
            assertEquals(CudaBackend.AttentionKernel.SIMPLE, CudaBackend.AttentionKernel.fromProperty());
            System.setProperty("infinityj.cuda.attention", "flash2");
            var e = assertThrows(dev.infinityj.BadInputException.class, CudaBackend.AttentionKernel::fromProperty);
            assertTrue(e.getMessage().contains("fused, simple, cublas or mma"), e.getMessage());
            System.clearProperty("infinityj.cuda.attention");
            assertEquals(CudaBackend.AttentionKernel.FUSED, CudaBackend.Options.defaults().attention());
        } finally {
            if (old == null) System.clearProperty("infinityj.cuda.attention"); else System.setProperty("infinityj.cuda.attention", old);
        }
        // CUBLAS without cuBLAS (this backend has it disabled) runs the simple kernel
        Random r = new Random(9);
        Tensor q = rand(r, 4, 2, 8), k = rand(r, 6, 2, 8), v = rand(r, 6, 2, 8);
        same(be.attention(q, k, v, null, 0.2f, CudaBackend.AttentionKernel.CUBLAS), new dev.infinityj.backend.NaiveBackend().attention(q, k, v, 0.2f), 1e-5, "cublas → simple");
        assertEquals(List.of("attention_f32"), fake.launches.stream().filter(n -> n.contains("attention")).toList());
    }

    static float[] mix(float[] cond, float[] uncond, double cfg, double tau) throws ReflectiveOperationException {
        Method m = Class.forName("dev.infinityj.model.InfinityGenerator").getDeclaredMethod("mix", float[].class, float[].class, double.class, double.class);
        m.setAccessible(true);
        return (float[]) m.invoke(null, cond, uncond, cfg, tau);
    }

    @Test
    void samplerArgumentsReproduceTheCpuSamplerBitForBit() throws ReflectiveOperationException {
        Random r = new Random(4);
        int rows = 3001;
        float[] lc = new float[2 * rows], lu = new float[2 * rows];
        for (int i = 0; i < lc.length; i++) { lc[i] = (float) r.nextGaussian() * 3; lu[i] = (float) r.nextGaussian() * 3; }
        record Case(double cfg, double tau, int topK, double topP, boolean uncond) {}
        for (Case k : List.of(new Case(3, 0.5, 900, 0.97, true), new Case(1, 1, 0, 0, true), new Case(4, 0.7, 1, 0, true),
                new Case(2.5, 1.3, 2, 0.5, false))) {
            float[] mixed = mix(lc, k.uncond() ? lu : null, k.cfg(), k.tau());
            byte[] want = new byte[rows];
            BitSampler.sample(mixed, rows, k.topK(), k.topP(), 1234567890123L, 7, 40L, want);
            Tensor mixedDev = be.allocate(DType.F32, 2L * rows);
            Tensor bits = be.sampleBits(be.upload(Tensor.ofFloats(lc, rows, 2)), k.uncond() ? Tensor.ofFloats(lu, rows, 2) : null,
                    k.cfg(), k.tau(), k.topK(), k.topP(), 1234567890123L, 7, 40L, mixedDev);
            assertArrayEquals(mixed, be.download(mixedDev).toFloatArray(), k.toString());
            float[] got = be.download(bits).toFloatArray();
            for (int i = 0; i < rows; i++) assertEquals(want[i], (byte) got[i], k + " row " + i);
        }
    }

    @Test
    void bitsToCodesMatchesLatentLayout() {
        Random r = new Random(5);
        for (boolean patchify : new boolean[] {false, true}) {
            int h = 3, w = 5, d = patchify ? 64 : 32;
            byte[] bits = new byte[h * w * d];
            for (int i = 0; i < bits.length; i++) bits[i] = (byte) r.nextInt(2);
            LatentLayout lay = new LatentLayout(d, patchify);
            float mag = BitCodes.magnitude(lay.channels());
            Tensor hb = Tensor.allocate(DType.U8, bits.length);
            java.lang.foreign.MemorySegment.copy(bits, 0, hb.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bits.length);
            Tensor codes = be.bitsToCodes(be.upload(hb), h, w, d, patchify, mag);
            assertArrayEquals(lay.bitsToCodes(bits, h, w), be.download(codes).toFloatArray(), "patchify " + patchify);
        }
    }

    @Test
    void aFailedCallNamesTheCudaError() {
        fake.failAllocWith = 2;
        CudaException e = assertThrows(CudaException.class, () -> be.allocate(DType.F32, 1000));
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertTrue(e.getMessage().startsWith("cuMemAlloc(4096 bytes for a 4000-byte tensor) failed: CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        fake.failAllocWith = 0;
        CudaException u = assertThrows(CudaException.class, () -> CudaContext.checkStatic(222, "cuModuleLoadDataEx"));
        assertEquals("cuModuleLoadDataEx failed: CUDA_ERROR_UNSUPPORTED_PTX_VERSION", u.getMessage());
        fake.errors.clear();
    }

    /** One "generation": a scale loop's worth of allocations, uploads, ops and downloads, all dropped after. */
    private void generationLike(Random r, Tensor weight) {
        Tensor fHat = be.allocate(DType.F32, 4, 8, 8);
        Tensor x = be.upload(rand(r, 16, 12));
        for (int s = 0; s < 3; s++) {
            // even scales in a scope (recycled at close), odd ones left to the GC: both must balance
            try (Scope sc = s % 2 == 0 ? be.scope() : Scope.NONE) {
                Tensor y = be.linear(be.layerNorm(x, null, null, 1e-6f), weight, null);
                y = be.add(y, be.scale(y, 0.5f));
                Tensor bits = be.sampleBits(y, null, 1, 1, 0, 0, 42, s, 0, null);
                be.addInPlace(fHat, be.interpolate(be.upload(rand(r, 4, 2, 2)), 8, 8, Interpolation.BILINEAR));
                be.download(bits);
            }
        }
        be.download(fHat);
    }

    @Test
    void aThousandGenerationsLeaveNoAllocationsBehind() throws InterruptedException {
        Random r = new Random(6);
        Tensor weight = be.upload(rand(r, 10, 12).to(DType.BF16));
        generationLike(r, weight);
        long baseline = settle();
        for (int g = 0; g < 1000; g++) generationLike(r, weight);
        long after = settle();
        assertTrue(be.context().totalAllocations() > 20_000, "allocations made: " + be.context().totalAllocations());
        assertTrue(after <= baseline + 2, "live allocations " + baseline + " → " + after);
        CudaContext.MemoryStats m = be.context().memoryStats();
        assertEquals(fake.allocs - fake.frees, m.reservedBlocks(), "pool and driver agree on what is held");
        assertTrue(fake.allocs < m.requests() / 2, "the pool reuses blocks: " + fake.allocs + " cuMemAlloc calls for " + m.requests() + " requests");
        assertTrue(m.peakInUseBytes() <= m.peakReservedBytes() && m.inUseBytes() <= m.reservedBytes(), m.toString());
        assertTrue(be.isDevice(weight), "a referenced tensor keeps its memory");
        assertEquals(java.util.Map.of(), be.context().liveResources().entrySet().stream()
                .filter(e -> !e.getKey().equals("module") && !e.getKey().equals("stream")).collect(java.util.stream.Collectors.toMap(e -> e.getKey(), e -> e.getValue())));
    }

    private long settle() throws InterruptedException {
        long live = Long.MAX_VALUE;
        for (int i = 0; i < 20; i++) {
            System.gc();
            Thread.sleep(20);
            be.context().collect();
            long now = be.context().liveAllocations();
            if (now == live) break;
            live = now;
        }
        return be.context().liveAllocations();
    }

    @Test
    void aScopeRecyclesWhatItMadeAndKeepsWhatItWasTold() {
        Tensor in = be.upload(Tensor.ofFloats(new float[] {1, 2, 3, 4}, 4));
        long before = be.context().liveAllocations();
        Tensor kept;
        long tmpAddress;
        try (Scope outer = be.scope()) {
            try (Scope inner = be.scope()) {
                Tensor tmp = be.scale(in, 2f);
                tmpAddress = tmp.storage().address();
                kept = inner.keep(be.add(tmp, in));
                assertEquals(before + 2, be.context().liveAllocations());
                assertThrows(IllegalStateException.class, outer::close, "an outer scope cannot close first");
            }
            assertEquals(before + 1, be.context().liveAllocations(), "the inner scope recycled tmp, kept the sum");
            Tensor again = be.scale(in, 3f);
            assertEquals(tmpAddress, again.storage().address(), "the recycled block is handed out again at once");
            assertArrayEquals(new float[] {3, 6, 9, 12}, be.download(kept).toFloatArray(), "kept survives its scope");
        }
        assertEquals(before, be.context().liveAllocations(), "the outer scope recycled what inner kept and its own");
        assertTrue(be.isDevice(in), "uploads are never recycled by a scope");
        assertArrayEquals(new float[] {1, 2, 3, 4}, be.download(in).toFloatArray());
    }

    @Test
    void aBf16KvCacheTakesRowsRoundedToNearestEven() {
        assertEquals(DType.F32, be.kvCacheDType(), "FUSED keeps an F32 cache");
        try (CudaBackend mma = new CudaBackend(fake.driver(), CudaBackend.Options.defaults().withCublas(false)
                .withAttention(CudaBackend.AttentionKernel.MMA))) {
            assertEquals(DType.BF16, mma.kvCacheDType());
            Random r = new Random(3);
            Tensor cache = mma.allocate(DType.BF16, 10, 2, 8);
            Tensor rows = rand(r, 4, 2, 8);
            mma.copyInto(cache.slice(0, 3, 7), mma.upload(rows));
            Tensor got = mma.download(cache);
            Tensor want = rows.to(DType.BF16); // the host's own float → bf16 rounding
            for (int i = 0; i < 4; i++)
                for (int h = 0; h < 2; h++)
                    for (int d = 0; d < 8; d++)
                        assertEquals(want.getFloat(i, h, d), got.getFloat(3 + i, h, d), 0f, "row " + i);
            assertEquals(0f, got.getFloat(0, 0, 0), "rows not written stay zero");
            assertThrows(ShapeException.class, () -> mma.copyInto(cache.permute(1, 0, 2).slice(0, 0, 1), mma.upload(rand(r, 1, 10, 8))),
                    "a strided BF16 destination is refused");
        }
    }

    @Test
    void aLayerLoopHoldsOneActivationAtATimeByAdoptingItsInput() {
        Tensor in = be.upload(Tensor.ofFloats(new float[] {1, 2, 3, 4}, 4));
        long before = be.context().liveAllocations();
        Tensor x = be.scale(in, 1f); // GC-owned: no scope open
        for (int layer = 0; layer < 5; layer++) {
            Tensor prev = x;
            try (Scope s = be.scope()) {
                s.adopt(x);
                x = s.keep(be.add(be.scale(x, 2f), in));
            }
            assertEquals(before + 1, be.context().liveAllocations(), "layer " + layer + ": only x is live");
            assertThrows(IllegalStateException.class, () -> be.download(prev), "the adopted input was recycled");
        }
        // x_{n+1} = 2 x_n + in, x_0 = in: x_5 = (2^6 - 1) in
        assertArrayEquals(new float[] {63, 126, 189, 252}, be.download(x).toFloatArray());
        Tensor host = Tensor.ofFloats(new float[] {1}, 1);
        try (Scope s = be.scope()) {
            assertSame(host, s.adopt(host), "a host tensor is ignored");
        }
        assertArrayEquals(new float[] {1}, host.toFloatArray());
    }

    @Test
    void withThePoolOffATensorUsedAfterItsScopeIsCaught() throws ReflectiveOperationException {
        be.close();
        System.setProperty("infinityj.cuda.pool", "off");
        try {
            fake = new FakeCudaDriver();
            be = new CudaBackend(fake.driver(), CudaBackend.Options.defaults().withCublas(false));
        } finally {
            System.clearProperty("infinityj.cuda.pool");
        }
        Tensor in = be.upload(Tensor.ofFloats(new float[] {1, 2, 3, 4}, 4));
        Tensor stale;
        try (Scope s = be.scope()) {
            stale = be.scale(in, 2f);
        }
        assertEquals(fake.allocs - 1, fake.frees, "freed at scope close, not at the next GC");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> be.scale(stale, 1f));
        assertTrue(e.getMessage().contains("used after its memory was released"), e.getMessage());
    }

    @Test
    void withThePoolOnATensorUsedAfterItsScopeIsCaughtUntilItsBlockIsReused() {
        Tensor in = be.upload(Tensor.ofFloats(new float[] {1, 2, 3, 4}, 4));
        Tensor stale;
        try (Scope s = be.scope()) {
            stale = be.scale(in, 2f);
        }
        assertThrows(IllegalStateException.class, () -> be.download(stale));
    }

    @Test
    void closeFreesEverythingAndReleasesTheContext() {
        Tensor keep = be.upload(Tensor.ofFloats(new float[] {1, 2, 3}, 3));
        be.softmax(keep);
        assertTrue(be.context().liveAllocations() >= 2);
        be.close();
        assertEquals(fake.allocs, fake.frees);
        assertEquals(fake.modulesLoaded, fake.modulesUnloaded);
        assertEquals(1, fake.primaryReleased);
        assertEquals(Boolean.TRUE, be.context().liveResources().isEmpty());
        be = null;
    }

    @Test
    void streamsEventsGraphsAndBuffersAreCountedUntilClosed() {
        CudaContext c = be.context();
        try (CudaStream s = new CudaStream(c, 0); CudaEvent e = new CudaEvent(c, 0)) {
            assertEquals(Long.valueOf(2), c.liveResources().get("stream")); // the backend's own stream + this one
            e.record(s);
            e.synchronize();
        }
        assertEquals(Long.valueOf(1), c.liveResources().get("stream"));
        assertNull(c.liveResources().get("event"));
    }
}
