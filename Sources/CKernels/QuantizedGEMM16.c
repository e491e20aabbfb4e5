// W8A16 GEMM: float activations quantized in the prologue onto a 16-bit grid (per tensor),
// times symmetric int8 weights (one scale per output column), with exact integer sums,
// requantised to float (and fake-quantized on an output grid) in the epilogue that
// QuantizedGEMM.c uses too (QuantizedEpilogue.h).
//
// Codes. The grid is q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax). An
// unsigned 16-bit grid (0…65535) does not fit int16, so codes are stored shifted,
// v = q − offset with offset = 32768 when qmax > 32767 and 0 otherwise (signed grids), like
// the W8A8 kernel shifts uint8 by 128. The shift is undone with the weight column sums:
//   Σ_k (q − zero_point)·w = Σ_k v·w + (offset − zero_point)·Σ_k w.
//
// Products. _mm256_madd_epi16 multiplies 16 int16 pairs and adds neighbours into 8 int32
// lanes: codes of two consecutive depths (one 32-bit broadcast) against the weights of the
// same two depths for 8 columns. Weights are packed as int16, in panels of 16 columns; within
// a panel, each pair of depths holds 16 columns × 2 values (64 bytes, two registers).
//
// Exactness. |v| ≤ 32768 and |w| ≤ 127 (−128 is rejected at pack time), so one madd lane is
// at most 2·32768·127 = 8 323 072 in magnitude, and a lane that adds BLOCK_PAIRS = 256 of them
// (512 depths) stays within 256·8 323 072 = 2 130 706 432 < 2³¹ − 1: int32 cannot overflow
// inside a block. After each block the int32 lanes are flushed into double sums. Every
// partial and total is an integer of magnitude ≤ k·(32768 + 65535)·127 < 2⁵³ for
// k ≤ AIMET_W8A16_MAX_DEPTH (2²⁶), so the doubles hold them exactly, in any order; the total
// is rounded to float once (double → float), which both paths do identically.
//
// A call works on chunks of rows: the prologue quantizes each row once into int16 codes
// (padded with code 0 to an even depth); then, per panel and block of depths, a
// micro-kernel keeps ROWS × 16 int32 sums in registers and flushes them into the chunk's
// double sums; the epilogue adds the correction, rounds to float, scales, adds the bias,
// applies the output grid, and stores.
#include "QuantizedEpilogue.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define AIMET_X86 1
#include <immintrin.h>
#endif

enum { PANEL = AIMET_EPILOGUE_PANEL, PAIR = 2, ROWS = 6, ROW_CHUNK = 60, BLOCK_PAIRS = 256 };

// MARK: Input grid

int32_t aimet_input_grid16_offset(const aimet_input_grid16 *grid) { return grid->qmax > 32767 ? 32768 : 0; }

int aimet_input_grid16_is_valid(const aimet_input_grid16 *grid) {
    if (!(grid->scale > 0.0f) || !isfinite(grid->scale)) return 0;
    if (grid->qmin > grid->zero_point || grid->zero_point > grid->qmax) return 0;
    int32_t offset = aimet_input_grid16_offset(grid);
    return grid->qmin - offset >= -32768 && grid->qmax - offset <= 32767;
}

// The float bounds of round(x / scale) and the shift (zero_point − offset) of one grid.
typedef struct {
    float scale, low, high, shift;
} code_rule;

static code_rule code_rule_of(const aimet_input_grid16 *grid) {
    code_rule rule = {.scale = grid->scale,
                      .low = (float)(grid->qmin - grid->zero_point),
                      .high = (float)(grid->qmax - grid->zero_point),
                      .shift = (float)(grid->zero_point - aimet_input_grid16_offset(grid))};
    return rule;
}

// QuantCore's rule: round(clamp(x / scale, qmin − z, qmax − z)) (NaN → 0), then + z − offset.
static inline int16_t code_one(float x, const code_rule *rule) {
    float scaled = x / rule->scale;
    scaled = scaled == scaled ? scaled : 0.0f;
    scaled = scaled < rule->low ? rule->low : scaled;
    scaled = scaled > rule->high ? rule->high : scaled;
    return (int16_t)(((scaled + aimet_rounding_magic) - aimet_rounding_magic) + rule->shift);
}

void aimet_quantize_activations_16_portable(const float *x, size_t count, const aimet_input_grid16 *grid,
                                            int16_t *out) {
    code_rule rule = code_rule_of(grid);
    for (size_t index = 0; index < count; index++) out[index] = code_one(x[index], &rule);
}

#if AIMET_X86
__attribute__((target("avx2,fma")))
static void codes_avx2(const float *x, size_t count, const code_rule *rule, int16_t *out) {
    const __m256 divisor = _mm256_set1_ps(rule->scale), low = _mm256_set1_ps(rule->low);
    const __m256 high = _mm256_set1_ps(rule->high), shift = _mm256_set1_ps(rule->shift);
    const __m256 magic = _mm256_set1_ps(aimet_rounding_magic);
    size_t index = 0;
    for (; index + 16 <= count; index += 16) {
        __m256i q[2];
        for (int part = 0; part < 2; part++) {
            __m256 scaled = _mm256_div_ps(_mm256_loadu_ps(x + index + 8 * part), divisor);
            scaled = _mm256_and_ps(scaled, _mm256_cmp_ps(scaled, scaled, _CMP_ORD_Q)); // NaN → 0
            scaled = _mm256_min_ps(_mm256_max_ps(scaled, low), high);
            scaled = _mm256_add_ps(_mm256_sub_ps(_mm256_add_ps(scaled, magic), magic), shift);
            q[part] = _mm256_cvtps_epi32(scaled);
        }
        // packs works within 128-bit lanes: [q0 lo, q1 lo, q0 hi, q1 hi] → restore the order.
        __m256i codes = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
        _mm256_storeu_si256((__m256i *)(out + index), codes);
    }
    for (; index < count; index++) out[index] = code_one(x[index], rule);
}
#endif

void aimet_quantize_activations_16(const float *x, size_t count, const aimet_input_grid16 *grid, int16_t *out) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        code_rule rule = code_rule_of(grid);
        codes_avx2(x, count, &rule, out);
        return;
    }
#endif
    aimet_quantize_activations_16_portable(x, count, grid, out);
}

// MARK: Packing

static size_t pairs_for(size_t k) { return (k + PAIR - 1) / PAIR; }

size_t aimet_w8a16_panel_count(size_t k) { return pairs_for(k) * PAIR * PANEL; }

size_t aimet_w8a16_packed_count(size_t n, size_t k) { return ((n + PANEL - 1) / PANEL) * aimet_w8a16_panel_count(k); }

int aimet_w8a16_pack(const int8_t *w, size_t ldw, size_t n, size_t k, int16_t *packed, int32_t *column_sums) {
    for (size_t row = 0; row < n; row++)
        for (size_t index = 0; index < k; index++)
            if (w[row * ldw + index] == -128) return -1;
    memset(packed, 0, aimet_w8a16_packed_count(n, k) * sizeof(int16_t));
    for (size_t column = 0; column < n; column++) {
        int16_t *panel = packed + (column / PANEL) * aimet_w8a16_panel_count(k);
        int32_t sum = 0;
        for (size_t index = 0; index < k; index++) {
            int8_t value = w[column * ldw + index];
            panel[(index / PAIR) * PAIR * PANEL + (column % PANEL) * PAIR + index % PAIR] = value;
            sum += value;
        }
        column_sums[column] = sum;
    }
    return 0;
}

// MARK: Shared pieces of both paths

// What happens to the exact sums of one call.
typedef struct {
    const aimet_input_grid16 *input;
    const int32_t *column_sums;
    int64_t *c_int;                     // exact sums out (nothing below is used), or NULL
    const float *weight_scales, *bias;
    const aimet_w8a8_output_grid *grid; // fake-quantize the float outputs on this grid, or NULL
    float *c_float;
    size_t ldc;
} epilogue16;

// (offset − zero_point)·Σw of one column: an integer with magnitude ≤ 65535·127·k, exact in double.
static inline double correction_of(const epilogue16 *e, size_t column) {
    return (double)(aimet_input_grid16_offset(e->input) - e->input->zero_point) * (double)e->column_sums[column];
}

// MARK: Portable GEMM

static void gemm16_portable(size_t m, size_t n, size_t k, const float *x, size_t ldx, const int16_t *packed,
                            const epilogue16 *e) {
    int16_t *codes = malloc((k + 1) * sizeof(int16_t));
    if (codes == NULL) abort();
    for (size_t row = 0; row < m; row++) {
        aimet_quantize_activations_16_portable(x + row * ldx, k, e->input, codes);
        for (size_t column = 0; column < n; column++) {
            const int16_t *panel = packed + (column / PANEL) * aimet_w8a16_panel_count(k);
            int64_t sum = 0;
            for (size_t index = 0; index < k; index++)
                sum += (int64_t)codes[index] * panel[(index / PAIR) * PAIR * PANEL + (column % PANEL) * PAIR + index % PAIR];
            double total = (double)sum + correction_of(e, column);
            if (e->c_int) e->c_int[row * e->ldc + column] = (int64_t)total;
            else e->c_float[row * e->ldc + column] =
                aimet_epilogue_value((float)total, e->input->scale, e->weight_scales, e->bias, e->grid, column);
        }
    }
    free(codes);
}

// MARK: AVX2 GEMM

#if AIMET_X86
// R rows × 16 columns over `pairs` depth pairs (≤ BLOCK_PAIRS: exact in int32), added to the
// double sums (16 per row, row stride 16).
__attribute__((always_inline, target("avx2,fma")))
static inline void block16_avx2(const int R, size_t pairs, const int16_t *codes, size_t code_stride,
                                const int16_t *panel, double *sums) {
    __m256i acc[ROWS][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (size_t pair = 0; pair < pairs; pair++) {
        __m256i low = _mm256_loadu_si256((const __m256i *)(panel + pair * PAIR * PANEL));
        __m256i high = _mm256_loadu_si256((const __m256i *)(panel + pair * PAIR * PANEL + 16));
        for (int r = 0; r < R; r++) {
            int32_t both;
            memcpy(&both, codes + r * code_stride + pair * PAIR, 4);
            __m256i value = _mm256_set1_epi32(both);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(value, low));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(value, high));
        }
    }
    for (int r = 0; r < R; r++) {
        double *row = sums + r * PANEL;
        for (int half = 0; half < 2; half++) {
            __m128i first = _mm256_castsi256_si128(acc[r][half]), second = _mm256_extracti128_si256(acc[r][half], 1);
            _mm256_storeu_pd(row + 8 * half, _mm256_add_pd(_mm256_loadu_pd(row + 8 * half), _mm256_cvtepi32_pd(first)));
            _mm256_storeu_pd(row + 8 * half + 4,
                             _mm256_add_pd(_mm256_loadu_pd(row + 8 * half + 4), _mm256_cvtepi32_pd(second)));
        }
    }
}

#define AIMET_BLOCK16(R)                                                                                             \
    __attribute__((target("avx2,fma"))) static void block16_##R(size_t pairs, const int16_t *codes, size_t stride, \
                                                                const int16_t *panel, double *sums) {             \
        block16_avx2(R, pairs, codes, stride, panel, sums);                                                        \
    }
AIMET_BLOCK16(6) AIMET_BLOCK16(5) AIMET_BLOCK16(4) AIMET_BLOCK16(3) AIMET_BLOCK16(2) AIMET_BLOCK16(1)
#undef AIMET_BLOCK16

// The epilogue of `rows` rows of one panel from their double sums.
__attribute__((target("avx2,fma")))
static void finish16_avx2(size_t rows, const double *sums, size_t first_row, size_t column, size_t columns,
                          const epilogue16 *e) {
    double correction_values[PANEL] = {0};
    for (size_t j = 0; j < columns; j++) correction_values[j] = correction_of(e, column + j);
    if (e->c_int) {
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < columns; j++)
                e->c_int[(first_row + r) * e->ldc + column + j] = (int64_t)(sums[r * PANEL + j] + correction_values[j]);
        return;
    }
    __m256d correction[4];
    for (int part = 0; part < 4; part++) correction[part] = _mm256_loadu_pd(correction_values + 4 * part);
    const aimet_panel_epilogue p =
        aimet_panel_epilogue_make(e->input->scale, e->weight_scales, e->bias, e->grid, column, columns);
    for (size_t r = 0; r < rows; r++) {
        __m128 parts[4];
        for (int part = 0; part < 4; part++)
            parts[part] = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_loadu_pd(sums + r * PANEL + 4 * part), correction[part]));
        __m256 low = aimet_panel_epilogue_apply(_mm256_set_m128(parts[1], parts[0]), &p, 0);
        __m256 high = aimet_panel_epilogue_apply(_mm256_set_m128(parts[3], parts[2]), &p, 1);
        aimet_panel_store(e->c_float + (first_row + r) * e->ldc + column, low, high, columns);
    }
}

static void gemm16_avx2(size_t m, size_t n, size_t k, const float *x, size_t ldx, const int16_t *packed,
                        const epilogue16 *e) {
    size_t pairs = pairs_for(k), padded = pairs * PAIR, panels = (n + PANEL - 1) / PANEL;
    size_t panel_count = aimet_w8a16_panel_count(k), chunk_rows = m < ROW_CHUNK ? m : ROW_CHUNK;
    int16_t *codes = malloc(chunk_rows * padded * sizeof(int16_t) + 64);
    double *sums = malloc(chunk_rows * PANEL * sizeof(double) + 64);
    if (codes == NULL || sums == NULL) abort();
    code_rule rule = code_rule_of(e->input);
    for (size_t chunk = 0; chunk < m; chunk += ROW_CHUNK) {
        size_t rows = m - chunk < ROW_CHUNK ? m - chunk : ROW_CHUNK;
        for (size_t row = 0; row < rows; row++) {
            codes_avx2(x + (chunk + row) * ldx, k, &rule, codes + row * padded);
            if (padded > k) codes[row * padded + k] = 0; // code 0 adds nothing
        }
        for (size_t panel = 0; panel < panels; panel++) {
            size_t column = panel * PANEL, columns = n - column < PANEL ? n - column : PANEL;
            const int16_t *weights = packed + panel * panel_count;
            memset(sums, 0, rows * PANEL * sizeof(double));
            for (size_t first = 0; first < pairs; first += BLOCK_PAIRS) {
                size_t block = pairs - first < BLOCK_PAIRS ? pairs - first : BLOCK_PAIRS;
                const int16_t *block_weights = weights + first * PAIR * PANEL;
                for (size_t row = 0; row < rows;) {
                    size_t left = rows - row;
                    int take = left >= ROWS ? ROWS : (int)left;
                    const int16_t *block_codes = codes + row * padded + first * PAIR;
                    double *block_sums = sums + row * PANEL;
                    switch (take) {
                    case 6: block16_6(block, block_codes, padded, block_weights, block_sums); break;
                    case 5: block16_5(block, block_codes, padded, block_weights, block_sums); break;
                    case 4: block16_4(block, block_codes, padded, block_weights, block_sums); break;
                    case 3: block16_3(block, block_codes, padded, block_weights, block_sums); break;
                    case 2: block16_2(block, block_codes, padded, block_weights, block_sums); break;
                    default: block16_1(block, block_codes, padded, block_weights, block_sums); break;
                    }
                    row += (size_t)take;
                }
            }
            finish16_avx2(rows, sums, chunk, column, columns, e);
        }
    }
    free(sums);
    free(codes);
}
#endif

// MARK: Entry points

void aimet_w8a16_linear_f32(size_t m, size_t n, size_t k, const float *x, size_t ldx, const aimet_input_grid16 *input,
                            const int16_t *packed, const int32_t *column_sums, const float *weight_scales,
                            const float *bias, const aimet_w8a8_output_grid *output_grid, float *c, size_t ldc) {
    epilogue16 e = {.input = input, .column_sums = column_sums, .weight_scales = weight_scales, .bias = bias,
                    .grid = output_grid, .c_float = c, .ldc = ldc};
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        gemm16_avx2(m, n, k, x, ldx, packed, &e);
        return;
    }
#endif
    gemm16_portable(m, n, k, x, ldx, packed, &e);
}

void aimet_w8a16_linear_f32_portable(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                                     const aimet_input_grid16 *input, const int16_t *packed,
                                     const int32_t *column_sums, const float *weight_scales, const float *bias,
                                     const aimet_w8a8_output_grid *output_grid, float *c, size_t ldc) {
    epilogue16 e = {.input = input, .column_sums = column_sums, .weight_scales = weight_scales, .bias = bias,
                    .grid = output_grid, .c_float = c, .ldc = ldc};
    gemm16_portable(m, n, k, x, ldx, packed, &e);
}

void aimet_w8a16_linear_s64(size_t m, size_t n, size_t k, const float *x, size_t ldx, const aimet_input_grid16 *input,
                            const int16_t *packed, const int32_t *column_sums, int64_t *c, size_t ldc) {
    epilogue16 e = {.input = input, .column_sums = column_sums, .c_int = c, .ldc = ldc};
#if AIMET_X86
    if (aimet_kernels_have_avx2()) {
        gemm16_avx2(m, n, k, x, ldx, packed, &e);
        return;
    }
#endif
    gemm16_portable(m, n, k, x, ldx, packed, &e);
}

void aimet_w8a16_linear_s64_portable(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                                     const aimet_input_grid16 *input, const int16_t *packed,
                                     const int32_t *column_sums, int64_t *c, size_t ldc) {
    epilogue16 e = {.input = input, .column_sums = column_sums, .c_int = c, .ldc = ldc};
    gemm16_portable(m, n, k, x, ldx, packed, &e);
}
