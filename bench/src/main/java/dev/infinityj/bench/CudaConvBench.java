package dev.infinityj.bench;

import static dev.infinityj.bench.CudaBenchSupport.random;
import static dev.infinityj.bench.CudaBenchSupport.relDiff;

import dev.infinityj.cuda.CudaBackend;
import dev.infinityj.cuda.CudaBackend.ConvKernel;
import dev.infinityj.cuda.CudaEvent;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Times the CUDA conv2d implementations (IMPLICIT_GEMM, DIRECT) on the BSQ-VAE decoder's layers at
 * 1024² (base 128 channels, ch_mult 1,2,4,4,4: 512 channels at 64²…256², 256 at 512², 128 at 1024²),
 * with BF16 and F32 weights, timed with CUDA events. GFLOPS counts 2·O·C·kh·kw·Ho·Wo per call. Each
 * result is compared with DIRECT's (max abs difference over max |DIRECT| ≤ 1e-4; beyond it the row is
 * marked BAD and the exit status is 1). Without a GPU it prints one line and exits 2, having measured
 * nothing.
 *
 * <pre>java -cp ... dev.infinityj.bench.CudaConvBench [iters=5]</pre>
 */
public final class CudaConvBench {
    record Layer(String name, int c, int o, int hw, int k) {
        double gflop() { return 2.0 * o * c * k * k * (double) hw * hw / 1e9; }
    }

    static final List<Layer> LAYERS = List.of(
            new Layer("mid 512 3x3 @64", 512, 512, 64, 3),
            new Layer("up 512 3x3 @256", 512, 512, 256, 3),
            new Layer("up 256 3x3 @512", 256, 256, 512, 3),
            new Layer("shortcut 512>256 1x1 @512", 512, 256, 512, 1),
            new Layer("up 128 3x3 @1024", 128, 128, 1024, 3),
            new Layer("conv_out 128>3 @1024", 128, 3, 1024, 3));

    public static void main(String[] args) {
        int iters = 5;
        for (String a : args) {
            if (a.startsWith("iters=")) iters = Integer.parseInt(a.substring(6));
            else { System.err.println("usage: CudaConvBench [iters=N]"); System.exit(2); }
        }
        Optional<String> why = CudaBackend.probe();
        if (why.isPresent()) {
            System.out.println("CudaConvBench: no usable GPU, nothing measured (" + why.get() + ")");
            System.exit(2);
        }
        int bad = 0;
        try (CudaBackend be = new CudaBackend()) {
            System.out.println("# " + be.describe() + ", " + iters + " timed iterations after 1 warm-up call");
            System.out.printf("%-28s %-14s %-6s %10s %10s %12s%n", "layer", "kind", "w", "ms/call", "GFLOPS", "vs direct");
            for (Layer l : LAYERS) {
                SplittableRandom r = new SplittableRandom(l.c() * 7919L + l.hw());
                Tensor x = be.upload(random(r, l.c(), l.hw(), l.hw()));
                Tensor w32 = random(r, l.o(), l.c(), l.k(), l.k());
                Tensor wf = be.upload(w32), wb = be.upload(w32.to(DType.BF16)), b = be.upload(random(r, l.o()));
                float[] ref32 = be.download(be.conv2d(x, wf, b, 1, l.k() / 2, ConvKernel.DIRECT)).toFloatArray();
                float[] ref16 = be.download(be.conv2d(x, wb, b, 1, l.k() / 2, ConvKernel.DIRECT)).toFloatArray();
                for (ConvKernel kind : ConvKernel.values())
                    for (boolean bf16 : new boolean[] {true, false}) {
                        Tensor w = bf16 ? wb : wf;
                        Tensor out = be.conv2d(x, w, b, 1, l.k() / 2, kind);
                        be.synchronize();
                        float ms;
                        try (CudaEvent s = new CudaEvent(be.context(), 0); CudaEvent e = new CudaEvent(be.context(), 0)) {
                            s.record(be.context().stream());
                            for (int i = 0; i < iters; i++) out = be.conv2d(x, w, b, 1, l.k() / 2, kind);
                            e.record(be.context().stream());
                            e.synchronize();
                            ms = e.elapsedSince(s) / iters;
                        }
                        double d = relDiff(be.download(out).toFloatArray(), bf16 ? ref16 : ref32);
                        boolean wrong = !(d <= 1e-4);
                        if (wrong) bad++;
                        System.out.printf("%-28s %-14s %-6s %10.3f %10.1f %12s%n", l.name(), kind.name().toLowerCase(java.util.Locale.ROOT),
                                bf16 ? "bf16" : "f32", ms, l.gflop() / (ms / 1e3), String.format("%.2e%s", d, wrong ? " BAD" : ""));
                    }
            }
        }
        if (bad > 0) {
            System.out.println("CudaConvBench: " + bad + " result(s) disagree with the direct kernel beyond 1e-4");
            System.exit(1);
        }
    }
}
