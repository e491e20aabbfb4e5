// Weight-only int8 / int4 GEMM: c = a·dequant(W)ᵀ + bias with float activations.
//
// Weights are packed in panels of 16 output columns, depth-major, so a panel streams once.
// 8-bit: 16 bytes per depth (asymmetric uint8 stored as q − 128 with the zero point shifted
// alike, so q − z is unchanged). 4-bit: 8 bytes per depth, two little-endian 32-bit words
// (columns 0–7 and 8–15) with column j of a word in bits 4j…4j+3, each holding u = q + 8
// (symmetric) or the unsigned q (asymmetric). Decoding a word is one broadcast, one AND with
// the lane masks 0xF << 4j and one int→float convert, giving u·16^j exactly; lane 7 reads
// its nibble as signed, so it is stored as u ^ 8 (= u − 8) and its zero point lowered by 8.
// The 16^j factors are undone exactly (powers of two) once per block.
//
// Scales and zero points (as floats; 4-bit always has them, 8 for symmetric) are packed per
// panel as [block][16]. Per-channel weights use internal blocks of 256 depths with the scale
// repeated. Within a block the kernel accumulates acc = Σ a·q over integer-valued weights
// (convert + FMA only), then folds out += scale·(acc − zero_point·Σ a) once per block, with
// Σ a per row and block precomputed. Every output is reduced in the same order whatever the
// row/column split, and the portable path uses fmaf in the same order, so both paths agree
// bit for bit.
#include "aimet_quantized_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define AIMET_X86 1
#include <immintrin.h>
#endif

enum { PANEL = 16, CHANNEL_BLOCK = 256, DEPTH_CHUNK = 256, MAX_ROWS = 6, GROUP = 4 };

static size_t internal_block(size_t block) { return block == 0 ? CHANNEL_BLOCK : block; }
static size_t block_count(size_t k, size_t block) {
    size_t size = internal_block(block);
    return (k + size - 1) / size;
}

int aimet_wo_block_is_valid(size_t block) { return block % 16 == 0; }

size_t aimet_wo_panel_bytes(int bits, size_t k) { return bits == 4 ? k * PANEL / 2 : k * PANEL; }
size_t aimet_wo_packed_size(int bits, size_t n, size_t k) {
    return ((n + PANEL - 1) / PANEL) * aimet_wo_panel_bytes(bits, k);
}
size_t aimet_wo_panel_scales(size_t k, size_t block) { return block_count(k, block) * PANEL; }
size_t aimet_wo_packed_scale_count(size_t n, size_t k, size_t block) {
    return ((n + PANEL - 1) / PANEL) * aimet_wo_panel_scales(k, block);
}

// MARK: Packing

// Scales and zero points for every panel, column and internal block. `shift` is subtracted
// from zero points (128 for uint8 storage); `padding_zero` is the zero point of padded columns.
static void pack_scales(size_t n, size_t k, size_t block, const float *scales, const int32_t *zero_points,
                        int32_t shift, float *packed_scales, float *packed_zero_points) {
    size_t blocks = block_count(k, block), panels = (n + PANEL - 1) / PANEL;
    for (size_t panel = 0; panel < panels; panel++) {
        for (size_t b = 0; b < blocks; b++) {
            for (size_t column = 0; column < PANEL; column++) {
                size_t row = panel * PANEL + column, at = (panel * blocks + b) * PANEL + column;
                size_t source = block == 0 ? row : row * blocks + b;
                packed_scales[at] = row < n ? scales[source] : 0.0f;
                if (packed_zero_points) packed_zero_points[at] = row < n ? (float)(zero_points[source] - shift) : 0.0f;
            }
        }
    }
}

static int pack_8bit(const uint8_t *w, size_t ldw, size_t n, size_t k, size_t block, const float *scales,
                     const int32_t *zero_points, int is_unsigned, uint8_t *packed, float *packed_scales,
                     float *packed_zero_points) {
    if (!aimet_wo_block_is_valid(block)) return -1;
    size_t panels = (n + PANEL - 1) / PANEL;
    memset(packed, 0, aimet_wo_packed_size(8, n, k));
    for (size_t panel = 0; panel < panels; panel++) {
        uint8_t *out = packed + panel * aimet_wo_panel_bytes(8, k);
        for (size_t column = 0; column < PANEL && panel * PANEL + column < n; column++) {
            const uint8_t *source = w + (panel * PANEL + column) * ldw;
            for (size_t index = 0; index < k; index++)
                out[index * PANEL + column] = is_unsigned ? (uint8_t)(source[index] - 128) : source[index];
        }
    }
    pack_scales(n, k, block, scales, zero_points, is_unsigned ? 128 : 0, packed_scales,
                zero_points ? packed_zero_points : NULL);
    return 0;
}

int aimet_wo_pack_s8(const int8_t *w, size_t ldw, size_t n, size_t k, size_t block, const float *scales,
                     const int32_t *zero_points, uint8_t *packed, float *packed_scales, float *packed_zero_points) {
    return pack_8bit((const uint8_t *)w, ldw, n, k, block, scales, zero_points, 0, packed, packed_scales,
                     packed_zero_points);
}

int aimet_wo_pack_u8(const uint8_t *w, size_t ldw, size_t n, size_t k, size_t block, const float *scales,
                     const int32_t *zero_points, uint8_t *packed, float *packed_scales, float *packed_zero_points) {
    if (zero_points == NULL) return -1;
    return pack_8bit(w, ldw, n, k, block, scales, zero_points, 1, packed, packed_scales, packed_zero_points);
}

int aimet_wo_pack_4bit(const uint8_t *w, size_t ldw, size_t n, size_t k, size_t block, const float *scales,
                       const int32_t *zero_points, uint8_t *packed, float *packed_scales, float *packed_zero_points) {
    if (!aimet_wo_block_is_valid(block) || packed_zero_points == NULL) return -1;
    size_t panels = (n + PANEL - 1) / PANEL, blocks = block_count(k, block);
    int symmetric = zero_points == NULL;
    memset(packed, 0, aimet_wo_packed_size(4, n, k));
    for (size_t panel = 0; panel < panels; panel++) {
        uint8_t *out = packed + panel * aimet_wo_panel_bytes(4, k);
        for (size_t column = 0; column < PANEL && panel * PANEL + column < n; column++) {
            const uint8_t *source = w + (panel * PANEL + column) * ldw;
            for (size_t index = 0; index < k; index++) {
                uint8_t raw = index % 2 ? source[index / 2] >> 4 : source[index / 2] & 0x0F;
                uint8_t stored = symmetric ? raw ^ 8 : raw;            // u
                if (column % 8 == 7) stored ^= 8;                      // lane 7 decodes as signed
                out[index * (PANEL / 2) + column / 2] |= (uint8_t)(stored << (column % 2 ? 4 : 0));
            }
        }
    }
    pack_scales(n, k, block, scales, NULL, 0, packed_scales, NULL);
    for (size_t panel = 0; panel < panels; panel++) {
        for (size_t b = 0; b < blocks; b++) {
            for (size_t column = 0; column < PANEL; column++) {
                size_t row = panel * PANEL + column, at = (panel * blocks + b) * PANEL + column;
                int32_t zero = symmetric ? 8 : (row < n ? zero_points[block == 0 ? row : row * blocks + b] : 0);
                packed_zero_points[at] = row < n ? (float)(zero - (column % 8 == 7 ? 8 : 0)) : 0.0f;
            }
        }
    }
    return 0;
}

// MARK: Shared driver

// Σ a over each internal block, for rows × blocks (only needed with zero points).
static float *block_sums(size_t m, size_t k, size_t block, const float *a, size_t lda) {
    size_t size = internal_block(block), blocks = block_count(k, block);
    float *sums = malloc((m * blocks + 1) * sizeof(float));
    if (sums == NULL) return NULL;
    for (size_t row = 0; row < m; row++) {
        for (size_t b = 0; b < blocks; b++) {
            float sum = 0.0f;
            size_t end = (b + 1) * size < k ? (b + 1) * size : k;
            for (size_t index = b * size; index < end; index++) sum += a[row * lda + index];
            sums[row * blocks + b] = sum;
        }
    }
    return sums;
}

// What one tile (rows × panels, over blocks [first_block, end_block)) needs.
typedef struct {
    int bits;
    size_t k, block_size, blocks, first_block, end_block;
    const float *a;
    size_t lda;
    const uint8_t *weights;
    size_t panel_bytes;
    const float *scales, *zero_points;
    size_t panel_scales;
    const float *sums;
    int first;
    const float *bias;
    float *c;
    size_t ldc, columns;
} tile_job;

static inline float weight_value(const tile_job *job, const uint8_t *panel, size_t index, size_t column) {
    if (job->bits == 8) return (float)(int8_t)panel[index * PANEL + column];
    uint8_t byte = panel[index * (PANEL / 2) + column / 2];
    int nibble = column % 2 ? byte >> 4 : byte & 0x0F;
    return (float)(column % 8 == 7 && nibble >= 8 ? nibble - 16 : nibble);
}

static void tile_portable(const tile_job *job, int rows, int panels) {
    float out[MAX_ROWS][GROUP * PANEL];
    for (int row = 0; row < rows; row++)
        for (size_t column = 0; column < (size_t)panels * PANEL; column++)
            out[row][column] = column >= job->columns ? 0.0f
                               : job->first ? (job->bias ? job->bias[column] : 0.0f)
                                            : job->c[row * job->ldc + column];
    for (size_t b = job->first_block; b < job->end_block; b++) {
        size_t start = b * job->block_size, end = start + job->block_size < job->k ? start + job->block_size : job->k;
        for (int row = 0; row < rows; row++) {
            for (int p = 0; p < panels; p++) {
                const uint8_t *panel = job->weights + p * job->panel_bytes;
                const float *scales = job->scales + p * job->panel_scales + b * PANEL;
                const float *zeros = job->zero_points ? job->zero_points + p * job->panel_scales + b * PANEL : NULL;
                for (size_t column = 0; column < PANEL; column++) {
                    float acc = 0.0f;
                    for (size_t index = start; index < end; index++)
                        acc = fmaf(job->a[row * job->lda + index], weight_value(job, panel, index, column), acc);
                    if (zeros) acc = fmaf(-zeros[column], job->sums[row * job->blocks + b], acc);
                    out[row][p * PANEL + column] = fmaf(scales[column], acc, out[row][p * PANEL + column]);
                }
            }
        }
    }
    for (int row = 0; row < rows; row++) memcpy(job->c + row * job->ldc, out[row], job->columns * sizeof(float));
}

#if AIMET_X86
// The AVX2 tile: R rows × P panels, accumulators in registers for one block at a time.
__attribute__((always_inline, target("avx2,fma")))
static inline void tile_avx2(const tile_job *job, const int R, const int P, const int bits) {
    float out[MAX_ROWS][GROUP * PANEL];
    for (int row = 0; row < R; row++)
        for (size_t column = 0; column < (size_t)P * PANEL; column++)
            out[row][column] = column >= job->columns ? 0.0f
                               : job->first ? (job->bias ? job->bias[column] : 0.0f)
                                            : job->c[row * job->ldc + column];
    const __m256i masks = _mm256_setr_epi32(0xF, 0xF0, 0xF00, 0xF000, 0xF0000, 0xF00000, 0xF000000, (int32_t)0xF0000000u);
    const __m256 powers = _mm256_setr_ps(1.0f, 0x1p4f, 0x1p8f, 0x1p12f, 0x1p16f, 0x1p20f, 0x1p24f, 0x1p28f);
    const __m256 inverse_powers = _mm256_setr_ps(1.0f, 0x1p-4f, 0x1p-8f, 0x1p-12f, 0x1p-16f, 0x1p-20f, 0x1p-24f, 0x1p-28f);
    const int symmetric = job->zero_points == NULL;
    for (size_t b = job->first_block; b < job->end_block; b++) {
        size_t start = b * job->block_size, end = start + job->block_size < job->k ? start + job->block_size : job->k;
        __m256 acc[MAX_ROWS][2 * GROUP];
        for (int row = 0; row < R; row++)
            for (int v = 0; v < 2 * P; v++) acc[row][v] = _mm256_setzero_ps();
        if (bits == 8) {
            for (size_t index = start; index < end; index++) {
                __m256 w[2 * GROUP];
                for (int p = 0; p < P; p++) {
                    const uint8_t *source = job->weights + p * job->panel_bytes + index * PANEL;
                    w[2 * p] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)source)));
                    w[2 * p + 1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(source + 8))));
                }
                for (int row = 0; row < R; row++) {
                    __m256 x = _mm256_broadcast_ss(job->a + row * job->lda + index);
                    for (int v = 0; v < 2 * P; v++) acc[row][v] = _mm256_fmadd_ps(x, w[v], acc[row][v]);
                }
            }
        } else {
            for (size_t index = start; index < end; index++) {
                for (int p = 0; p < P; p++) {
                    const uint8_t *source = job->weights + p * job->panel_bytes + index * (PANEL / 2);
                    int32_t word0, word1;
                    memcpy(&word0, source, 4);
                    memcpy(&word1, source + 4, 4);
                    __m256 w0 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_set1_epi32(word0), masks));
                    __m256 w1 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_set1_epi32(word1), masks));
                    for (int row = 0; row < R; row++) {
                        __m256 x = _mm256_broadcast_ss(job->a + row * job->lda + index);
                        acc[row][2 * p] = _mm256_fmadd_ps(x, w0, acc[row][2 * p]);
                        acc[row][2 * p + 1] = _mm256_fmadd_ps(x, w1, acc[row][2 * p + 1]);
                    }
                }
            }
        }
        for (int row = 0; row < R; row++) {
            for (int v = 0; v < 2 * P; v++) {
                size_t offset = (size_t)(v / 2) * job->panel_scales + b * PANEL + (size_t)(v % 2) * 8;
                __m256 value = acc[row][v];
                if (bits == 4) {
                    // Lane j holds 16^j·Σ a·u: scale the zero point up and the result back (exact).
                    __m256 zero = _mm256_mul_ps(_mm256_loadu_ps(job->zero_points + offset), powers);
                    value = _mm256_fnmadd_ps(zero, _mm256_broadcast_ss(job->sums + row * job->blocks + b), value);
                    value = _mm256_mul_ps(value, inverse_powers);
                } else if (!symmetric) {
                    value = _mm256_fnmadd_ps(_mm256_loadu_ps(job->zero_points + offset),
                                             _mm256_broadcast_ss(job->sums + row * job->blocks + b), value);
                }
                float *target = out[row] + v * 8;
                _mm256_storeu_ps(target, _mm256_fmadd_ps(_mm256_loadu_ps(job->scales + offset), value, _mm256_loadu_ps(target)));
            }
        }
    }
    for (int row = 0; row < R; row++) memcpy(job->c + row * job->ldc, out[row], job->columns * sizeof(float));
}

#define AIMET_TILE(R, P)                                                          \
    __attribute__((target("avx2,fma"))) static void tile_##R##x##P(const tile_job *job) { \
        if (job->bits == 8) tile_avx2(job, R, P, 8); else tile_avx2(job, R, P, 4);  \
    }
AIMET_TILE(6, 1) AIMET_TILE(4, 1) AIMET_TILE(2, 2) AIMET_TILE(2, 1) AIMET_TILE(1, 4) AIMET_TILE(1, 3) AIMET_TILE(1, 2) AIMET_TILE(1, 1)
#undef AIMET_TILE

static void tile_dispatch_avx2(const tile_job *job, int rows, int panels) {
    if (rows == 6) tile_6x1(job);
    else if (rows == 4) tile_4x1(job);
    else if (rows == 2) panels == 2 ? tile_2x2(job) : tile_2x1(job);
    else if (panels == 4) tile_1x4(job);
    else if (panels == 3) tile_1x3(job);
    else if (panels == 2) tile_1x2(job);
    else tile_1x1(job);
}
#endif

static void wo_gemm(int simd, int bits, size_t m, size_t n, size_t k, size_t block, const float *a, size_t lda,
                    const uint8_t *packed, const float *packed_scales, const float *packed_zero_points,
                    const float *bias, float *c, size_t ldc) {
    size_t size = internal_block(block), blocks = block_count(k, block);
    size_t blocks_per_chunk = size >= DEPTH_CHUNK ? 1 : DEPTH_CHUNK / size;
    size_t panels = (n + PANEL - 1) / PANEL;
    int tall = bits == 8 ? MAX_ROWS : 4; // rows of the tallest tile: 4-bit decoding needs a mask register
    float *sums = NULL;
    if ((packed_zero_points || bits == 4) && m > 0 && k > 0) {
        sums = block_sums(m, k, block, a, lda);
        if (sums == NULL) abort();
    }
    tile_job job = {.bits = bits, .k = k, .block_size = size, .blocks = blocks, .lda = lda,
                    .panel_bytes = aimet_wo_panel_bytes(bits, k), .zero_points = packed_zero_points,
                    .panel_scales = aimet_wo_panel_scales(k, block), .ldc = ldc};
    size_t chunk_start = 0;
    do { // at least once, so that k = 0 still writes the bias
        size_t chunk_end = chunk_start + blocks_per_chunk < blocks ? chunk_start + blocks_per_chunk : blocks;
        job.first_block = chunk_start;
        job.end_block = chunk_end;
        job.first = chunk_start == 0;
        for (size_t panel = 0; panel < panels; panel += GROUP) {
            size_t group = panels - panel >= GROUP ? GROUP : panels - panel;
            for (size_t row = 0; row < m;) {
                int rows = m - row >= (size_t)tall ? tall : (m - row >= 2 ? 2 : 1);
                // Fewer rows take more panels at once, so that enough accumulators are independent.
                size_t width = rows == tall ? 1 : rows == 2 ? 2 : GROUP;
                for (size_t p = 0; p < group; p += width) {
                    int together = (int)(group - p < width ? group - p : width);
                    size_t first_column = (panel + p) * PANEL;
                    size_t end_column = first_column + (size_t)together * PANEL < n ? first_column + (size_t)together * PANEL : n;
                    job.a = a + row * lda;
                    job.weights = packed + (panel + p) * job.panel_bytes;
                    job.scales = packed_scales + (panel + p) * job.panel_scales;
                    job.zero_points = packed_zero_points ? packed_zero_points + (panel + p) * job.panel_scales : NULL;
                    job.sums = sums ? sums + row * blocks : NULL;
                    job.bias = bias ? bias + first_column : NULL;
                    job.c = c + row * ldc + first_column;
                    job.columns = end_column - first_column;
#if AIMET_X86
                    if (simd) tile_dispatch_avx2(&job, rows, together);
                    else tile_portable(&job, rows, together);
#else
                    tile_portable(&job, rows, together);
#endif
                }
                row += (size_t)rows;
            }
        }
        chunk_start = chunk_end;
    } while (chunk_start < blocks);
    free(sums);
    }

void aimet_wo_gemm(int bits, size_t m, size_t n, size_t k, size_t block, const float *a, size_t lda,
                   const uint8_t *packed, const float *packed_scales, const float *packed_zero_points,
                   const float *bias, float *c, size_t ldc) {
    wo_gemm(aimet_kernels_have_avx2(), bits, m, n, k, block, a, lda, packed, packed_scales, packed_zero_points, bias,
            c, ldc);
}

void aimet_wo_gemm_portable(int bits, size_t m, size_t n, size_t k, size_t block, const float *a, size_t lda,
                            const uint8_t *packed, const float *packed_scales, const float *packed_zero_points,
                            const float *bias, float *c, size_t ldc) {
    wo_gemm(0, bits, m, n, k, block, a, lda, packed, packed_scales, packed_zero_points, bias, c, ldc);
}
