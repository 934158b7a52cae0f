package dev.infinityj.pipeline;

import dev.infinityj.backend.Backend;
import dev.infinityj.backend.CpuBackend;
import dev.infinityj.model.GenerationOptions;
import dev.infinityj.model.ScaleSchedules;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code --offload}'s wiring without a GPU: with a separate text backend the T5 encoder (the only user
 * of attentionWithBias) runs on it and nothing else does, the transformer and the VAE run
 * on the main backend, and the image is the same as with one backend.
 */
class PipelineOffloadTest {
    /** A backend that counts the calls of each Backend method and forwards them. */
    static Backend counting(Backend target, Map<String, AtomicLong> calls) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (p, m, a) -> {
            calls.computeIfAbsent(m.getName(), k -> new AtomicLong()).incrementAndGet();
            try { return m.invoke(target, a); }
            catch (InvocationTargetException e) { throw e.getCause(); }
        });
    }

    static long n(Map<String, AtomicLong> calls, String op) { return calls.getOrDefault(op, new AtomicLong()).get(); }

    @Test
    void theTextEncoderRunsOnItsOwnBackendAndTheImageIsUnchanged() {
        ScaleSchedules.Schedule s = ScaleSchedules.forAspect(1.0, "0.06M");
        Pipeline.Request req = new Pipeline.Request("a red fox", null, 7, new double[] {3}, new double[] {0.5},
                GenerationOptions.DEFAULT_TOP_K, GenerationOptions.DEFAULT_TOP_P, 0, s, null, 0);
        Map<String, AtomicLong> mainCalls = new ConcurrentHashMap<>(), textCalls = new ConcurrentHashMap<>();
        try (CpuBackend cpuA = new CpuBackend(1); CpuBackend cpuB = new CpuBackend(1)) {
            Backend main = counting(cpuA, mainCalls), text = counting(cpuB, textCalls);
            byte[] offloaded, single;
            try (Pipeline p = Pipeline.random("tiny", 3, null, main, text)) {
                assertSame(main, p.backend());
                assertSame(text, p.textBackend());
                assertTrue(p.notes().stream().anyMatch(x -> x.startsWith("--offload: the T5 text encoder runs on")), p.notes().toString());
                offloaded = p.generate(req, List.of()).image().rgb();
            }
            assertTrue(n(textCalls, "attentionWithBias") > 0, "T5 attention ran on the text backend: " + textCalls.keySet());
            assertTrue(n(textCalls, "rmsNorm") > 0);
            assertEquals(0, n(mainCalls, "attentionWithBias"), "no T5 attention on the main backend");
            assertTrue(n(mainCalls, "attention") > 0 && n(mainCalls, "conv2d") > 0, "transformer and VAE on the main backend: " + mainCalls.keySet());
            assertEquals(0, n(textCalls, "attention") + n(textCalls, "conv2d"), "nothing but T5 on the text backend: " + textCalls.keySet());
            try (Pipeline p = Pipeline.random("tiny", 3, null, cpuA)) {
                assertSame(p.backend(), p.textBackend());
                assertTrue(p.notes().stream().noneMatch(x -> x.startsWith("--offload")));
                single = p.generate(req, List.of()).image().rgb();
            }
            assertArrayEquals(single, offloaded, "same image with the encoder on another backend");
        }
    }

    @Test
    void closeWithClosesTheExtraResourceLast() {
        java.util.List<String> order = new java.util.ArrayList<>();
        try (CpuBackend cpu = new CpuBackend(1)) {
            Pipeline p = Pipeline.random("tiny", 3, null, cpu);
            p.closeWith(() -> order.add("extra"));
            p.close();
            assertEquals(List.of("extra"), order);
        }
    }
}
