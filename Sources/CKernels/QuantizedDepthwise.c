// Depthwise convolution on int8 weights over NHWC activations, one output pixel at a time.
//
// For each output pixel the taps that land inside the image are listed once (input pixel
// offset, weight row offset); padding taps are skipped, which is exact for the integer
// kernel because padding holds the real value 0, i.e. the code zero_point, whose term is 0.
//
// Integer kernel (W8A8): (a − zero_point)·w fits int16 (|a − z| ≤ 255, |w| ≤ 128), so the
// AVX2 path widens 16 channels of codes and weights to int16, multiplies with
// _mm256_mullo_epi16 and accumulates both halves in int32: exact, as the portable loop.
// The epilogue is fma((float)acc, scale, bias) (+ the output grid), the same single-rounding
// operations in both paths, hence bit-identical results.
//
// Weight-only kernel: float activations, acc = fma(x, (float)w, acc) per tap in tap order
// (vectorised over 8 channels with _mm256_fmadd_ps), then fma(acc, scale, bias).
#include "aimet_quantized_kernels.h"
#include "QuantizedEpilogue.h"

#if defined(__x86_64__) || defined(__i386__)
#define AIMET_X86 1
#endif

enum { MAX_TAPS = 1024 };

// The taps of output pixel (image, oy, ox) inside the image: input element offsets and
// weight offsets (tap index · output_channels). Returns their count.
static size_t pixel_taps(const aimet_depthwise_geometry *g, size_t image, size_t oy, size_t ox, size_t *sources,
                         size_t *tap_weights) {
    size_t count = 0;
    for (size_t ky = 0; ky < g->kernel_height; ky++) {
        ptrdiff_t iy = (ptrdiff_t)(oy * g->stride_height + ky * g->dilation_height) - g->pad_top;
        if (iy < 0 || iy >= (ptrdiff_t)g->input_height) continue;
        for (size_t kx = 0; kx < g->kernel_width; kx++) {
            ptrdiff_t ix = (ptrdiff_t)(ox * g->stride_width + kx * g->dilation_width) - g->pad_left;
            if (ix < 0 || ix >= (ptrdiff_t)g->input_width) continue;
            sources[count] = ((image * g->input_height + (size_t)iy) * g->input_width + (size_t)ix) * g->input_channels;
            tap_weights[count] = (ky * g->kernel_width + kx) * g->output_channels;
            count++;
        }
    }
    return count;
}

static inline float integer_output(int32_t acc, size_t channel, const float *scales, const float *bias,
                                   const aimet_w8a8_output_grid *grid) {
    float value = fmaf((float)acc, scales[channel], bias ? bias[channel] : 0.0f);
    return grid ? aimet_grid_value(value, grid) : value;
}

// Channels [first, channels) of one output pixel, scalar.
static void integer_pixel_scalar(const aimet_depthwise_geometry *g, size_t first, const uint8_t *input, int32_t zero_point,
                                 const int8_t *weights, const float *scales, const float *bias,
                                 const aimet_w8a8_output_grid *grid, const size_t *sources, const size_t *tap_weights,
                                 size_t taps, float *result) {
    for (size_t channel = first; channel < g->output_channels; channel++) {
        size_t source_channel = channel / g->multiplier;
        int32_t acc = 0;
        for (size_t tap = 0; tap < taps; tap++)
            acc += ((int32_t)input[sources[tap] + source_channel] - zero_point) * (int32_t)weights[tap_weights[tap] + channel];
        result[channel] = integer_output(acc, channel, scales, bias, grid);
    }
}

static void weight_only_pixel_scalar(const aimet_depthwise_geometry *g, size_t first, const float *input,
                                     const int8_t *weights, const float *scales, const float *bias,
                                     const size_t *sources, const size_t *tap_weights, size_t taps, float *result) {
    for (size_t channel = first; channel < g->output_channels; channel++) {
        size_t source_channel = channel / g->multiplier;
        float acc = 0.0f;
        for (size_t tap = 0; tap < taps; tap++)
            acc = fmaf(input[sources[tap] + source_channel], (float)weights[tap_weights[tap] + channel], acc);
        result[channel] = fmaf(acc, scales[channel], bias ? bias[channel] : 0.0f);
    }
}

// Runs the statements after the row range on each output pixel of rows [row_begin, row_end),
// with `sources`, `tap_weights`, `taps` and `result` in scope.
#define FOR_EACH_PIXEL(g, row_begin, row_end, ...)                                                      \
    do {                                                                                                \
        size_t sources[MAX_TAPS], tap_weights[MAX_TAPS];                                                \
        for (size_t row = (row_begin); row < (row_end); row++) {                                        \
            size_t image = row / (g)->output_height, oy = row % (g)->output_height;                    \
            for (size_t ox = 0; ox < (g)->output_width; ox++) {                                         \
                size_t taps = pixel_taps((g), image, oy, ox, sources, tap_weights);                     \
                float *result = output + (row * (g)->output_width + ox) * (g)->output_channels;         \
                __VA_ARGS__;                                                                            \
            }                                                                                           \
        }                                                                                               \
    } while (0)

void aimet_depthwise_w8a8_f32_portable(const aimet_depthwise_geometry *g, size_t row_begin, size_t row_end,
                                       const uint8_t *input, int32_t zero_point, const int8_t *weights,
                                       const float *scales, const float *bias,
                                       const aimet_w8a8_output_grid *grid, float *output) {
    if (g->kernel_height * g->kernel_width > MAX_TAPS) return;
    FOR_EACH_PIXEL(g, row_begin, row_end,
                   integer_pixel_scalar(g, 0, input, zero_point, weights, scales, bias, grid, sources, tap_weights, taps,
                                        result));
}

void aimet_depthwise_wo_f32_portable(const aimet_depthwise_geometry *g, size_t row_begin, size_t row_end,
                                     const float *input, const int8_t *weights, const float *scales,
                                     const float *bias, float *output) {
    if (g->kernel_height * g->kernel_width > MAX_TAPS) return;
    FOR_EACH_PIXEL(g, row_begin, row_end,
                   weight_only_pixel_scalar(g, 0, input, weights, scales, bias, sources, tap_weights, taps, result));
}

#if AIMET_X86
__attribute__((always_inline, target("avx2,fma")))
static inline void store_integer_8(__m256i acc, const float *scales, const float *bias, const aimet_w8a8_output_grid *grid,
                                   float *result) {
    __m256 value = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(scales),
                                   bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps());
    if (grid) {
        const __m256 scale = _mm256_set1_ps(grid->scale), magic = _mm256_set1_ps(aimet_rounding_magic);
        __m256 scaled = _mm256_div_ps(value, scale);
        scaled = _mm256_and_ps(scaled, _mm256_cmp_ps(scaled, scaled, _CMP_ORD_Q));
        scaled = _mm256_min_ps(_mm256_max_ps(scaled, _mm256_set1_ps(grid->low)), _mm256_set1_ps(grid->high));
        value = _mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(scaled, magic), magic), scale);
    }
    _mm256_storeu_ps(result, value);
}

__attribute__((target("avx2,fma")))
static void integer_avx2(const aimet_depthwise_geometry *g, size_t row_begin, size_t row_end, const uint8_t *input,
                         int32_t zero_point, const int8_t *weights, const float *scales, const float *bias,
                         const aimet_w8a8_output_grid *grid, float *output) {
    const __m256i zero = _mm256_set1_epi16((short)zero_point);
    const size_t channels = g->output_channels;
    FOR_EACH_PIXEL(g, row_begin, row_end, {
        size_t channel = 0;
        for (; channel + 16 <= channels; channel += 16) {
            __m256i low = _mm256_setzero_si256(), high = _mm256_setzero_si256();
            for (size_t tap = 0; tap < taps; tap++) {
                __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(input + sources[tap] + channel)));
                __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(weights + tap_weights[tap] + channel)));
                __m256i product = _mm256_mullo_epi16(_mm256_sub_epi16(a, zero), w);
                low = _mm256_add_epi32(low, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(product)));
                high = _mm256_add_epi32(high, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(product, 1)));
            }
            store_integer_8(low, scales + channel, bias ? bias + channel : NULL, grid, result + channel);
            store_integer_8(high, scales + channel + 8, bias ? bias + channel + 8 : NULL, grid, result + channel + 8);
        }
        integer_pixel_scalar(g, channel, input, zero_point, weights, scales, bias, grid, sources, tap_weights, taps, result);
    });
}

__attribute__((target("avx2,fma")))
static void weight_only_avx2(const aimet_depthwise_geometry *g, size_t row_begin, size_t row_end, const float *input,
                             const int8_t *weights, const float *scales, const float *bias, float *output) {
    const size_t channels = g->output_channels;
    FOR_EACH_PIXEL(g, row_begin, row_end, {
        size_t channel = 0;
        for (; channel + 8 <= channels; channel += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (size_t tap = 0; tap < taps; tap++) {
                __m256 x = _mm256_loadu_ps(input + sources[tap] + channel);
                __m256i w = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(weights + tap_weights[tap] + channel)));
                acc = _mm256_fmadd_ps(x, _mm256_cvtepi32_ps(w), acc);
            }
            __m256 value = _mm256_fmadd_ps(acc, _mm256_loadu_ps(scales + channel),
                                           bias ? _mm256_loadu_ps(bias + channel) : _mm256_setzero_ps());
            _mm256_storeu_ps(result + channel, value);
        }
        weight_only_pixel_scalar(g, channel, input, weights, scales, bias, sources, tap_weights, taps, result);
    });
}
#endif

void aimet_depthwise_w8a8_f32(const aimet_depthwise_geometry *g, size_t row_begin, size_t row_end,
                              const uint8_t *input, int32_t zero_point, const int8_t *weights, const float *scales,
                              const float *bias, const aimet_w8a8_output_grid *grid, float *output) {
    if (g->kernel_height * g->kernel_width > MAX_TAPS) return;
#if AIMET_X86
    if (g->multiplier == 1 && aimet_kernels_have_avx2()) {
        integer_avx2(g, row_begin, row_end, input, zero_point, weights, scales, bias, grid, output);
        return;
    }
#endif
    aimet_depthwise_w8a8_f32_portable(g, row_begin, row_end, input, zero_point, weights, scales, bias, grid, output);
}

void aimet_depthwise_wo_f32(const aimet_depthwise_geometry *g, size_t row_begin, size_t row_end, const float *input,
                            const int8_t *weights, const float *scales, const float *bias, float *output) {
    if (g->kernel_height * g->kernel_width > MAX_TAPS) return;
#if AIMET_X86
    if (g->multiplier == 1 && aimet_kernels_have_avx2()) {
        weight_only_avx2(g, row_begin, row_end, input, weights, scales, bias, output);
        return;
    }
#endif
    aimet_depthwise_wo_f32_portable(g, row_begin, row_end, input, weights, scales, bias, output);
}
