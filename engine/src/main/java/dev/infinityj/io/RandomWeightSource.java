package dev.infinityj.io;

import dev.infinityj.WeightFormatException;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;

import static dev.infinityj.tensor.Tensor.F32_LE;
import static dev.infinityj.tensor.Tensor.I16_LE;

/**
 * Random weights of given shapes, generated lazily and deterministically from a seed: the
 * {@code --random-weights} presets that run the full pipeline on the real model shapes with no
 * files (speed and memory work; the output is noise, honestly labelled as such).
 *
 * <p>Init follows PyTorch's defaults closely enough to keep activations finite: matrices and
 * convolutions uniform(±1/√fan_in), norm gains 1 ± 0.1, biases uniform(±0.02), buffers whose
 * name says "zero" stay zero, cosine-attention log-scales ln 4 (the official init), integer
 * buffers 1. Each 64 Ki-element chunk has its own generator state derived from (seed, key,
 * chunk), so the values do not depend on the thread count.
 */
public final class RandomWeightSource implements WeightSource {
    /** What a key holds. */
    public record Spec(long[] shape, DType dtype) {}

    private static final int CHUNK = 1 << 16;

    private final String name;
    private final Map<String, Spec> specs;
    private final long seed;
    /**
     * Weakly held: a model that re-lays out a weight (the CPU backend packs Linear weights) drops
     * the original, which is then freed instead of doubling the memory; asked again, a key is
     * regenerated with the same values.
     */
    private final Map<String, java.lang.ref.WeakReference<Tensor>> cache = new ConcurrentHashMap<>();

    public RandomWeightSource(String name, Map<String, Spec> specs, long seed) {
        this.name = name;
        this.specs = Collections.unmodifiableMap(new LinkedHashMap<>(specs));
        this.seed = seed;
    }

    /** All floating keys in {@code dtype}; shapes from {@code shapes}. */
    public static RandomWeightSource of(String name, Map<String, long[]> shapes, DType dtype, long seed) {
        Map<String, Spec> s = new LinkedHashMap<>();
        shapes.forEach((k, v) -> s.put(k, new Spec(v, dtype)));
        return new RandomWeightSource(name, s, seed);
    }

    @Override public Set<String> keys() { return specs.keySet(); }

    @Override public boolean contains(String key) { return specs.containsKey(key); }

    @Override public String describe() { return "random weights (" + name + ", seed " + seed + ")"; }

    @Override
    public Tensor get(String key) {
        Spec sp = specs.get(key);
        if (sp == null) throw new WeightFormatException(describe() + ": no tensor named '" + key + "'");
        java.lang.ref.WeakReference<Tensor> ref = cache.get(key);
        Tensor t = ref == null ? null : ref.get();
        if (t == null) {
            t = generate(key, sp);
            cache.put(key, new java.lang.ref.WeakReference<>(t));
        }
        return t;
    }

    @Override
    public Info info(String key) {
        Spec sp = specs.get(key);
        if (sp == null) throw new WeightFormatException(describe() + ": no tensor named '" + key + "'");
        return new Info(sp.dtype, sp.shape.clone());
    }

    /** Bytes the whole set occupies once every tensor was generated. */
    public long totalBytes() {
        long b = 0;
        for (Spec s : specs.values()) b += Tensor.numel(s.shape) * s.dtype.byteSize();
        return b;
    }

    private Tensor generate(String key, Spec sp) {
        Tensor t = Tensor.allocate(sp.dtype, sp.shape);
        long n = t.numel();
        if (!sp.dtype.isFloating()) {
            if (sp.dtype == DType.I64) for (long i = 0; i < n; i++) t.storage().setAtIndex(Tensor.I64_LE, i, 1L);
            return t;
        }
        String leaf = key.substring(key.lastIndexOf('.') + 1);
        if (key.contains("zero")) return t;
        float center, half;
        if (key.contains("scale_mul")) { center = (float) Math.log(4); half = 0; }
        else if (sp.shape.length >= 2) {
            long fanIn = n / sp.shape[0];
            center = 0; half = (float) (1 / Math.sqrt(Math.max(1, fanIn)));
        } else if (leaf.equals("bias") || leaf.endsWith("_bias")) { center = 0; half = 0.02f; }
        else { center = 1; half = 0.1f; }
        long keySeed = seed * 0x9E3779B97F4A7C15L ^ key.hashCode() * 0xC2B2AE3D27D4EB4FL;
        int chunks = (int) ((n + CHUNK - 1) / CHUNK);
        MemorySegment seg = t.storage();
        boolean bf16 = sp.dtype == DType.BF16, f16 = sp.dtype == DType.F16;
        IntStream.range(0, chunks).parallel().forEach(c -> {
            long state = mix(keySeed + c * 0xD1B54A32D192ED03L);
            long end = Math.min(n, (long) (c + 1) * CHUNK);
            for (long i = (long) c * CHUNK; i < end; i++) {
                state += 0x9E3779B97F4A7C15L;
                float u = (mix(state) >>> 40) * 0x1p-24f * 2f - 1f;
                float v = center + half * u;
                if (bf16) seg.setAtIndex(I16_LE, i, DType.f32ToBf16(v));
                else if (f16) seg.setAtIndex(I16_LE, i, DType.f32ToF16(v));
                else seg.setAtIndex(F32_LE, i, v);
            }
        });
        return t;
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
