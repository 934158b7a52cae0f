package dev.infinityj.pipeline;

import dev.infinityj.BadInputException;
import dev.infinityj.InfinityjException;
import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.SafetensorsWriter;
import dev.infinityj.model.ScaleSchedules;
import dev.infinityj.tensor.DType;
import dev.infinityj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bits file of {@code infinityj tokenize} / {@code reconstruct}: a safetensors file with one
 * U8 tensor per scale, {@code scale.00} … {@code scale.NN}, shape [h, w, d] (token-major bits in
 * {0, 1}: bit j of token (y, x) at [y, x, j]; d = the transformer's bits per token), and string
 * metadata:
 * <pre>
 *   format        infinityj-bits/1
 *   template      the aspect-ratio template key (h/w), e.g. 1.0
 *   pn            the pixel budget, e.g. 0.06M
 *   grids         "1x1,2x2,4x4,..." (h x w per scale)
 *   token_bits    d
 *   width,height  image size in pixels
 *   source        the image it came from (file name), optional
 *   model         the model it was made with (preset or model-directory VAE sha256), optional
 * </pre>
 */
public final class BitsFile {
    public static final String FORMAT = "infinityj-bits/1";

    private BitsFile() {}

    /** What a bits file holds. */
    public record Content(ScaleSchedules.Schedule schedule, int tokenBits, List<byte[]> bits, Map<String, String> metadata) {}

    public static void write(Path target, ScaleSchedules.Schedule s, int tokenBits, List<byte[]> bits, Map<String, String> extra) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("template", Double.toString(s.template()));
        meta.put("pn", s.budget().label);
        meta.put("grids", grids(s));
        meta.put("token_bits", Integer.toString(tokenBits));
        meta.put("width", Integer.toString(s.pixelWidth()));
        meta.put("height", Integer.toString(s.pixelHeight()));
        if (extra != null) extra.forEach(meta::putIfAbsent);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (int k = 0; k < bits.size(); k++) {
            ScaleSchedules.Grid g = s.grid(k);
            Tensor t = Tensor.allocate(DType.U8, g.h(), g.w(), tokenBits);
            MemorySegment.copy(bits.get(k), 0, t.segment(), ValueLayout.JAVA_BYTE, 0, bits.get(k).length);
            tensors.put(name(k), t);
        }
        SafetensorsWriter.write(target, meta, tensors);
    }

    public static String name(int k) { return String.format("scale.%02d", k); }

    public static String grids(ScaleSchedules.Schedule s) {
        StringBuilder b = new StringBuilder();
        for (ScaleSchedules.Grid g : s.grids()) b.append(b.isEmpty() ? "" : ",").append(g.h()).append('x').append(g.w());
        return b.toString();
    }

    public static Content read(Path file) {
        if (!Files.isRegularFile(file)) throw new BadInputException(file + ": bits file not found");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, String> m = f.metadata() == null ? Map.of() : f.metadata();
            if (!FORMAT.equals(m.get("format")))
                throw new BadInputException(file + ": not an infinityj bits file (metadata format is " + m.get("format") + ", expected " + FORMAT + "; make one with infinityj tokenize)");
            List<ScaleSchedules.Grid> grids = new ArrayList<>();
            for (String g : m.getOrDefault("grids", "").split(",")) {
                String[] hw = g.split("x");
                try { grids.add(new ScaleSchedules.Grid(Integer.parseInt(hw[0]), Integer.parseInt(hw[1]))); }
                catch (RuntimeException e) { throw new BadInputException(file + ": bad grids metadata '" + m.get("grids") + "'"); }
            }
            ScaleSchedules.Schedule s = ScaleSchedules.of(grids);
            int d;
            try { d = Integer.parseInt(m.get("token_bits")); }
            catch (RuntimeException e) { throw new BadInputException(file + ": bad token_bits metadata '" + m.get("token_bits") + "'"); }
            List<byte[]> bits = new ArrayList<>();
            for (int k = 0; k < s.scales(); k++) {
                if (!f.contains(name(k))) throw new BadInputException(file + ": missing tensor " + name(k));
                Tensor t = f.get(name(k));
                ScaleSchedules.Grid g = s.grid(k);
                if (t.dtype() != DType.U8 || t.rank() != 3 || t.dim(0) != g.h() || t.dim(1) != g.w() || t.dim(2) != d)
                    throw new BadInputException(file + ": tensor " + name(k) + " is " + t.describe() + ", expected U8[" + g.h() + ", " + g.w() + ", " + d + "]");
                byte[] b = t.contiguous().segment().toArray(ValueLayout.JAVA_BYTE);
                for (byte v : b) if (v != 0 && v != 1) throw new BadInputException(file + ": tensor " + name(k) + " holds a value other than 0 or 1");
                bits.add(b);
            }
            return new Content(s, d, bits, m);
        } catch (InfinityjException e) {
            throw e;
        }
    }
}
