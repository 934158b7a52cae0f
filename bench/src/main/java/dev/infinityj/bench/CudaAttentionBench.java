package dev.infinityj.bench;

import static dev.infinityj.bench.CudaBenchSupport.random;
import static dev.infinityj.bench.CudaBenchSupport.relDiff;

import dev.infinityj.cuda.CudaBackend;
import dev.infinityj.cuda.CudaBackend.AttentionKernel;
import dev.infinityj.cuda.CudaEvent;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Times the CUDA attention implementations against each other on Infinity's shapes (a plain main, not
 * JMH: the GPU is timed with CUDA events on the backend's stream). Needs an NVIDIA GPU; without one it
 * prints one line saying so and exits with status 2, having measured nothing.
 *
 * <p>Shapes (H heads × D head dim, Lq queries × Lk keys): the 2B 1024² schedule's self-attention at
 * the last scales with cosine attention (16 × 128; 4096 × 10521, 2304 × 6425, 1024 × 2521, 256 × 521,
 * 16 × 21), a text cross-attention (16 × 128, 4096 × 512, scale 1/√128) and T5-XL's self-attention with
 * its relative-position bias (32 × 64, 512 × 512). Kinds: FUSED (flash_attention_f32), FUSED with BF16
 * inputs (flash_attention_bf16), SIMPLE (attention_f32), with cuBLAS CUBLAS (materialised scores), and
 * MMA (flash_attention_mma_bf16, tensor cores; unverified on hardware until this harness has run it):
 * {@code mma} from the F32 inputs (the time includes their conversion to bf16 on the GPU), {@code mma-bf16}
 * from BF16 inputs (the kernel alone).
 *
 * <p>Per call: mean milliseconds over the timed iterations, including the output allocation (and for
 * CUBLAS the H·Lq·Lk score buffer), and GFLOPS counted as 4·Lq·Lk·D·H (QKᵀ and P·V; softmax not counted).
 * Each kind's output is compared with FUSED's (max abs difference over max |FUSED|; at most 2e-3, or
 * 3e-2 with BF16 inputs and for MMA, whose q/k/v and probabilities are bf16: each weight is off by at
 * most 2⁻⁸ relative, well inside 3e-2 of the output's range) so a fast wrong kernel cannot pass
 * unnoticed: a disagreement is marked BAD and the exit status is 1.
 *
 * <pre>java -cp ... dev.infinityj.bench.CudaAttentionBench [iters=10] [shapes=4096x10521,16x21] [kinds=fused,simple]</pre>
 */
public final class CudaAttentionBench {
    record Shape(String name, int lq, int lk, int heads, int dim, boolean bias, float scale) {
        double gflop() { return 4.0 * lq * lk * dim * heads / 1e9; }
        String key() { return lq + "x" + lk; }
    }

    static final List<Shape> SHAPES = List.of(
            new Shape("2B self, scale 13", 4096, 10521, 16, 128, false, 1f),
            new Shape("2B self, scale 12", 2304, 6425, 16, 128, false, 1f),
            new Shape("2B self, scale 10", 1024, 2521, 16, 128, false, 1f),
            new Shape("2B self, scale 7", 256, 521, 16, 128, false, 1f),
            new Shape("2B self, scale 3", 16, 21, 16, 128, false, 1f),
            new Shape("2B cross to text", 4096, 512, 16, 128, false, (float) (1 / Math.sqrt(128))),
            new Shape("T5-XL self + bias", 512, 512, 32, 64, true, 1f));

    /** Largest accepted difference from FUSED: fp32 kinds; BF16 inputs or MMA (8-bit significands). */
    static final double TOL_F32 = 2e-3, TOL_BF16 = 3e-2;
    static int disagreements;

    public static void main(String[] args) {
        int iters = 10;
        String shapeFilter = null;
        List<String> kindNames = List.of("fused", "fused-bf16", "simple", "cublas", "mma", "mma-bf16");
        for (String a : args) {
            if (a.startsWith("iters=")) iters = Integer.parseInt(a.substring(6));
            else if (a.startsWith("shapes=")) shapeFilter = "," + a.substring(7) + ",";
            else if (a.startsWith("kinds=")) kindNames = List.of(a.substring(6).split(","));
            else { System.err.println("usage: CudaAttentionBench [iters=N] [shapes=LqxLk,...] [kinds=fused,fused-bf16,simple,cublas,mma,mma-bf16]"); System.exit(2); }
        }
        Optional<String> why = CudaBackend.probe();
        if (why.isPresent()) {
            System.out.println("CudaAttentionBench: no usable GPU, nothing measured (" + why.get() + ")");
            System.exit(2);
        }
        try (CudaBackend be = new CudaBackend()) {
            System.out.println("# " + be.describe() + ", " + iters + " timed iterations after 2 warm-up calls");
            System.out.printf("%-20s %-14s %-11s %10s %10s %12s%n", "shape", "Lq x Lk", "kind", "ms/call", "GFLOPS", "vs fused");
            for (Shape s : SHAPES) {
                if (shapeFilter != null && !shapeFilter.contains("," + s.key() + ",")) continue;
                run(be, s, kindNames, iters);
            }
        }
        if (disagreements > 0) {
            System.out.println("CudaAttentionBench: " + disagreements + " result(s) disagree with the fused kernel beyond tolerance");
            System.exit(1);
        }
    }

    private static void run(CudaBackend be, Shape s, List<String> kindNames, int iters) {
        SplittableRandom r = new SplittableRandom(s.lq() * 31L + s.lk());
        Tensor q = be.upload(random(r, s.lq(), s.heads(), s.dim()));
        Tensor k = be.upload(random(r, s.lk(), s.heads(), s.dim()));
        Tensor v = be.upload(random(r, s.lk(), s.heads(), s.dim()));
        Tensor bias = s.bias() ? be.upload(random(r, s.heads(), s.lq(), s.lk())) : null;
        if (s.scale() == 1f && !s.bias()) { // cosine attention: unit keys, as the KV cache holds them
            q = be.headL2Normalize(q, null, 1e-12f);
            k = be.headL2Normalize(k, null, 1e-12f);
        }
        Tensor qb = null, kb = null, vb = null;
        float[] fused = null;
        List<String> rows = new ArrayList<>();
        for (String name : kindNames) {
            AttentionKernel kind;
            boolean bf16 = name.endsWith("-bf16");
            boolean lowPrecision = bf16 || name.startsWith("mma");
            switch (name) {
                case "fused", "fused-bf16" -> kind = AttentionKernel.FUSED;
                case "mma", "mma-bf16" -> kind = AttentionKernel.MMA;
                case "simple" -> kind = AttentionKernel.SIMPLE;
                case "cublas" -> {
                    if (!be.usesCublas()) { rows.add(String.format("%-20s %-14s %-11s %s", s.name(), s.key(), name, "skipped: no cuBLAS")); continue; }
                    kind = AttentionKernel.CUBLAS;
                }
                default -> throw new IllegalArgumentException("unknown kind " + name);
            }
            if (bf16 && qb == null) { qb = toBf16(be, q); kb = toBf16(be, k); vb = toBf16(be, v); }
            Tensor qq = bf16 ? qb : q, kk = bf16 ? kb : k, vv = bf16 ? vb : v;
            Tensor out = null;
            for (int w = 0; w < 2; w++) out = be.attention(qq, kk, vv, bias, s.scale(), kind);
            be.synchronize();
            float ms;
            try (CudaEvent a = new CudaEvent(be.context(), 0); CudaEvent b = new CudaEvent(be.context(), 0)) {
                a.record(be.context().stream());
                for (int i = 0; i < iters; i++) out = be.attention(qq, kk, vv, bias, s.scale(), kind);
                b.record(be.context().stream());
                b.synchronize();
                ms = b.elapsedSince(a) / iters;
            }
            float[] got = be.download(out).toFloatArray();
            String diff;
            if (fused == null && name.equals("fused")) { fused = got; diff = "-"; }
            else if (fused == null) diff = "n/a";
            else {
                double e = relDiff(got, fused);
                boolean bad = !(e <= (lowPrecision ? TOL_BF16 : TOL_F32));
                if (bad) disagreements++;
                diff = String.format("%.2e%s", e, bad ? " BAD" : "");
            }
            rows.add(String.format("%-20s %-14s %-11s %10.3f %10.1f %12s", s.name(), s.key(), name, ms, s.gflop() / (ms / 1e3), diff));
        }
        rows.forEach(System.out::println);
    }

    private static Tensor toBf16(CudaBackend be, Tensor deviceF32) {
        return be.upload(be.download(deviceF32).to(DType.BF16));
    }
}
