// The float epilogue shared by the integer GEMMs (QuantizedGEMM.c for 8-bit inputs,
// QuantizedGEMM16.c for 16-bit inputs): an exact accumulator, once converted to float, becomes
//   value = fma(acc, activation_scale·weight_scale[j], bias[j])
// and, when an output grid is given, round_half_even(clamp(value / scale, low, high))·scale
// (NaN → 0), QuantCore's per-tensor fake quantization. The scalar and AVX2 forms below do
// the same single-rounding operations in the same order, so both paths agree bit for bit.
// Internal to the CKernels target (not part of the public headers).
#ifndef AIMET_SWIFT_QUANTIZED_EPILOGUE_H
#define AIMET_SWIFT_QUANTIZED_EPILOGUE_H
#include "aimet_quantized_kernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

// Columns per packed weight panel in every integer GEMM.
#define AIMET_EPILOGUE_PANEL 16

// x + 1.5·2²³ − 1.5·2²³ rounds half to even for |x| < 2²², exactly as QuantCore's
// Quantizer.roundHalfToEven does (including the sign of zero it produces).
static const float aimet_rounding_magic = 12582912.0f;

// The grid value of `value` (scalar).
static inline float aimet_grid_value(float value, const aimet_w8a8_output_grid *grid) {
    float scaled = value / grid->scale;
    scaled = scaled == scaled ? scaled : 0.0f;
    scaled = scaled < grid->low ? grid->low : scaled;
    scaled = scaled > grid->high ? grid->high : scaled;
    return ((scaled + aimet_rounding_magic) - aimet_rounding_magic) * grid->scale;
}

// The output of column `column` for an accumulator already converted to float (scalar).
static inline float aimet_epilogue_value(float accumulator, float activation_scale, const float *weight_scales,
                                         const float *bias, const aimet_w8a8_output_grid *grid, size_t column) {
    float value = fmaf(accumulator, activation_scale * weight_scales[column], bias ? bias[column] : 0.0f);
    return grid ? aimet_grid_value(value, grid) : value;
}

#if defined(__x86_64__) || defined(__i386__)
// The per-panel constants of the vector epilogue (16 columns, zero past `columns`).
typedef struct {
    __m256 scale[2], offset[2];
    __m256 grid_scale, grid_low, grid_high, magic;
    int has_grid;
} aimet_panel_epilogue;

__attribute__((always_inline, target("avx2,fma")))
static inline aimet_panel_epilogue aimet_panel_epilogue_make(float activation_scale, const float *weight_scales,
                                                             const float *bias, const aimet_w8a8_output_grid *grid,
                                                             size_t column, size_t columns) {
    float scale_values[AIMET_EPILOGUE_PANEL] = {0}, bias_values[AIMET_EPILOGUE_PANEL] = {0};
    for (size_t j = 0; j < columns; j++) {
        scale_values[j] = activation_scale * weight_scales[column + j];
        bias_values[j] = bias ? bias[column + j] : 0.0f;
    }
    aimet_panel_epilogue p;
    p.scale[0] = _mm256_loadu_ps(scale_values);
    p.scale[1] = _mm256_loadu_ps(scale_values + 8);
    p.offset[0] = _mm256_loadu_ps(bias_values);
    p.offset[1] = _mm256_loadu_ps(bias_values + 8);
    p.grid_scale = _mm256_set1_ps(grid ? grid->scale : 1.0f);
    p.grid_low = _mm256_set1_ps(grid ? grid->low : 0.0f);
    p.grid_high = _mm256_set1_ps(grid ? grid->high : 0.0f);
    p.magic = _mm256_set1_ps(aimet_rounding_magic);
    p.has_grid = grid != NULL;
    return p;
}

// Outputs of 8 columns (half 0: columns 0–7 of the panel, half 1: 8–15) from float accumulators.
__attribute__((always_inline, target("avx2,fma")))
static inline __m256 aimet_panel_epilogue_apply(__m256 accumulator, const aimet_panel_epilogue *p, int half) {
    __m256 value = _mm256_fmadd_ps(accumulator, p->scale[half], p->offset[half]);
    if (p->has_grid) {
        __m256 scaled = _mm256_div_ps(value, p->grid_scale);
        scaled = _mm256_and_ps(scaled, _mm256_cmp_ps(scaled, scaled, _CMP_ORD_Q)); // NaN → 0
        scaled = _mm256_min_ps(_mm256_max_ps(scaled, p->grid_low), p->grid_high);
        value = _mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(scaled, p->magic), p->magic), p->grid_scale);
    }
    return value;
}

// Stores one row's 16 outputs (two halves) at `out`, only the first `columns` of them.
__attribute__((always_inline, target("avx2,fma")))
static inline void aimet_panel_store(float *out, __m256 low, __m256 high, size_t columns) {
    if (columns == AIMET_EPILOGUE_PANEL) {
        _mm256_storeu_ps(out, low);
        _mm256_storeu_ps(out + 8, high);
        return;
    }
    float staging[AIMET_EPILOGUE_PANEL];
    _mm256_storeu_ps(staging, low);
    _mm256_storeu_ps(staging + 8, high);
    memcpy(out, staging, columns * sizeof(float));
}
#endif

#endif
