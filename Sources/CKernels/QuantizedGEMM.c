// W8A8 GEMM: uint8 activations (per-tensor zero point) × symmetric int8 weights (one scale
// per output column) → exact int32 accumulators, requantised to float in the same pass.
//
// AVX2 has no u8×s8 dot product without saturation for full-range operands, so activations
// are shifted to signed (a_s = a − 128) and each product uses _mm256_maddubs_epi16(|a_s|,
// sign(w, a_s)): |a_s| ≤ 128 and |w| ≤ 127 keep every pair sum ≤ 32512, so nothing saturates.
// _mm256_madd_epi16 against ones widens the pairs to int32. The shift is undone exactly with
// the per-column weight sums stored at pack time:
//   Σ_k (a − z)·w = Σ_k a_s·w + (128 − z)·Σ_k w.
// Weights are packed in panels of 16 columns; within a panel, each group of 4 depths holds
// 16 columns × 4 bytes (64 bytes), so one 32-byte load covers 8 columns × 4 depths.
#include "aimet_quantized_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define AIMET_X86 1
#include <immintrin.h>
#endif

enum { PANEL = 16, GROUP = 4, ROWS = 4, ROW_CHUNK = 64 };

// MARK: Activation quantizer

static inline uint8_t quantize_one(float x, float scale, float zero_point) {
    float value = nearbyintf(x / scale) + zero_point;
    value = value > 0.0f ? value : 0.0f; // NaN → 0, as _mm256_max_ps(value, 0) does
    value = value < 255.0f ? value : 255.0f;
    return (uint8_t)value;
}

void aimet_quantize_activations_u8_portable(const float *x, size_t count, float scale, int32_t zero_point,
                                            uint8_t *out) {
    for (size_t index = 0; index < count; index++) out[index] = quantize_one(x[index], scale, (float)zero_point);
}

#if AIMET_X86
__attribute__((target("avx2,fma")))
static void quantize_avx2(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
    const __m256 divisor = _mm256_set1_ps(scale), offset = _mm256_set1_ps((float)zero_point);
    const __m256 low = _mm256_setzero_ps(), high = _mm256_set1_ps(255.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t index = 0;
    for (; index + 32 <= count; index += 32) {
        __m256i q[4];
        for (int part = 0; part < 4; part++) {
            __m256 value = _mm256_div_ps(_mm256_loadu_ps(x + index + 8 * part), divisor);
            value = _mm256_add_ps(_mm256_round_ps(value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), offset);
            value = _mm256_min_ps(_mm256_max_ps(value, low), high);
            q[part] = _mm256_cvtps_epi32(value);
        }
        // packs work within 128-bit lanes: [q0 lo, q1 lo, q0 hi, q1 hi] → fix the order after.
        __m256i words = _mm256_packs_epi32(q[0], q[1]), words2 = _mm256_packs_epi32(q[2], q[3]);
        __m256i bytes = _mm256_packus_epi16(words, words2);
        bytes = _mm256_permutevar8x32_epi32(bytes, order);
        _mm256_storeu_si256((__m256i *)(out + index), bytes);
    }
    for (; index < count; index++) out[index] = quantize_one(x[index], scale, (float)zero_point);
}
#endif

void aimet_quantize_activations_u8(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        quantize_avx2(x, count, scale, zero_point, out);
        return;
    }
#endif
    aimet_quantize_activations_u8_portable(x, count, scale, zero_point, out);
}

// MARK: Packing

static size_t groups_for(size_t k) { return (k + GROUP - 1) / GROUP; }

size_t aimet_w8a8_panel_bytes(size_t k) { return groups_for(k) * GROUP * PANEL; }

size_t aimet_w8a8_packed_size(size_t n, size_t k) { return ((n + PANEL - 1) / PANEL) * aimet_w8a8_panel_bytes(k); }

int aimet_w8a8_pack(const int8_t *w, size_t ldw, size_t n, size_t k, int8_t *packed, int32_t *column_sums) {
    for (size_t row = 0; row < n; row++)
        for (size_t index = 0; index < k; index++)
            if (w[row * ldw + index] == -128) return -1;
    size_t panels = (n + PANEL - 1) / PANEL;
    memset(packed, 0, aimet_w8a8_packed_size(n, k));
    for (size_t panel = 0; panel < panels; panel++) {
        int8_t *out = packed + panel * aimet_w8a8_panel_bytes(k);
        for (size_t column = 0; column < PANEL && panel * PANEL + column < n; column++) {
            size_t row = panel * PANEL + column;
            int32_t sum = 0;
            for (size_t index = 0; index < k; index++) {
                int8_t value = w[row * ldw + index];
                out[(index / GROUP) * GROUP * PANEL + column * GROUP + index % GROUP] = value;
                sum += value;
            }
            column_sums[row] = sum;
        }
    }
    return 0;
}

// MARK: Portable GEMM

static int32_t dot_portable(size_t k, const uint8_t *a, int32_t zero_point, const int8_t *panel, size_t column) {
    int32_t sum = 0;
    for (size_t index = 0; index < k; index++)
        sum += ((int32_t)a[index] - zero_point) * panel[(index / GROUP) * GROUP * PANEL + column * GROUP + index % GROUP];
    return sum;
}

static void gemm_portable(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, int32_t zero_point,
                          const int8_t *packed, int32_t *c_int, float activation_scale, const float *weight_scales,
                          const float *bias, float *c_float, size_t ldc) {
    for (size_t row = 0; row < m; row++) {
        for (size_t column = 0; column < n; column++) {
            const int8_t *panel = packed + (column / PANEL) * aimet_w8a8_panel_bytes(k);
            int32_t sum = dot_portable(k, a + row * lda, zero_point, panel, column % PANEL);
            if (c_int) {
                c_int[row * ldc + column] = sum;
            } else {
                float scale = activation_scale * weight_scales[column];
                c_float[row * ldc + column] = fmaf((float)sum, scale, bias ? bias[column] : 0.0f);
            }
        }
    }
}

void aimet_w8a8_gemm_s32_portable(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, int32_t zero_point,
                                  const int8_t *packed, const int32_t *column_sums, int32_t *c, size_t ldc) {
    (void)column_sums;
    gemm_portable(m, n, k, a, lda, zero_point, packed, c, 0.0f, NULL, NULL, NULL, ldc);
}

void aimet_w8a8_gemm_f32_portable(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda,
                                  float activation_scale, int32_t zero_point, const int8_t *packed,
                                  const int32_t *column_sums, const float *weight_scales, const float *bias,
                                  float *c, size_t ldc) {
    (void)column_sums;
    gemm_portable(m, n, k, a, lda, zero_point, packed, NULL, activation_scale, weight_scales, bias, c, ldc);
}

// MARK: AVX2 GEMM

#if AIMET_X86
// Interleaves up to ROWS rows of activations over all k: for each group of 4 depths, ROWS × 4
// shifted bytes a_s = a − 128 (into `sign`) and their magnitudes |a_s| (into `magnitude`).
// Missing rows and depths are zero, which contributes nothing.
static void pack_slab(size_t rows, size_t k, const uint8_t *a, size_t lda, int8_t *sign, uint8_t *magnitude) {
    size_t groups = groups_for(k);
    memset(sign, 0, groups * ROWS * GROUP);
    memset(magnitude, 0, groups * ROWS * GROUP);
    for (size_t row = 0; row < rows; row++) {
        const uint8_t *source = a + row * lda;
        for (size_t index = 0; index < k; index++) {
            int value = (int)source[index] - 128;
            size_t at = (index / GROUP) * ROWS * GROUP + row * GROUP + index % GROUP;
            sign[at] = (int8_t)value;
            magnitude[at] = (uint8_t)(value < 0 ? -value : value);
        }
    }
}

// 4 rows × 16 columns of Σ a_s·w over all groups, in eight int32 vectors.
__attribute__((target("avx2,fma")))
static inline void block_4x16(size_t groups, const int8_t *sign, const uint8_t *magnitude, const int8_t *panel,
                              __m256i sums[ROWS][2]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (size_t group = 0; group < groups; group++) {
        __m256i low = _mm256_loadu_si256((const __m256i *)(panel + group * 64));
        __m256i high = _mm256_loadu_si256((const __m256i *)(panel + group * 64 + 32));
        const int32_t *s = (const int32_t *)(const void *)(sign + group * ROWS * GROUP);
        const int32_t *u = (const int32_t *)(const void *)(magnitude + group * ROWS * GROUP);
#define AIMET_ROW(r, left, right)                                                                           \
        {                                                                                                   \
            __m256i shifted = _mm256_set1_epi32(s[r]), size = _mm256_set1_epi32(u[r]);                      \
            left = _mm256_add_epi32(left, _mm256_madd_epi16(_mm256_maddubs_epi16(size, _mm256_sign_epi8(low, shifted)), ones)); \
            right = _mm256_add_epi32(right, _mm256_madd_epi16(_mm256_maddubs_epi16(size, _mm256_sign_epi8(high, shifted)), ones)); \
        }
        AIMET_ROW(0, c00, c01) AIMET_ROW(1, c10, c11) AIMET_ROW(2, c20, c21) AIMET_ROW(3, c30, c31)
#undef AIMET_ROW
    }
    sums[0][0] = c00; sums[0][1] = c01; sums[1][0] = c10; sums[1][1] = c11;
    sums[2][0] = c20; sums[2][1] = c21; sums[3][0] = c30; sums[3][1] = c31;
}

__attribute__((target("avx2,fma")))
static void gemm_avx2(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, int32_t zero_point,
                      const int8_t *packed, const int32_t *column_sums, int32_t *c_int, float activation_scale,
                      const float *weight_scales, const float *bias, float *c_float, size_t ldc) {
    size_t groups = groups_for(k), panels = (n + PANEL - 1) / PANEL, slab_bytes = groups * ROWS * GROUP;
    size_t chunk_rows = m < ROW_CHUNK ? m : ROW_CHUNK;
    size_t slabs_per_chunk = (chunk_rows + ROWS - 1) / ROWS;
    uint8_t *slabs = malloc(2 * slabs_per_chunk * slab_bytes + 64);
    if (slabs == NULL) {
        gemm_portable(m, n, k, a, lda, zero_point, packed, c_int, activation_scale, weight_scales, bias, c_float, ldc);
        return;
    }
    int8_t *signs = (int8_t *)slabs;
    uint8_t *magnitudes = slabs + slabs_per_chunk * slab_bytes;
    for (size_t chunk = 0; chunk < m; chunk += ROW_CHUNK) {
        size_t rows_in_chunk = m - chunk < ROW_CHUNK ? m - chunk : ROW_CHUNK;
        size_t slabs_here = (rows_in_chunk + ROWS - 1) / ROWS;
        for (size_t slab = 0; slab < slabs_here; slab++) {
            size_t rows = rows_in_chunk - slab * ROWS < ROWS ? rows_in_chunk - slab * ROWS : ROWS;
            pack_slab(rows, k, a + (chunk + slab * ROWS) * lda, lda, signs + slab * slab_bytes,
                      magnitudes + slab * slab_bytes);
        }
        for (size_t panel = 0; panel < panels; panel++) {
            size_t column = panel * PANEL, columns = n - column < PANEL ? n - column : PANEL;
            int32_t correction_values[PANEL] = {0};
            float scale_values[PANEL] = {0}, bias_values[PANEL] = {0};
            for (size_t j = 0; j < columns; j++) {
                correction_values[j] = (128 - zero_point) * column_sums[column + j];
                if (!c_int) {
                    scale_values[j] = activation_scale * weight_scales[column + j];
                    bias_values[j] = bias ? bias[column + j] : 0.0f;
                }
            }
            __m256i correction[2] = {_mm256_loadu_si256((const __m256i *)correction_values),
                                     _mm256_loadu_si256((const __m256i *)(correction_values + 8))};
            __m256 scale[2] = {_mm256_loadu_ps(scale_values), _mm256_loadu_ps(scale_values + 8)};
            __m256 offset[2] = {_mm256_loadu_ps(bias_values), _mm256_loadu_ps(bias_values + 8)};
            const int8_t *weights = packed + panel * aimet_w8a8_panel_bytes(k);
            for (size_t slab = 0; slab < slabs_here; slab++) {
                size_t first_row = chunk + slab * ROWS;
                size_t rows = m - first_row < ROWS ? m - first_row : ROWS;
                __m256i sums[ROWS][2];
                block_4x16(groups, signs + slab * slab_bytes, magnitudes + slab * slab_bytes, weights, sums);
                for (size_t row = 0; row < rows; row++) {
                    union { int32_t integers[PANEL]; float floats[PANEL]; } staging;
                    for (int half = 0; half < 2; half++) {
                        __m256i total = _mm256_add_epi32(sums[row][half], correction[half]);
                        if (c_int) {
                            _mm256_storeu_si256((__m256i *)(staging.integers + 8 * half), total);
                        } else {
                            __m256 value = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), scale[half], offset[half]);
                            _mm256_storeu_ps(staging.floats + 8 * half, value);
                        }
                    }
                    if (c_int) memcpy(c_int + (first_row + row) * ldc + column, staging.integers, columns * 4);
                    else memcpy(c_float + (first_row + row) * ldc + column, staging.floats, columns * 4);
                }
            }
        }
    }
    free(slabs);
}
#endif

void aimet_w8a8_gemm_s32(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, int32_t zero_point,
                         const int8_t *packed, const int32_t *column_sums, int32_t *c, size_t ldc) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        gemm_avx2(m, n, k, a, lda, zero_point, packed, column_sums, c, 0.0f, NULL, NULL, NULL, ldc);
        return;
    }
#endif
    aimet_w8a8_gemm_s32_portable(m, n, k, a, lda, zero_point, packed, column_sums, c, ldc);
}

void aimet_w8a8_gemm_f32(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, float activation_scale,
                         int32_t zero_point, const int8_t *packed, const int32_t *column_sums,
                         const float *weight_scales, const float *bias, float *c, size_t ldc) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        gemm_avx2(m, n, k, a, lda, zero_point, packed, column_sums, NULL, activation_scale, weight_scales, bias, c,
                  ldc);
        return;
    }
#endif
    aimet_w8a8_gemm_f32_portable(m, n, k, a, lda, activation_scale, zero_point,
                                 packed, column_sums, weight_scales, bias, c, ldc);
}
