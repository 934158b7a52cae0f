package dev.infinityj.cuda;

import java.util.Map;

/**
 * The kernels of cuda-kernels/src/main/cuda and the argument kinds each takes, in order:
 * {@code p} pointer (8 bytes), {@code l} 64-bit integer, {@code i} 32-bit integer, {@code f} float,
 * {@code S} the 168-byte Strided6 struct of elementwise.cu. {@link CudaContext#launch} checks every
 * launch against this table, and KernelSignatureTest checks the table against the PTX parameter lists,
 * so an argument of the wrong width is caught without a GPU.
 */
public final class Kernels {
    private Kernels() {}

    /** kernel → module (the .cu file's base name). */
    public static final Map<String, String> MODULE = Map.ofEntries(
            Map.entry("layer_norm_f32", "norm"), Map.entry("rms_norm_f32", "norm"), Map.entry("softmax_f32", "norm"),
            Map.entry("head_l2_normalize_f32", "norm"), Map.entry("group_norm_stats_f32", "norm"),
            Map.entry("group_norm_apply_f32", "norm"),
            Map.entry("bias_act_f32", "elementwise"), Map.entry("binary_bcast_f32", "elementwise"),
            Map.entry("scale_f32", "elementwise"), Map.entry("add_inplace_f32", "elementwise"),
            Map.entry("f32_to_bf16", "elementwise"), Map.entry("bf16_to_f32", "elementwise"),
            Map.entry("f16_to_f32", "elementwise"), Map.entry("strided_copy_32", "elementwise"),
            Map.entry("rope_interleaved_f32", "rope"),
            Map.entry("philox_words", "sampler"), Map.entry("bit_sample", "sampler"), Map.entry("bits_to_codes", "sampler"),
            Map.entry("bilinear_f32", "interpolate"), Map.entry("nearest_f32", "interpolate"),
            Map.entry("gemm_xwT_f32", "gemm"), Map.entry("gemm_xwT_bf16", "gemm"), Map.entry("gemm_xwT_f16", "gemm"),
            Map.entry("bmm_f32", "gemm"), Map.entry("conv2d_f32", "gemm"),
            Map.entry("attention_f32", "attention"),
            Map.entry("flash_attention_f32", "flash_attention"), Map.entry("flash_attention_bf16", "flash_attention"),
            Map.entry("flash_attention_mma_bf16", "flash_attention_mma"),
            Map.entry("conv2d_igemm_f32", "conv"), Map.entry("conv2d_igemm_bf16", "conv"));

    /** kernel → argument kinds. */
    public static final Map<String, String> SIGNATURE = Map.ofEntries(
            Map.entry("layer_norm_f32", "ppppppl" + "if"),
            Map.entry("rms_norm_f32", "ppplif"),
            Map.entry("softmax_f32", "ppli"),
            Map.entry("head_l2_normalize_f32", "ppplii" + "llf"),
            Map.entry("group_norm_stats_f32", "ppilf"),
            Map.entry("group_norm_apply_f32", "pppppi" + "lii"),
            Map.entry("bias_act_f32", "pppl" + "ii"),
            Map.entry("binary_bcast_f32", "pppll" + "i"),
            Map.entry("scale_f32", "pplf"),
            Map.entry("add_inplace_f32", "ppl"),
            Map.entry("f32_to_bf16", "ppl"), Map.entry("bf16_to_f32", "ppl"), Map.entry("f16_to_f32", "ppl"),
            Map.entry("strided_copy_32", "ppSl"),
            Map.entry("rope_interleaved_f32", "pppl" + "ii"),
            Map.entry("philox_words", "plill"),
            Map.entry("bit_sample", "ppfffl" + "iif" + "lil" + "pp"),
            Map.entry("bits_to_codes", "pp" + "iiiif"),
            Map.entry("bilinear_f32", "pp" + "iiiiii"),
            Map.entry("nearest_f32", "pp" + "iiiiii"),
            Map.entry("gemm_xwT_f32", "pppp" + "iii"), Map.entry("gemm_xwT_bf16", "pppp" + "iii"),
            Map.entry("gemm_xwT_f16", "pppp" + "iii"),
            Map.entry("bmm_f32", "ppp" + "iii"),
            Map.entry("conv2d_f32", "pppp" + "iiiiiiiiii"),
            Map.entry("attention_f32", "ppppp" + "iiiii" + "llllll" + "f"),
            Map.entry("flash_attention_f32", "pppppp" + "iiiii" + "llllll" + "fif"),
            Map.entry("flash_attention_bf16", "pppppp" + "iiiii" + "llllll" + "fif"),
            Map.entry("flash_attention_mma_bf16", "pppppp" + "iiiii" + "llllll" + "fif"),
            Map.entry("conv2d_igemm_f32", "pppp" + "iiiiiiiiii"), Map.entry("conv2d_igemm_bf16", "pppp" + "iiiiiiiiii"));

    /** Byte size of the Strided6 struct (elementwise.cu): 18 longs, 2 longs, an int, padded to 8. */
    public static final int STRIDED6_BYTES = 168;
    public static final int STRIDED_MAX_RANK = 6;

    /** flash_attention.cu's tile constants (FA_BQ, FA_THREADS, FA_MAXD); KernelSignatureTest checks them against the source. */
    public static final int FLASH_BLOCK_Q = 64, FLASH_THREADS = 256, FLASH_MAX_HEAD_DIM = 128;

    /**
     * flash_attention_mma.cu's tile constants (MA_BQ, MA_THREADS, MA_MAXD); head dims must also be
     * multiples of {@link #MMA_HEAD_DIM_STEP} (the mma k16 step). KernelSignatureTest checks them against the source.
     */
    public static final int MMA_BLOCK_Q = 64, MMA_THREADS = 128, MMA_MAX_HEAD_DIM = 128, MMA_HEAD_DIM_STEP = 16;

    /** conv.cu's output tile (CG_BM = CG_BN) and block size (CG_THREADS). */
    public static final int CONV_TILE = 64, CONV_THREADS = 256;
}
