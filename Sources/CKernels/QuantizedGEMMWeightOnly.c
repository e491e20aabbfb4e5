// Weight-only int8 / int4 GEMM: c = a·dequant(W)ᵀ + bias with float activations.
//
// Weights are packed in panels of 16 output columns, depth-major, so a panel streams once:
// 8-bit: 16 bytes per depth; 4-bit: 16 bytes per pair of depths (depth 2i in the low nibble,
// 2i+1 in the high nibble). Symmetric 4-bit values are stored offset by 8 (q + 8, unsigned)
// and decoded with a byte subtraction; asymmetric uint8 weights are stored as q − 128 with
// the zero point shifted alike, so (q − z) is unchanged and every weight decodes to int8.
//
// Scales (and zero points, as floats) are packed per panel as [block][16]. Per-channel
// weights use internal blocks of 256 depths with the scale repeated. Within a block the
// kernel accumulates acc = Σ a·q over integer-valued weights (convert + FMA only), then
// folds out += scale·(acc − zero_point·Σ a) once per block, with Σ a per row and block
// precomputed. Every output is reduced in the same order whatever the row/column split, and
// the portable path uses fmaf in the same order, so both paths agree bit for bit.
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

size_t aimet_wo_panel_bytes(int bits, size_t k) { return bits == 4 ? ((k + 1) / 2) * PANEL : k * PANEL; }
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
    if (!aimet_wo_block_is_valid(block)) return -1;
    size_t panels = (n + PANEL - 1) / PANEL, pairs = (k + 1) / 2;
    int symmetric = zero_points == NULL;
    // Symmetric: nibble n (two's complement q) is stored as n ^ 8 = q + 8; padding decodes to 0.
    memset(packed, symmetric ? 0x88 : 0x00, aimet_wo_packed_size(4, n, k));
    for (size_t panel = 0; panel < panels; panel++) {
        uint8_t *out = packed + panel * aimet_wo_panel_bytes(4, k);
        for (size_t column = 0; column < PANEL && panel * PANEL + column < n; column++) {
            const uint8_t *source = w + (panel * PANEL + column) * ldw;
            for (size_t pair = 0; pair < pairs; pair++) {
                uint8_t byte = source[pair];
                if (2 * pair + 1 >= k) byte &= 0x0F; // the missing odd depth decodes to 0
                out[pair * PANEL + column] = symmetric ? (uint8_t)(byte ^ 0x88) : byte;
            }
        }
    }
    pack_scales(n, k, block, scales, zero_points, 0, packed_scales, zero_points ? packed_zero_points : NULL);
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
    uint8_t byte = panel[(index / 2) * PANEL + column];
    int nibble = index % 2 ? byte >> 4 : byte & 0x0F;
    return (float)(job->zero_points ? nibble : nibble - 8);
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
    const __m128i low_mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
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
            size_t index = start;
            for (; index + 2 <= end; index += 2) {
                // Each decoded vector is used at once (even depth, then odd depth per
                // accumulator), keeping register pressure low.
                for (int p = 0; p < P; p++) {
                    __m128i bytes = _mm_loadu_si128((const __m128i *)(job->weights + p * job->panel_bytes + index / 2 * PANEL));
                    __m128i low = _mm_and_si128(bytes, low_mask);
                    __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_mask);
                    if (symmetric) {
                        low = _mm_sub_epi8(low, eight);
                        high = _mm_sub_epi8(high, eight);
                    }
                    __m256 even0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low));
                    __m256 even1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(low, 8)));
                    __m256 odd0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(high));
                    __m256 odd1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(high, 8)));
                    for (int row = 0; row < R; row++) {
                        __m256 x0 = _mm256_broadcast_ss(job->a + row * job->lda + index);
                        __m256 x1 = _mm256_broadcast_ss(job->a + row * job->lda + index + 1);
                        acc[row][2 * p] = _mm256_fmadd_ps(x1, odd0, _mm256_fmadd_ps(x0, even0, acc[row][2 * p]));
                        acc[row][2 * p + 1] = _mm256_fmadd_ps(x1, odd1, _mm256_fmadd_ps(x0, even1, acc[row][2 * p + 1]));
                    }
                }
            }
            if (index < end) { // odd depth: the low nibbles only
                __m256 even[2 * GROUP];
                for (int p = 0; p < P; p++) {
                    __m128i bytes = _mm_loadu_si128((const __m128i *)(job->weights + p * job->panel_bytes + index / 2 * PANEL));
                    __m128i low = _mm_and_si128(bytes, low_mask);
                    if (symmetric) low = _mm_sub_epi8(low, eight);
                    even[2 * p] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low));
                    even[2 * p + 1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(low, 8)));
                }
                for (int row = 0; row < R; row++) {
                    __m256 x0 = _mm256_broadcast_ss(job->a + row * job->lda + index);
                    for (int v = 0; v < 2 * P; v++) acc[row][v] = _mm256_fmadd_ps(x0, even[v], acc[row][v]);
                }
            }
        }
        for (int row = 0; row < R; row++) {
            for (int v = 0; v < 2 * P; v++) {
                size_t offset = (size_t)(v / 2) * job->panel_scales + b * PANEL + (size_t)(v % 2) * 8;
                __m256 value = acc[row][v];
                if (!symmetric)
                    value = _mm256_fnmadd_ps(_mm256_loadu_ps(job->zero_points + offset),
                                             _mm256_broadcast_ss(job->sums + row * job->blocks + b), value);
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
    int tall = bits == 8 ? MAX_ROWS : 4; // rows of the tallest tile: 4-bit decoding needs more registers
    float *sums = NULL;
    if (packed_zero_points && m > 0 && k > 0) {
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
                int rows = m - row >= tall ? tall : (m - row >= 2 ? 2 : 1);
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
