package dev.infinityj.vae;

import dev.infinityj.backend.Backend;
import dev.infinityj.tensor.Tensor;

/**
 * {@code ResnetBlock(in, out)} (spec §5.1): h = conv1(swish(norm1(x))); h = conv2(swish(norm2(h)));
 * out = shortcut(x) + h, where the shortcut is a 1×1 conv ({@code nin_shortcut}) if in ≠ out.
 * No dropout, no time embedding.
 */
public final class VaeResBlock {
    final int in, out;
    final Norm norm1, norm2;
    final Conv conv1, conv2;
    final Conv ninShortcut; // null when in == out

    VaeResBlock(VaeWeights w, String prefix, int in, int out, float eps) {
        this.in = in;
        this.out = out;
        norm1 = Norm.load(w, prefix + ".norm1", in, eps);
        conv1 = Conv.load(w, prefix + ".conv1", in, out, 3, 1, 1);
        norm2 = Norm.load(w, prefix + ".norm2", out, eps);
        conv2 = Conv.load(w, prefix + ".conv2", out, out, 3, 1, 1);
        ninShortcut = in != out ? Conv.load(w, prefix + ".nin_shortcut", in, out, 1, 1, 0) : null;
    }

    /** Whole-map forward of x [in, H, W]. */
    public Tensor forward(Backend be, Tensor x) { return forward(be, x, Long.MAX_VALUE); }

    /**
     * Forward in row bands of about {@code bandBytes} of activations: holds x, h and the output
     * map plus one band of temporaries; identical results for any band size.
     */
    public Tensor forward(Backend be, Tensor input, long bandBytes) {
        int hh = (int) input.dim(1), ww = (int) input.dim(2);
        int rows = Bands.rowsFor(bandBytes, Math.max(in, out), ww);
        Tensor x = Bands.source(be, input, rows);
        Tensor st1 = norm1.stats(be, x);
        Tensor h = Bands.assemble(be, out, hh, ww, rows, (y0, y1) -> Bands.normSwishConv(be, x, norm1, st1, conv1, y0, y1));
        Tensor st2 = norm2.stats(be, h);
        // h is already host memory when banded (assemble), or the backend's whole map
        return Bands.assemble(be, out, hh, ww, rows, (y0, y1) -> {
            Tensor r = Bands.normSwishConv(be, h, norm2, st2, conv2, y0, y1);
            Tensor xr = be.upload(Bands.hostRows(x, y0, y1));
            Tensor skip = ninShortcut == null ? xr : ninShortcut.forward(be, xr);
            return be.add(skip, r);
        });
    }
}
