// Weight-only int8 / int4 GEMM: c = a·dequant(W)ᵀ + bias with float activations.
//
// Weights are packed in panels of 16 output columns, depth-major, so a panel streams once.
// 8-bit: 16 bytes per depth (asymmetric uint8 stored as q − 128 with the zero point shifted
// alike, so q − z is unchanged). 4-bit: 8 bytes per depth, two little-endian 32-bit words
// (columns 0–7 and 8–15) with column j of a word in bits 4j…4j+3, each holding u = q + 8
// (symmetric) or the unsigned q (asymmetric). Decoding a word is one broadcast, one AND with
// the lane masks 0xF << 4j and one arithmetic shift right by 4j; lane 7 reads its nibble as
// signed, so it is stored as u ^ 8 (= u − 8) and its zero point lowered by 8.
//
// The AVX2 path decodes one panel over one chunk of depths (≤ 256) into integer-valued floats
// once and then streams every row of the call through it, six rows at a time from an
// interleaved copy of the activations (the fp32 GEMM's 6×16 micro-kernel), so the decoding
// cost is shared by all rows instead of being paid again for each.
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
// Decodes depths [start, end) of one panel into integer-valued floats, 16 per depth: the
// values weight_value() gives (8-bit: the stored int8; 4-bit: the nibble, lane 7 signed).
__attribute__((target("avx2,fma")))
static void decode_panel_avx2(int bits, const uint8_t *panel, size_t start, size_t end, float *out) {
    const __m256i masks = _mm256_setr_epi32(0xF, 0xF0, 0xF00, 0xF000, 0xF0000, 0xF00000, 0xF000000, (int32_t)0xF0000000u);
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    for (size_t index = start; index < end; index++) {
        float *target = out + (index - start) * PANEL;
        if (bits == 8) {
            const uint8_t *source = panel + index * PANEL;
            _mm256_storeu_ps(target, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)source))));
            _mm256_storeu_ps(target + 8, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(source + 8)))));
        } else {
            const uint8_t *source = panel + index * (PANEL / 2);
            for (int half = 0; half < 2; half++) {
                int32_t word;
                memcpy(&word, source + 4 * half, 4);
                // Lanes 0–6 shift down to 0…15; lane 7 keeps its sign (arithmetic shift).
                __m256i nibbles = _mm256_srav_epi32(_mm256_and_si256(_mm256_set1_epi32(word), masks), shifts);
                _mm256_storeu_ps(target + 8 * half, _mm256_cvtepi32_ps(nibbles));
            }
        }
    }
}

// Σ a·w over `count` depths for one interleaved 6-row slab (x[index·6 + r]) and 16 decoded
// columns, every accumulator in a named register (the fp32 GEMM's micro-kernel shape).
__attribute__((target("avx2,fma")))
static void slab_6x16(size_t count, const float *x, const float *w, __m256 acc[MAX_ROWS][2]) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#define AIMET_STEP(index)                                                                   \
    {                                                                                       \
        __m256 low = _mm256_loadu_ps(w + (index) * PANEL);                                  \
        __m256 high = _mm256_loadu_ps(w + (index) * PANEL + 8);                             \
        const float *slice = x + (index) * MAX_ROWS;                                        \
        __m256 value = _mm256_broadcast_ss(slice);                                          \
        c00 = _mm256_fmadd_ps(value, low, c00); c01 = _mm256_fmadd_ps(value, high, c01);    \
        value = _mm256_broadcast_ss(slice + 1);                                             \
        c10 = _mm256_fmadd_ps(value, low, c10); c11 = _mm256_fmadd_ps(value, high, c11);    \
        value = _mm256_broadcast_ss(slice + 2);                                             \
        c20 = _mm256_fmadd_ps(value, low, c20); c21 = _mm256_fmadd_ps(value, high, c21);    \
        value = _mm256_broadcast_ss(slice + 3);                                             \
        c30 = _mm256_fmadd_ps(value, low, c30); c31 = _mm256_fmadd_ps(value, high, c31);    \
        value = _mm256_broadcast_ss(slice + 4);                                             \
        c40 = _mm256_fmadd_ps(value, low, c40); c41 = _mm256_fmadd_ps(value, high, c41);    \
        value = _mm256_broadcast_ss(slice + 5);                                             \
        c50 = _mm256_fmadd_ps(value, low, c50); c51 = _mm256_fmadd_ps(value, high, c51);    \
    }
    size_t index = 0;
    for (; index + 4 <= count; index += 4) {
        AIMET_STEP(index) AIMET_STEP(index + 1) AIMET_STEP(index + 2) AIMET_STEP(index + 3)
    }
    for (; index < count; index++) AIMET_STEP(index)
#undef AIMET_STEP
    acc[0][0] = c00; acc[0][1] = c01; acc[1][0] = c10; acc[1][1] = c11; acc[2][0] = c20; acc[2][1] = c21;
    acc[3][0] = c30; acc[3][1] = c31; acc[4][0] = c40; acc[4][1] = c41; acc[5][0] = c50; acc[5][1] = c51;
}

// R rows × 16 columns over blocks [first_block, end_block) of one decoded panel: per block,
// acc = Σ a·w (fma, depth order), then acc −= zero·Σa (fnmadd) and c = fma(scale, acc, c),
// the order of tile_portable.
__attribute__((always_inline, target("avx2,fma")))
// Row r's activation at depth decoded_start + i is x[r·row_stride + i·depth_stride].
static inline void rows_avx2(const tile_job *job, const int R, const float *decoded, size_t decoded_start,
                             const float *x, size_t row_stride, size_t depth_stride) {
    float *c = job->c;
    float out[MAX_ROWS][PANEL]; // in memory: the accumulators take the registers
    const int full = job->columns == PANEL;
    for (int row = 0; row < R; row++) {
        const float *source = job->first ? job->bias : c + row * job->ldc;
        if (full && source) {
            memcpy(out[row], source, sizeof(out[row]));
        } else {
            memset(out[row], 0, sizeof(out[row]));
            if (source) memcpy(out[row], source, job->columns * sizeof(float));
        }
    }
    for (size_t b = job->first_block; b < job->end_block; b++) {
        size_t start = b * job->block_size, end = start + job->block_size < job->k ? start + job->block_size : job->k;
        __m256 acc[MAX_ROWS][2];
        for (int row = 0; row < R; row++) acc[row][0] = acc[row][1] = _mm256_setzero_ps();
        const float *w = decoded + (start - decoded_start) * PANEL;
        const float *a = x + (start - decoded_start) * depth_stride;
        if (R == MAX_ROWS && depth_stride == MAX_ROWS) slab_6x16(end - start, a, w, acc);
        else for (size_t index = 0; index < end - start; index++) {
            __m256 w0 = _mm256_loadu_ps(w + index * PANEL), w1 = _mm256_loadu_ps(w + index * PANEL + 8);
            for (int row = 0; row < R; row++) {
                __m256 x = _mm256_broadcast_ss(a + row * row_stride + index * depth_stride);
                acc[row][0] = _mm256_fmadd_ps(x, w0, acc[row][0]);
                acc[row][1] = _mm256_fmadd_ps(x, w1, acc[row][1]);
            }
        }
        const float *scales = job->scales + b * PANEL;
        const float *zeros = job->zero_points ? job->zero_points + b * PANEL : NULL;
        for (int row = 0; row < R; row++) {
            for (int half = 0; half < 2; half++) {
                __m256 value = acc[row][half];
                if (zeros)
                    value = _mm256_fnmadd_ps(_mm256_loadu_ps(zeros + 8 * half),
                                             _mm256_broadcast_ss(job->sums + row * job->blocks + b), value);
                float *target = out[row] + 8 * half;
                _mm256_storeu_ps(target, _mm256_fmadd_ps(_mm256_loadu_ps(scales + 8 * half), value, _mm256_loadu_ps(target)));
            }
        }
    }
    for (int row = 0; row < R; row++) {
        if (full) memcpy(c + row * job->ldc, out[row], sizeof(out[row]));
        else memcpy(c + row * job->ldc, out[row], job->columns * sizeof(float));
    }
}

#define AIMET_ROWS(R)                                                                                      \
    __attribute__((target("avx2,fma"))) static void rows_##R(const tile_job *job, const float *decoded,    \
                                                             size_t decoded_start, const float *x,        \
                                                             size_t row_stride, size_t depth_stride) {    \
        rows_avx2(job, R, decoded, decoded_start, x, row_stride, depth_stride);                            \
    }
AIMET_ROWS(6) AIMET_ROWS(5) AIMET_ROWS(4) AIMET_ROWS(3) AIMET_ROWS(2) AIMET_ROWS(1)
#undef AIMET_ROWS

// Interleaves the full 6-row groups of a over depths [start, end): slab g holds
// slab[(index − start)·6 + r] = a[(6g + r)·lda + index], so the micro-kernel reads one stream.
static void interleave_rows(size_t m, const float *a, size_t lda, size_t start, size_t end, float *slabs) {
    size_t depth = end - start;
    for (size_t group = 0; group < m / MAX_ROWS; group++) {
        float *out = slabs + group * MAX_ROWS * depth;
        for (int r = 0; r < MAX_ROWS; r++) {
            const float *source = a + (group * MAX_ROWS + (size_t)r) * lda + start;
            for (size_t index = 0; index < depth; index++) out[index * MAX_ROWS + (size_t)r] = source[index];
        }
    }
}

// One panel over one chunk of blocks for all m rows: decode the panel once, then run the
// rows through it six at a time (from the interleaved slabs), the last few straight from a.
static void panel_avx2(tile_job *job, size_t m, const float *a, const float *slabs, const float *sums, float *c,
                       float *decoded) {
    size_t start = job->first_block * job->block_size;
    size_t end = job->end_block * job->block_size < job->k ? job->end_block * job->block_size : job->k;
    decode_panel_avx2(job->bits, job->weights, start, end, decoded);
    for (size_t row = 0; row < m;) {
        size_t left = m - row;
        int take = left >= MAX_ROWS ? MAX_ROWS : (int)left;
        job->sums = sums ? sums + row * job->blocks : NULL;
        job->c = c + row * job->ldc;
        const float *x = a + row * job->lda + start;
        switch (take) {
        case 6: rows_6(job, decoded, start, slabs + row * (end - start), 1, MAX_ROWS); break;
        case 5: rows_5(job, decoded, start, x, job->lda, 1); break;
        case 4: rows_4(job, decoded, start, x, job->lda, 1); break;
        case 3: rows_3(job, decoded, start, x, job->lda, 1); break;
        case 2: rows_2(job, decoded, start, x, job->lda, 1); break;
        default: rows_1(job, decoded, start, x, job->lda, 1); break;
        }
        row += (size_t)take;
    }
}
#endif

static void wo_gemm(int simd, int bits, size_t m, size_t n, size_t k, size_t block, const float *a, size_t lda,
                    const uint8_t *packed, const float *packed_scales, const float *packed_zero_points,
                    const float *bias, float *c, size_t ldc) {
    size_t size = internal_block(block), blocks = block_count(k, block);
    size_t blocks_per_chunk = size >= DEPTH_CHUNK ? 1 : DEPTH_CHUNK / size;
    size_t panels = (n + PANEL - 1) / PANEL;
    int tall = 4; // rows of the portable path's tallest tile
    float *sums = NULL;
    if ((packed_zero_points || bits == 4) && m > 0 && k > 0) {
        sums = block_sums(m, k, block, a, lda);
        if (sums == NULL) abort();
    }
    float *decoded = NULL, *slabs = NULL;
    if (simd) {
        size_t depth = blocks_per_chunk * size < k ? blocks_per_chunk * size : k;
        decoded = malloc(depth * PANEL * sizeof(float) + 64);
        slabs = malloc((m / MAX_ROWS) * MAX_ROWS * depth * sizeof(float) + 64);
        if (decoded == NULL || slabs == NULL) abort();
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
#if AIMET_X86
        if (simd) {
            size_t start = chunk_start * size, end = chunk_end * size < k ? chunk_end * size : k;
            interleave_rows(m, a, lda, start, end, slabs);
            for (size_t panel = 0; panel < panels; panel++) {
                size_t first_column = panel * PANEL;
                job.weights = packed + panel * job.panel_bytes;
                job.scales = packed_scales + panel * job.panel_scales;
                job.zero_points = packed_zero_points ? packed_zero_points + panel * job.panel_scales : NULL;
                job.bias = bias ? bias + first_column : NULL;
                job.columns = n - first_column < PANEL ? n - first_column : PANEL;
                panel_avx2(&job, m, a, slabs, sums, c + first_column, decoded);
            }
            chunk_start = chunk_end;
            continue;
        }
#endif
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
                    tile_portable(&job, rows, together);
                }
                row += (size_t)rows;
            }
        }
        chunk_start = chunk_end;
    } while (chunk_start < blocks);
    free(sums);
    free(decoded);
    free(slabs);
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
