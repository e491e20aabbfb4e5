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
//
// A call works on chunks of rows. Its prologue turns each row, once, into two row-major
// byte rows padded to a multiple of 4 depths: a_s and |a_s| (from uint8 codes, or straight
// from float activations quantized in the same pass), so the micro-kernel broadcasts 4 bytes
// of each straight from them. The micro-kernel keeps ROWS × 16 int32 accumulators in
// registers over the whole depth; its epilogue adds the correction, converts, scales, adds
// the bias and, when an output grid is given, fake-quantizes, then stores (the float part is
// QuantizedEpilogue.h, shared with the W8A16 kernel in QuantizedGEMM16.c).
#include "QuantizedEpilogue.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define AIMET_X86 1
#include <immintrin.h>
#endif

enum { PANEL = AIMET_EPILOGUE_PANEL, GROUP = 4, ROWS = 5, ROW_CHUNK = 60 };

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
// 32 floats → 32 uint8 codes (the rule of quantize_one), in order.
__attribute__((always_inline, target("avx2,fma")))
static inline __m256i quantize_32_avx2(const float *x, __m256 divisor, __m256 offset) {
    const __m256 low = _mm256_setzero_ps(), high = _mm256_set1_ps(255.0f);
    __m256i q[4];
    for (int part = 0; part < 4; part++) {
        __m256 value = _mm256_div_ps(_mm256_loadu_ps(x + 8 * part), divisor);
        value = _mm256_add_ps(_mm256_round_ps(value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), offset);
        value = _mm256_min_ps(_mm256_max_ps(value, low), high);
        q[part] = _mm256_cvtps_epi32(value);
    }
    // packs work within 128-bit lanes: [q0 lo, q1 lo, q0 hi, q1 hi] → fix the order after.
    __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

__attribute__((target("avx2,fma")))
static void quantize_avx2(const float *x, size_t count, float scale, int32_t zero_point, uint8_t *out) {
    const __m256 divisor = _mm256_set1_ps(scale), offset = _mm256_set1_ps((float)zero_point);
    size_t index = 0;
    for (; index + 32 <= count; index += 32)
        _mm256_storeu_si256((__m256i *)(out + index), quantize_32_avx2(x + index, divisor, offset));
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

// MARK: Epilogue (shared by both paths, so they agree bit for bit)

// What happens to the exact accumulators of one call.
typedef struct {
    int32_t zero_point;
    const int32_t *column_sums;
    int32_t *c_int;                 // accumulators out (then nothing below is used), or NULL
    float activation_scale;
    const float *weight_scales, *bias;
    const aimet_w8a8_output_grid *grid; // fake-quantize the float outputs on this grid, or NULL
    float *c_float;
    size_t ldc;
} epilogue;

static inline float float_output(int32_t sum, const epilogue *e, size_t column) {
    return aimet_epilogue_value((float)sum, e->activation_scale, e->weight_scales, e->bias, e->grid, column);
}

// MARK: Fake quantization on a per-tensor grid

void aimet_fake_quantize_f32_portable(float *values, size_t count, const aimet_w8a8_output_grid *grid) {
    for (size_t index = 0; index < count; index++) values[index] = aimet_grid_value(values[index], grid);
}

#if AIMET_X86
__attribute__((target("avx2,fma")))
static void fake_quantize_avx2(float *values, size_t count, const aimet_w8a8_output_grid *grid) {
    const __m256 scale = _mm256_set1_ps(grid->scale), low = _mm256_set1_ps(grid->low), high = _mm256_set1_ps(grid->high);
    const __m256 magic = _mm256_set1_ps(aimet_rounding_magic);
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        __m256 scaled = _mm256_div_ps(_mm256_loadu_ps(values + index), scale);
        scaled = _mm256_and_ps(scaled, _mm256_cmp_ps(scaled, scaled, _CMP_ORD_Q)); // NaN → 0
        scaled = _mm256_min_ps(_mm256_max_ps(scaled, low), high);
        _mm256_storeu_ps(values + index, _mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(scaled, magic), magic), scale));
    }
    for (; index < count; index++) values[index] = aimet_grid_value(values[index], grid);
}
#endif

void aimet_fake_quantize_f32(float *values, size_t count, const aimet_w8a8_output_grid *grid) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        fake_quantize_avx2(values, count, grid);
        return;
    }
#endif
    aimet_fake_quantize_f32_portable(values, count, grid);
}

// MARK: Portable GEMM

static int32_t dot_portable(size_t k, const uint8_t *a, int32_t zero_point, const int8_t *panel, size_t column) {
    int32_t sum = 0;
    for (size_t index = 0; index < k; index++)
        sum += ((int32_t)a[index] - zero_point) * panel[(index / GROUP) * GROUP * PANEL + column * GROUP + index % GROUP];
    return sum;
}

// Rows of uint8 codes `a` (row stride lda) through the plain loops.
static void gemm_portable(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, const int8_t *packed,
                          const epilogue *e) {
    for (size_t row = 0; row < m; row++) {
        for (size_t column = 0; column < n; column++) {
            const int8_t *panel = packed + (column / PANEL) * aimet_w8a8_panel_bytes(k);
            int32_t sum = dot_portable(k, a + row * lda, e->zero_point, panel, column % PANEL);
            if (e->c_int) e->c_int[row * e->ldc + column] = sum;
            else e->c_float[row * e->ldc + column] = float_output(sum, e, column);
        }
    }
}

void aimet_w8a8_gemm_s32_portable(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, int32_t zero_point,
                                  const int8_t *packed, const int32_t *column_sums, int32_t *c, size_t ldc) {
    epilogue e = {.zero_point = zero_point, .column_sums = column_sums, .c_int = c, .ldc = ldc};
    gemm_portable(m, n, k, a, lda, packed, &e);
}

void aimet_w8a8_gemm_f32_portable(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda,
                                  float activation_scale, int32_t zero_point, const int8_t *packed,
                                  const int32_t *column_sums, const float *weight_scales, const float *bias,
                                  float *c, size_t ldc) {
    epilogue e = {.zero_point = zero_point, .column_sums = column_sums, .activation_scale = activation_scale,
                  .weight_scales = weight_scales, .bias = bias, .c_float = c, .ldc = ldc};
    gemm_portable(m, n, k, a, lda, packed, &e);
}

void aimet_w8a8_linear_f32_portable(size_t m, size_t n, size_t k, const float *x, size_t ldx, float input_scale,
                                    int32_t zero_point, const int8_t *packed, const int32_t *column_sums,
                                    const float *weight_scales, const float *bias,
                                    const aimet_w8a8_output_grid *output_grid, float *c, size_t ldc) {
    epilogue e = {.zero_point = zero_point, .column_sums = column_sums, .activation_scale = input_scale,
                  .weight_scales = weight_scales, .bias = bias, .grid = output_grid, .c_float = c, .ldc = ldc};
    uint8_t *codes = malloc(k + 1);
    if (codes == NULL) abort();
    for (size_t row = 0; row < m; row++) {
        aimet_quantize_activations_u8_portable(x + row * ldx, k, input_scale, zero_point, codes);
        epilogue row_e = e;
        row_e.c_float = c + row * ldc;
        gemm_portable(1, n, k, codes, k, packed, &row_e);
    }
    free(codes);
}

// MARK: AVX2 GEMM

#if AIMET_X86
// Byte rows of a chunk: a_s = a − 128 and |a_s| (as uint8: |−128| = 128), `padded` bytes each.
typedef struct {
    int8_t *signs;
    uint8_t *magnitudes;
    size_t padded;
} row_bytes;

__attribute__((always_inline, target("avx2,fma")))
static inline void store_shifted(__m256i codes, int8_t *signs, uint8_t *magnitudes) {
    __m256i shifted = _mm256_xor_si256(codes, _mm256_set1_epi8((char)0x80));
    _mm256_storeu_si256((__m256i *)signs, shifted);
    _mm256_storeu_si256((__m256i *)magnitudes, _mm256_abs_epi8(shifted));
}

static inline void shift_one(uint8_t code, int8_t *sign, uint8_t *magnitude) {
    int value = (int)code - 128;
    *sign = (int8_t)value;
    *magnitude = (uint8_t)(value < 0 ? -value : value);
}

// Fills rows [0, rows) of `out` from uint8 codes (x == NULL) or float activations.
__attribute__((target("avx2,fma")))
static void prepare_rows(size_t rows, size_t k, const uint8_t *a, size_t lda, const float *x, size_t ldx, float scale,
                         int32_t zero_point, const row_bytes *out) {
    const __m256 divisor = _mm256_set1_ps(scale), offset = _mm256_set1_ps((float)zero_point);
    for (size_t row = 0; row < rows; row++) {
        int8_t *signs = out->signs + row * out->padded;
        uint8_t *magnitudes = out->magnitudes + row * out->padded;
        size_t index = 0;
        if (x) {
            const float *source = x + row * ldx;
            for (; index + 32 <= k; index += 32)
                store_shifted(quantize_32_avx2(source + index, divisor, offset), signs + index, magnitudes + index);
            for (; index < k; index++)
                shift_one(quantize_one(source[index], scale, (float)zero_point), signs + index, magnitudes + index);
        } else {
            const uint8_t *source = a + row * lda;
            for (; index + 32 <= k; index += 32)
                store_shifted(_mm256_loadu_si256((const __m256i *)(source + index)), signs + index, magnitudes + index);
            for (; index < k; index++) shift_one(source[index], signs + index, magnitudes + index);
        }
        for (; index < out->padded; index++) signs[index] = 0, magnitudes[index] = 0; // sign 0 adds nothing
    }
}

// R rows × 16 columns of Σ a_s·w over all groups, kept in registers; then the epilogue.
__attribute__((always_inline, target("avx2,fma")))
static inline void block_avx2(const int R, size_t groups, const row_bytes *bytes, size_t first_row,
                              const int8_t *panel, size_t column, size_t columns, const epilogue *e, size_t row) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[ROWS][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int8_t *signs = bytes->signs + first_row * bytes->padded;
    const uint8_t *magnitudes = bytes->magnitudes + first_row * bytes->padded;
    for (size_t group = 0; group < groups; group++) {
        __m256i low = _mm256_loadu_si256((const __m256i *)(panel + group * 64));
        __m256i high = _mm256_loadu_si256((const __m256i *)(panel + group * 64 + 32));
        for (int r = 0; r < R; r++) {
            int32_t s, u;
            memcpy(&s, signs + r * bytes->padded + group * GROUP, 4);
            memcpy(&u, magnitudes + r * bytes->padded + group * GROUP, 4);
            __m256i shifted = _mm256_set1_epi32(s), size = _mm256_set1_epi32(u);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(size, _mm256_sign_epi8(low, shifted)), ones));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(size, _mm256_sign_epi8(high, shifted)), ones));
        }
    }
    // Epilogue: + (128 − z)·Σw, then to float (or out as int32).
    int32_t correction_values[PANEL] = {0};
    for (size_t j = 0; j < columns; j++) correction_values[j] = (128 - e->zero_point) * e->column_sums[column + j];
    const __m256i correction[2] = {_mm256_loadu_si256((const __m256i *)correction_values),
                                   _mm256_loadu_si256((const __m256i *)(correction_values + 8))};
    if (e->c_int) {
        for (int r = 0; r < R; r++) {
            int32_t staging[PANEL];
            _mm256_storeu_si256((__m256i *)staging, _mm256_add_epi32(acc[r][0], correction[0]));
            _mm256_storeu_si256((__m256i *)(staging + 8), _mm256_add_epi32(acc[r][1], correction[1]));
            memcpy(e->c_int + (row + (size_t)r) * e->ldc + column, staging, columns * sizeof(int32_t));
        }
        return;
    }
    const aimet_panel_epilogue p =
        aimet_panel_epilogue_make(e->activation_scale, e->weight_scales, e->bias, e->grid, column, columns);
    for (int r = 0; r < R; r++) {
        __m256 low = aimet_panel_epilogue_apply(_mm256_cvtepi32_ps(_mm256_add_epi32(acc[r][0], correction[0])), &p, 0);
        __m256 high = aimet_panel_epilogue_apply(_mm256_cvtepi32_ps(_mm256_add_epi32(acc[r][1], correction[1])), &p, 1);
        aimet_panel_store(e->c_float + (row + (size_t)r) * e->ldc + column, low, high, columns);
    }
}

#define AIMET_BLOCK(R)                                                                                           \
    __attribute__((target("avx2,fma"))) static void block_##R(size_t groups, const row_bytes *bytes, size_t first_row, \
                                                              const int8_t *panel, size_t column, size_t columns,  \
                                                              const epilogue *e, size_t row) {                    \
        block_avx2(R, groups, bytes, first_row, panel, column, columns, e, row);                                  \
    }
AIMET_BLOCK(5) AIMET_BLOCK(4) AIMET_BLOCK(3) AIMET_BLOCK(2) AIMET_BLOCK(1)
#undef AIMET_BLOCK

// Rows of codes `a` (x == NULL) or of float activations `x`, through the AVX2 kernel.
static void gemm_avx2(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, const float *x, size_t ldx,
                      float input_scale, const int8_t *packed, const epilogue *e) {
    size_t groups = groups_for(k), panels = (n + PANEL - 1) / PANEL, panel_bytes = aimet_w8a8_panel_bytes(k);
    size_t chunk_rows = m < ROW_CHUNK ? m : ROW_CHUNK;
    row_bytes bytes = {.padded = groups * GROUP};
    uint8_t *storage = malloc(2 * chunk_rows * bytes.padded + 64);
    if (storage == NULL) abort();
    bytes.signs = (int8_t *)storage;
    bytes.magnitudes = storage + chunk_rows * bytes.padded;
    for (size_t chunk = 0; chunk < m; chunk += ROW_CHUNK) {
        size_t rows = m - chunk < ROW_CHUNK ? m - chunk : ROW_CHUNK;
        prepare_rows(rows, k, a ? a + chunk * lda : NULL, lda, x ? x + chunk * ldx : NULL, ldx, input_scale,
                     e->zero_point, &bytes);
        for (size_t panel = 0; panel < panels; panel++) {
            size_t column = panel * PANEL, columns = n - column < PANEL ? n - column : PANEL;
            const int8_t *weights = packed + panel * panel_bytes;
            for (size_t row = 0; row < rows;) {
                size_t left = rows - row;
                int take = left >= ROWS ? ROWS : (int)left;
                switch (take) {
                case 5: block_5(groups, &bytes, row, weights, column, columns, e, chunk + row); break;
                case 4: block_4(groups, &bytes, row, weights, column, columns, e, chunk + row); break;
                case 3: block_3(groups, &bytes, row, weights, column, columns, e, chunk + row); break;
                case 2: block_2(groups, &bytes, row, weights, column, columns, e, chunk + row); break;
                default: block_1(groups, &bytes, row, weights, column, columns, e, chunk + row); break;
                }
                row += (size_t)take;
            }
        }
    }
    free(storage);
}
#endif

void aimet_w8a8_gemm_s32(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda, int32_t zero_point,
                         const int8_t *packed, const int32_t *column_sums, int32_t *c, size_t ldc) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        epilogue e = {.zero_point = zero_point, .column_sums = column_sums, .c_int = c, .ldc = ldc};
        gemm_avx2(m, n, k, a, lda, NULL, 0, 0.0f, packed, &e);
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
        epilogue e = {.zero_point = zero_point, .column_sums = column_sums, .activation_scale = activation_scale,
                      .weight_scales = weight_scales, .bias = bias, .c_float = c, .ldc = ldc};
        gemm_avx2(m, n, k, a, lda, NULL, 0, 0.0f, packed, &e);
        return;
    }
#endif
    aimet_w8a8_gemm_f32_portable(m, n, k, a, lda, activation_scale, zero_point, packed, column_sums, weight_scales,
                                 bias, c, ldc);
}

void aimet_w8a8_linear_f32(size_t m, size_t n, size_t k, const float *x, size_t ldx, float input_scale,
                           int32_t zero_point, const int8_t *packed, const int32_t *column_sums,
                           const float *weight_scales, const float *bias, const aimet_w8a8_output_grid *output_grid,
                           float *c, size_t ldc) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        epilogue e = {.zero_point = zero_point, .column_sums = column_sums, .activation_scale = input_scale,
                      .weight_scales = weight_scales, .bias = bias, .grid = output_grid, .c_float = c, .ldc = ldc};
        gemm_avx2(m, n, k, NULL, 0, x, ldx, input_scale, packed, &e);
        return;
    }
#endif
    aimet_w8a8_linear_f32_portable(m, n, k, x, ldx, input_scale, zero_point, packed, column_sums, weight_scales, bias,
                                   output_grid, c, ldc);
}
