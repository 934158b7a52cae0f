package dev.infinityj.vae;

import dev.infinityj.ShapeException;
import dev.infinityj.WeightFormatException;
import dev.infinityj.io.WeightSource;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.util.Arrays;

/**
 * Key lookup for BSQ-VAE weights in both spellings the official {@code load_cnn} accepts
 * (spec §6.3): the module-native form with the inner {@code .conv} / {@code .norm}
 * ({@code decoder.conv_in.conv.weight}, {@code ...norm1.norm.weight}) and the flat "flux" form
 * without it ({@code decoder.conv_in.weight}). A {@code vae.} prefix (the {'vae': state_dict}
 * nesting of vae.pth, flattened) is detected and stripped. Tensors are views into the source,
 * which must stay open while they are used.
 */
public final class VaeWeights {
    private final WeightSource source;
    private final String prefix;

    public VaeWeights(WeightSource source) {
        this.source = source;
        String p = "";
        for (String cand : new String[] {"", "vae.", "module.", "vae.module."}) {
            if (source.contains(cand + "decoder.conv_in.conv.weight") || source.contains(cand + "decoder.conv_in.weight")
                    || source.contains(cand + "encoder.conv_in.conv.weight") || source.contains(cand + "encoder.conv_in.weight")) {
                p = cand;
                break;
            }
        }
        this.prefix = p;
    }

    public String describe() { return source.describe(); }

    public WeightSource source() { return source; }

    /** Whether a conv ({@code conv=true}) or norm module named {@code module} exists in either spelling. */
    boolean has(String module, boolean conv) {
        String inner = conv ? ".conv" : ".norm";
        return source.contains(prefix + module + inner + ".weight") || source.contains(prefix + module + ".weight");
    }

    private Tensor find(String module, String inner, String suffix) {
        String a = prefix + module + inner + suffix, b = prefix + module + suffix;
        if (source.contains(a)) return source.get(a);
        if (source.contains(b)) return source.get(b);
        throw new WeightFormatException(source.describe() + ": missing VAE weight '" + module + inner + suffix
                + "' (also tried '" + module + suffix + "'" + (prefix.isEmpty() ? "" : ", under prefix '" + prefix + "'") + ")");
    }

    Tensor convWeight(String module) { return find(module, ".conv", ".weight"); }

    /** Conv weight [out, in, k, k] and bias [out], checked and made F32. */
    Tensor[] conv(String module, int in, int out, int k) {
        Tensor w = check(module + ".weight", find(module, ".conv", ".weight"), out, in, k, k);
        Tensor b = check(module + ".bias", find(module, ".conv", ".bias"), out);
        return new Tensor[] {w, b};
    }

    /** GroupNorm affine weight and bias [c]. */
    Tensor[] norm(String module, int c) {
        Tensor w = check(module + ".weight", find(module, ".norm", ".weight"), c);
        Tensor b = check(module + ".bias", find(module, ".norm", ".bias"), c);
        return new Tensor[] {w, b};
    }

    private Tensor check(String name, Tensor t, long... shape) {
        if (!Arrays.equals(t.shape(), shape))
            throw new ShapeException(source.describe() + ": VAE weight '" + name + "' has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(shape));
        if (!t.dtype().isFloating())
            throw new WeightFormatException(source.describe() + ": VAE weight '" + name + "' has dtype " + t.dtype() + ", expected a float type");
        return t.to(DType.F32);
    }
}
