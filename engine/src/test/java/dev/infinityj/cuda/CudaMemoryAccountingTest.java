package dev.infinityj.cuda;

import dev.infinityj.io.RandomWeightSource;
import dev.infinityj.model.GenerationOptions;
import dev.infinityj.model.InfinityConfig;
import dev.infinityj.model.InfinityGenerator;
import dev.infinityj.model.InfinityModel;
import dev.infinityj.model.InfinityWeights;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Device-memory accounting of a whole transformer generation on the fake libcuda in dry-run mode
 * (allocations without memory, copies and kernels only checked): the CUDA backend's real allocation
 * sequence, pool and scopes included, without a GPU. The peak in use must cover the weights and the
 * KV cache (a floor from the shapes) and stay within them plus a bounded number of activation-sized
 * temporaries that does not grow with depth — which is what the scopes promise (one activation and
 * one layer's temporaries live).
 * These are bookkeeping figures of our allocations, not measurements of a GPU (no CUDA context,
 * cuBLAS workspace or fragmentation is in them).
 */
class CudaMemoryAccountingTest {
    record Account(long weights, long kv, long activation, long peakInUse, long peakReserved, long driverAllocations) {}

    static Account account(InfinityConfig c, ScaleSchedules.Schedule s, CudaBackend.AttentionKernel attention, DType weights)
            throws ReflectiveOperationException {
        FakeCudaDriver fake = new FakeCudaDriver();
        fake.dryRun = true;
        try (CudaBackend be = new CudaBackend(fake.driver(), CudaBackend.Options.defaults().withCublas(false).withAttention(attention))) {
            Map<String, long[]> shapes = InfinityWeights.expectedShapes(c);
            long w = 0;
            for (long[] sh : shapes.values()) w += Tensor.numel(sh) * weights.byteSize();
            InfinityModel m = InfinityModel.load(c, RandomWeightSource.of("acct", shapes, weights, 1), be);
            int batch = 2; // CFG on every scale
            long kv = 2L * c.depth() * batch * s.totalTokens() * c.width() * be.kvCacheDType().byteSize();
            long act = (long) batch * s.last().tokens() * c.width() * 4;
            Tensor text = Tensor.allocate(DType.F32, 16, c.textChannels());
            be.context().resetPeakMemory();
            new InfinityGenerator(m).generate(text, null, GenerationOptions.builder(s).seed(1).build(), List.of());
            CudaContext.MemoryStats st = be.context().memoryStats();
            assertTrue(fake.errors.isEmpty(), "fake driver errors: " + fake.errors);
            return new Account(w, kv, act, st.peakInUseBytes(), st.peakReservedBytes(), st.driverAllocations());
        }
    }

    static void report(String what, Account a) {
        double gib = 1L << 30;
        System.out.printf("[cuda-memory %s] weights %.3f GiB + KV cache %.3f GiB; peak in use %.3f GiB (%.1f activations of %.1f MiB above them), peak reserved %.3f GiB, %d cuMemAlloc%n",
                what, a.weights() / gib, a.kv() / gib, a.peakInUse() / gib, extra(a), a.activation() / 1048576.0, a.peakReserved() / gib, a.driverAllocations());
        assertTrue(a.peakInUse() >= a.weights() + a.kv(), what + ": the peak cannot be below weights + KV cache");
        assertTrue(a.peakReserved() >= a.peakInUse(), what + ": reserved ≥ in use");
    }

    /** Peak in use above weights + KV cache, in activations of [2, L_last, width] F32. */
    static double extra(Account a) { return (a.peakInUse() - a.weights() - a.kv()) / (double) a.activation(); }

    /**
     * What the scopes promise, as a property that needs no hand count of a block's temporaries: memory
     * above weights + KV cache does not grow with depth (each block's temporaries are recycled before
     * the next block runs). Without scopes, every block's temporaries would wait for the GC, which a
     * dry run of a second never triggers for lack of heap pressure.
     */
    @Test
    void aGenerationHoldsWeightsKvCacheAndTemporariesThatDoNotGrowWithDepth() throws ReflectiveOperationException {
        assumeTrue(CudaContext.kernelsMissingReason() == null, "CUDA kernels not in this build");
        ScaleSchedules.Schedule s = ScaleSchedules.forAspect(1.0, "0.25M");
        for (CudaBackend.AttentionKernel k : List.of(CudaBackend.AttentionKernel.FUSED, CudaBackend.AttentionKernel.MMA)) {
            Account shallow = account(new InfinityConfig("acct-d2", 2, 256, 2, 1024, 1, 256, 64, 32, 15, 1e-6f, false), s, k, DType.BF16);
            Account deep = account(new InfinityConfig("acct-d8", 8, 256, 2, 1024, 1, 256, 64, 32, 15, 1e-6f, false), s, k, DType.BF16);
            report("depth 2 " + k, shallow);
            report("depth 8 " + k, deep);
            // the deeper model adds 6 blocks' text K/V (made once per generation) and nothing per block at the peak
            assertTrue(extra(deep) <= extra(shallow) + 2, k + ": " + extra(shallow) + " activations above weights + KV at depth 2, " + extra(deep) + " at depth 8");
        }
    }

    /** The 2B shapes at 1024² (13 scales): opt-in, -Dinfinityj.accounting2b=true (random weights take a while to make). */
    @Test
    void infinity2bAt1024() throws ReflectiveOperationException {
        assumeTrue(Boolean.getBoolean("infinityj.accounting2b"), "opt-in: -Dinfinityj.accounting2b=true");
        assumeTrue(CudaContext.kernelsMissingReason() == null, "CUDA kernels not in this build");
        InfinityConfig c = InfinityConfig.preset("2b");
        ScaleSchedules.Schedule s = ScaleSchedules.forAspect(1.0, "1M");
        for (CudaBackend.AttentionKernel k : List.of(CudaBackend.AttentionKernel.FUSED, CudaBackend.AttentionKernel.MMA))
            report("2b 1024 " + k, account(c, s, k, DType.BF16));
    }
}
