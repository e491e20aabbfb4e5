#ifndef AIMET_SWIFT_QUANTIZED_KERNELS_H
#define AIMET_SWIFT_QUANTIZED_KERNELS_H
// Integer kernels for compressed models. Every function has an AVX2 path chosen at run time
// (see `aimet_kernels_have_avx2`) and a `_portable` twin for tests. Packed operands hold
// panels of 16 output columns; `packed` pointers may be advanced by whole panels (with
// column_sums / scales / bias / c advanced by 16 columns per panel) to compute a column range.
#include "aimet_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

// MARK: W8A8 (uint8 activations × symmetric int8 weights → int32, requantised to float)

/// out[i] = clamp(round_half_even(x[i] / scale) + zero_point, 0, 255): the unsigned 8-bit
/// grid x̂ = (q − zero_point)·scale. NaN maps to 0. `scale` > 0, zero_point in [0, 255].
void aimet_quantize_activations_u8(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out);
void aimet_quantize_activations_u8_portable(const float *x, size_t count, float scale, int32_t zero_point,
                                            uint8_t *out);

/// Bytes of a packed W8A8 weight [n, k]: panels of 16 columns × ⌈k/4⌉ groups of 4 depths.
size_t aimet_w8a8_packed_size(size_t n, size_t k);
/// Bytes per 16-column panel of a packed W8A8 weight of depth k.
size_t aimet_w8a8_panel_bytes(size_t k);

/// Packs a linear weight W [n, k] (row stride ldw), values in [−127, 127], for the W8A8 GEMM
/// and writes column_sums[j] = Σ_k W[j, k] (n entries). Returns 0, or −1 (nothing usable
/// written) when some weight is −128, which the exact maddubs path cannot take.
int aimet_w8a8_pack(const int8_t *w, size_t ldw, size_t n, size_t k, int8_t *packed, int32_t *column_sums);

/// Exact accumulators c[i, j] = Σ_k (a[i, k] − zero_point)·W[j, k] (int32).
void aimet_w8a8_gemm_s32(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, int32_t zero_point,
                         const int8_t *packed, const int32_t *column_sums, int32_t *c, size_t ldc);
void aimet_w8a8_gemm_s32_portable(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, int32_t zero_point,
                                  const int8_t *packed, const int32_t *column_sums, int32_t *c, size_t ldc);

/// c[i, j] = fma((float)acc[i, j], activation_scale·weight_scales[j], bias[j]) with acc as in
/// `aimet_w8a8_gemm_s32`, requantised in the same pass (bias may be NULL). The AVX2 and
/// portable paths give bit-identical results.
void aimet_w8a8_gemm_f32(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, float activation_scale,
                         int32_t zero_point, const int8_t *packed, const int32_t *column_sums,
                         const float *weight_scales, const float *bias, float *c, size_t ldc);
void aimet_w8a8_gemm_f32_portable(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda,
                                  float activation_scale, int32_t zero_point, const int8_t *packed,
                                  const int32_t *column_sums, const float *weight_scales, const float *bias,
                                  float *c, size_t ldc);

/// The grid an output is fake-quantized on in the epilogue of `aimet_w8a8_linear_f32`:
/// y = round_half_even(clamp(y / scale, low, high))·scale with NaN → 0, exactly as QuantCore's
/// `Quantizer.fakeQuantize` does with low = qmin − zero_point and high = qmax − zero_point.
typedef struct {
    float scale;
    float low;
    float high;
} aimet_w8a8_output_grid;

/// In place: values[i] = the grid value of values[i] as above (QuantCore's fake quantization
/// with a per-tensor encoding), bit for bit. `grid` must not be NULL.
void aimet_fake_quantize_f32(float *values, size_t count, const aimet_w8a8_output_grid *grid);
void aimet_fake_quantize_f32_portable(float *values, size_t count, const aimet_w8a8_output_grid *grid);

/// The fused W8A8 linear layer on float activations x [m, k] (row stride ldx): each row is
/// quantized once in the prologue exactly as `aimet_quantize_activations_u8` does with
/// (input_scale, zero_point), then c[i, j] = fma((float)acc[i, j], input_scale·weight_scales[j],
/// bias[j]) as in `aimet_w8a8_gemm_f32`, fake-quantized on `output_grid` when it is not NULL.
/// The AVX2 and portable paths give bit-identical results.
void aimet_w8a8_linear_f32(size_t m, size_t n, size_t k, const float *x, size_t ldx, float input_scale,
                           int32_t zero_point, const int8_t *packed, const int32_t *column_sums,
                           const float *weight_scales, const float *bias, const aimet_w8a8_output_grid *output_grid,
                           float *c, size_t ldc);
void aimet_w8a8_linear_f32_portable(size_t m, size_t n, size_t k, const float *x, size_t ldx, float input_scale,
                                    int32_t zero_point, const int8_t *packed, const int32_t *column_sums,
                                    const float *weight_scales, const float *bias,
                                    const aimet_w8a8_output_grid *output_grid, float *c, size_t ldc);

// MARK: W8A16 (16-bit activations × symmetric int8 weights → exact sums, requantised to float)
//
// The input is quantized in the kernel's prologue onto a per-tensor grid of at most 16 bits,
// q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax) (NaN → zero_point), exactly
// QuantCore's `Quantizer.quantize`. Codes are kept as int16 v = q − offset, with offset 32768
// for unsigned grids (qmax > 32767) and 0 otherwise. Products use int16 madd with int32
// partial sums flushed every 512 depths (|v| ≤ 32768, |w| ≤ 127: 512·32768·127 < 2³¹) into
// double sums, exact for depths up to AIMET_W8A16_MAX_DEPTH. AVX2 and portable paths give
// bit-identical results.

/// The largest depth k the W8A16 kernels keep exact (every sum stays below 2⁵³).
#define AIMET_W8A16_MAX_DEPTH ((size_t)1 << 26)

/// A per-tensor input grid of at most 16 bits: scale > 0, qmin ≤ zero_point ≤ qmax, and the
/// grid fits int16 after the shift (e.g. 0…65535 with any zero point, or −32767…32767 with 0).
typedef struct {
    float scale;
    int32_t zero_point;
    int32_t qmin;
    int32_t qmax;
} aimet_input_grid16;

/// 1 when `grid` satisfies the conditions above, else 0.
int aimet_input_grid16_is_valid(const aimet_input_grid16 *grid);
/// The shift between codes q and stored int16 values v = q − offset: 32768 or 0.
int32_t aimet_input_grid16_offset(const aimet_input_grid16 *grid);

/// out[i] = q(x[i]) − offset, the int16 values the W8A16 prologue computes.
void aimet_quantize_activations_16(const float *x, size_t count, const aimet_input_grid16 *grid, int16_t *out);
void aimet_quantize_activations_16_portable(const float *x, size_t count, const aimet_input_grid16 *grid,
                                            int16_t *out);

/// int16 elements of a packed W8A16 weight [n, k]: panels of 16 columns × ⌈k/2⌉ depth pairs.
size_t aimet_w8a16_packed_count(size_t n, size_t k);
/// int16 elements per 16-column panel of a packed W8A16 weight of depth k.
size_t aimet_w8a16_panel_count(size_t k);

/// Packs a linear weight W [n, k] (row stride ldw), values in [−127, 127], for the W8A16
/// kernels and writes column_sums[j] = Σ_k W[j, k]. Returns 0, or −1 (nothing usable
/// written) when some weight is −128.
int aimet_w8a16_pack(const int8_t *w, size_t ldw, size_t n, size_t k, int16_t *packed, int32_t *column_sums);

/// The W8A16 linear layer on float activations x [m, k] (row stride ldx), k ≤
/// AIMET_W8A16_MAX_DEPTH: with q the codes of x on `input`, the exact integer
/// acc[i, j] = Σ_k (q[i, k] − zero_point)·W[j, k] is rounded to float once, then
/// c[i, j] = fma(acc, input->scale·weight_scales[j], bias[j]) (bias may be NULL),
/// fake-quantized on `output_grid` when it is not NULL (as `aimet_w8a8_linear_f32` does).
void aimet_w8a16_linear_f32(size_t m, size_t n, size_t k, const float *x, size_t ldx, const aimet_input_grid16 *input,
                            const int16_t *packed, const int32_t *column_sums, const float *weight_scales,
                            const float *bias, const aimet_w8a8_output_grid *output_grid, float *c, size_t ldc);
void aimet_w8a16_linear_f32_portable(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                                     const aimet_input_grid16 *input, const int16_t *packed,
                                     const int32_t *column_sums, const float *weight_scales, const float *bias,
                                     const aimet_w8a8_output_grid *output_grid, float *c, size_t ldc);

/// The exact sums acc[i, j] = Σ_k (q[i, k] − zero_point)·W[j, k] of `aimet_w8a16_linear_f32`.
void aimet_w8a16_linear_s64(size_t m, size_t n, size_t k, const float *x, size_t ldx, const aimet_input_grid16 *input,
                            const int16_t *packed, const int32_t *column_sums, int64_t *c, size_t ldc);
void aimet_w8a16_linear_s64_portable(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                                     const aimet_input_grid16 *input, const int16_t *packed,
                                     const int32_t *column_sums, int64_t *c, size_t ldc);

// MARK: Weight-only int8 / int4 (float activations, dequantised in the inner loop)
//
// `block` is the number of depths sharing one scale (and zero point): 0 means per channel
// (scales [n]); otherwise a positive multiple of 16 (scales [n, ⌈k/block⌉], the last block
// may be short). Zero points are optional (NULL ⇒ symmetric). Dequantised weight:
// (q − zero_point)·scale.

/// Bytes of packed weights: `bits` is 8 (16 bytes per depth and panel) or 4 (8 bytes per
/// depth and panel).
size_t aimet_wo_packed_size(int bits, size_t n, size_t k);
size_t aimet_wo_panel_bytes(int bits, size_t k);
/// Floats of packed scales (and of packed zero points): 16 per panel and internal block.
size_t aimet_wo_packed_scale_count(size_t n, size_t k, size_t block);
size_t aimet_wo_panel_scales(size_t k, size_t block);
/// 1 when `block` is acceptable (0 or a positive multiple of 16), else 0.
int aimet_wo_block_is_valid(size_t block);

/// Signed int8 weights W [n, k] (row stride ldw). zero_points (int32, same shape as scales)
/// may be NULL. Returns 0, or −1 for an invalid block.
int aimet_wo_pack_s8(const int8_t *w, size_t ldw, size_t n, size_t k, size_t block, const float *scales,
                     const int32_t *zero_points, uint8_t *packed, float *packed_scales, float *packed_zero_points);
/// Unsigned (asymmetric) uint8 weights with zero points (required, in [0, 255]).
int aimet_wo_pack_u8(const uint8_t *w, size_t ldw, size_t n, size_t k, size_t block, const float *scales,
                     const int32_t *zero_points, uint8_t *packed, float *packed_scales, float *packed_zero_points);
/// 4-bit weights in the on-disk layout: row-major [n, ⌈k/2⌉] bytes (row stride ldw bytes),
/// the even column in the low nibble; two's-complement signed when zero_points is NULL,
/// unsigned [0, 15] with zero points otherwise. `packed_zero_points` is required even for
/// symmetric weights (the kernel stores them offset by 8). Returns 0, or −1 for an invalid
/// block or a NULL packed_zero_points.
int aimet_wo_pack_4bit(const uint8_t *w, size_t ldw, size_t n, size_t k, size_t block, const float *scales,
                       const int32_t *zero_points, uint8_t *packed, float *packed_scales, float *packed_zero_points);

/// c[m, n] = a[m, k]·dequant(W)ᵀ + bias (bias may be NULL). `packed_zero_points` is NULL
/// for symmetric 8-bit weights and always given for 4-bit; `bits` and `block` as given when
/// packing.
void aimet_wo_gemm(int bits, size_t m, size_t n, size_t k, size_t block, const float *a, size_t lda,
                   const uint8_t *packed, const float *packed_scales, const float *packed_zero_points,
                   const float *bias, float *c, size_t ldc);
void aimet_wo_gemm_portable(int bits, size_t m, size_t n, size_t k, size_t block, const float *a, size_t lda,
                            const uint8_t *packed, const float *packed_scales, const float *packed_zero_points,
                            const float *bias, float *c, size_t ldc);

// MARK: Depthwise convolution on int8 weights (NHWC activations)
//
// Output channel c reads input channel c / multiplier. Weights are transposed to
// [kernel_height·kernel_width, output_channels] int8 (symmetric, per output channel). Taps
// that fall on padding contribute nothing. A call computes output rows
// [row_begin, row_end) of batch·output_height rows; taps are summed in (row, column) order.

/// The geometry of a depthwise convolution.
typedef struct {
    size_t batch, input_height, input_width, input_channels;
    size_t output_height, output_width, output_channels, multiplier;
    size_t kernel_height, kernel_width, stride_height, stride_width, dilation_height, dilation_width;
    ptrdiff_t pad_top, pad_left;
} aimet_depthwise_geometry;

/// Integer depthwise: uint8 codes `input` (zero point `zero_point`), exact int32
/// acc[c] = Σ_taps (a − zero_point)·w, then out[c] = fma((float)acc[c], scales[c], bias[c])
/// with `scales` the products activation scale · weight scale, fake-quantized on
/// `output_grid` when it is not NULL. AVX2 and portable paths are bit-identical.
void aimet_depthwise_w8a8_f32(const aimet_depthwise_geometry *geometry, size_t row_begin, size_t row_end,
                              const uint8_t *input, int32_t zero_point, const int8_t *weights, const float *scales,
                              const float *bias, const aimet_w8a8_output_grid *output_grid, float *output);
void aimet_depthwise_w8a8_f32_portable(const aimet_depthwise_geometry *geometry, size_t row_begin, size_t row_end,
                                       const uint8_t *input, int32_t zero_point, const int8_t *weights,
                                       const float *scales, const float *bias,
                                       const aimet_w8a8_output_grid *output_grid, float *output);

/// Weight-only depthwise on float `input`: acc[c] = Σ_taps fma(x, (float)w, acc) from 0, then
/// out[c] = fma(acc[c], scales[c], bias[c]) with `scales` the weight scales. AVX2 and portable
/// paths are bit-identical.
void aimet_depthwise_wo_f32(const aimet_depthwise_geometry *geometry, size_t row_begin, size_t row_end,
                            const float *input, const int8_t *weights, const float *scales, const float *bias,
                            float *output);
void aimet_depthwise_wo_f32_portable(const aimet_depthwise_geometry *geometry, size_t row_begin, size_t row_end,
                                     const float *input, const int8_t *weights, const float *scales,
                                     const float *bias, float *output);

#ifdef __cplusplus
}
#endif
#endif
