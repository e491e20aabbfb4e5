// fp32 GEMM on pre-packed right-hand matrices: C[m, n] = A[m, k] · B[k, n] (+ bias).
// B is packed once into panels of 16 columns (k rows of 16 contiguous floats, zero-padded),
// so weights are read sequentially and each 6x16 block of C stays in registers. Every C
// element is reduced over k in the same order whatever the row/column split of the caller,
// so results do not depend on how the work is divided between threads.
#include "aimet_kernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define AIMET_X86 1
#include <immintrin.h>
#endif

enum { PANEL = 16, ROWS = 6, KC = 256 };

size_t aimet_sgemm_packed_count(size_t n, size_t k) {
    return ((n + PANEL - 1) / PANEL) * k * PANEL;
}

void aimet_sgemm_pack_transposed(const float *w, size_t ldw, size_t n, size_t k, float *packed) {
    size_t panels = (n + PANEL - 1) / PANEL;
    for (size_t panel = 0; panel < panels; panel++) {
        float *out = packed + panel * k * PANEL;
        for (size_t column = 0; column < PANEL; column++) {
            size_t row = panel * PANEL + column;
            if (row < n) {
                const float *source = w + row * ldw;
                for (size_t index = 0; index < k; index++) out[index * PANEL + column] = source[index];
            } else {
                for (size_t index = 0; index < k; index++) out[index * PANEL + column] = 0.0f;
            }
        }
    }
}

void aimet_sgemm_pack(const float *b, size_t ldb, size_t k, size_t n, float *packed) {
    size_t panels = (n + PANEL - 1) / PANEL;
    for (size_t panel = 0; panel < panels; panel++) {
        float *out = packed + panel * k * PANEL;
        size_t start = panel * PANEL;
        size_t width = n - start < PANEL ? n - start : PANEL;
        for (size_t index = 0; index < k; index++) {
            memcpy(out + index * PANEL, b + index * ldb + start, width * sizeof(float));
            for (size_t column = width; column < PANEL; column++) out[index * PANEL + column] = 0.0f;
        }
    }
}

// One block of up to ROWS x PANEL outputs over a k-range, portable version.
static void block_portable(size_t rows, size_t columns, size_t kc, const float *a, size_t lda,
                           const float *b, float *c, size_t ldc, int accumulate, const float *bias) {
    for (size_t row = 0; row < rows; row++) {
        for (size_t column = 0; column < columns; column++) {
            float sum = accumulate ? c[row * ldc + column] : (bias ? bias[column] : 0.0f);
            for (size_t index = 0; index < kc; index++) sum += a[row * lda + index] * b[index * PANEL + column];
            c[row * ldc + column] = sum;
        }
    }
}

#if AIMET_X86
__attribute__((always_inline, target("avx2,fma")))
static inline void block_avx2(const int rows, size_t columns, size_t kc, const float *a, size_t lda,
                              const float *b, float *c, size_t ldc, int accumulate, const float *bias) {
    __m256 sum[ROWS][2];
    float staging[ROWS][PANEL];
    int partial = columns < PANEL;
    for (int row = 0; row < rows; row++) {
        if (accumulate) {
            const float *source = c + row * ldc;
            if (partial) {
                memset(staging[row], 0, sizeof(staging[row]));
                memcpy(staging[row], source, columns * sizeof(float));
                source = staging[row];
            }
            sum[row][0] = _mm256_loadu_ps(source);
            sum[row][1] = _mm256_loadu_ps(source + 8);
        } else if (bias) {
            float padded[PANEL] = {0};
            memcpy(padded, bias, columns * sizeof(float));
            sum[row][0] = _mm256_loadu_ps(padded);
            sum[row][1] = _mm256_loadu_ps(padded + 8);
        } else {
            sum[row][0] = _mm256_setzero_ps();
            sum[row][1] = _mm256_setzero_ps();
        }
    }
    for (size_t index = 0; index < kc; index++) {
        __m256 low = _mm256_loadu_ps(b + index * PANEL);
        __m256 high = _mm256_loadu_ps(b + index * PANEL + 8);
        for (int row = 0; row < rows; row++) {
            __m256 value = _mm256_broadcast_ss(a + row * lda + index);
            sum[row][0] = _mm256_fmadd_ps(value, low, sum[row][0]);
            sum[row][1] = _mm256_fmadd_ps(value, high, sum[row][1]);
        }
    }
    for (int row = 0; row < rows; row++) {
        if (partial) {
            _mm256_storeu_ps(staging[row], sum[row][0]);
            _mm256_storeu_ps(staging[row] + 8, sum[row][1]);
            memcpy(c + row * ldc, staging[row], columns * sizeof(float));
        } else {
            _mm256_storeu_ps(c + row * ldc, sum[row][0]);
            _mm256_storeu_ps(c + row * ldc + 8, sum[row][1]);
        }
    }
}

// The full 6x16 block with every accumulator in a named register: 12 FMAs per step of k
// against 2 loads of B and 6 broadcasts of A.
__attribute__((target("avx2,fma")))
static void block_6x16_avx2(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                            int accumulate, const float *bias) {
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (accumulate) {
        c00 = _mm256_loadu_ps(c); c01 = _mm256_loadu_ps(c + 8);
        c10 = _mm256_loadu_ps(c + ldc); c11 = _mm256_loadu_ps(c + ldc + 8);
        c20 = _mm256_loadu_ps(c + 2 * ldc); c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
        c30 = _mm256_loadu_ps(c + 3 * ldc); c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
        c40 = _mm256_loadu_ps(c + 4 * ldc); c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
        c50 = _mm256_loadu_ps(c + 5 * ldc); c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
    } else {
        __m256 low = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        __m256 high = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
        c00 = c10 = c20 = c30 = c40 = c50 = low;
        c01 = c11 = c21 = c31 = c41 = c51 = high;
    }
#define AIMET_STEP(index)                                                                   \
    {                                                                                       \
        __m256 low = _mm256_loadu_ps(b + (index) * PANEL);                                  \
        __m256 high = _mm256_loadu_ps(b + (index) * PANEL + 8);                             \
        const float *slice = a + (index) * ROWS;                                            \
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
    for (; index + 4 <= kc; index += 4) {
        AIMET_STEP(index) AIMET_STEP(index + 1) AIMET_STEP(index + 2) AIMET_STEP(index + 3)
    }
    for (; index < kc; index++) AIMET_STEP(index)
#undef AIMET_STEP
    _mm256_storeu_ps(c, c00); _mm256_storeu_ps(c + 8, c01);
    _mm256_storeu_ps(c + ldc, c10); _mm256_storeu_ps(c + ldc + 8, c11);
    _mm256_storeu_ps(c + 2 * ldc, c20); _mm256_storeu_ps(c + 2 * ldc + 8, c21);
    _mm256_storeu_ps(c + 3 * ldc, c30); _mm256_storeu_ps(c + 3 * ldc + 8, c31);
    _mm256_storeu_ps(c + 4 * ldc, c40); _mm256_storeu_ps(c + 4 * ldc + 8, c41);
    _mm256_storeu_ps(c + 5 * ldc, c50); _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

__attribute__((target("avx2,fma")))
static void block_dispatch_avx2(size_t rows, size_t columns, size_t kc, const float *a, size_t lda,
                                const float *b, float *c, size_t ldc, int accumulate, const float *bias) {
    switch (rows) {
    case 6: block_avx2(6, columns, kc, a, lda, b, c, ldc, accumulate, bias); break;
    case 5: block_avx2(5, columns, kc, a, lda, b, c, ldc, accumulate, bias); break;
    case 4: block_avx2(4, columns, kc, a, lda, b, c, ldc, accumulate, bias); break;
    case 3: block_avx2(3, columns, kc, a, lda, b, c, ldc, accumulate, bias); break;
    case 2: block_avx2(2, columns, kc, a, lda, b, c, ldc, accumulate, bias); break;
    default: block_avx2(1, columns, kc, a, lda, b, c, ldc, accumulate, bias); break;
    }
}
#endif

static void sgemm_packed(int use_simd, size_t m, size_t n, size_t k, const float *a, size_t lda,
                         const float *packed, const float *bias, float *c, size_t ldc) {
    size_t panels = (n + PANEL - 1) / PANEL;
    (void)use_simd;
#if AIMET_X86
    int simd = use_simd;
    size_t full_slabs = m / ROWS;
    float *slabs = NULL;
    if (simd && full_slabs > 0) {
        slabs = malloc(full_slabs * ROWS * (k < KC ? k : KC) * sizeof(float));
        if (slabs == NULL) simd = 0;
    }
#endif
    for (size_t start = 0; start < k || (k == 0 && start == 0); start += KC) {
        size_t kc = k - start < KC ? k - start : KC;
        int accumulate = start > 0;
#if AIMET_X86
        if (simd) {
            // Interleave each full 6-row slab of A: slab[index * 6 + row] = A[row][start + index].
            for (size_t slab = 0; slab < full_slabs; slab++) {
                float *out = slabs + slab * ROWS * kc;
                const float *r0 = a + slab * ROWS * lda + start, *r1 = r0 + lda, *r2 = r1 + lda;
                const float *r3 = r2 + lda, *r4 = r3 + lda, *r5 = r4 + lda;
                for (size_t index = 0; index < kc; index++, out += ROWS) {
                    out[0] = r0[index]; out[1] = r1[index]; out[2] = r2[index];
                    out[3] = r3[index]; out[4] = r4[index]; out[5] = r5[index];
                }
            }
        }
#endif
        for (size_t panel = 0; panel < panels; panel++) {
            size_t column = panel * PANEL;
            size_t columns = n - column < PANEL ? n - column : PANEL;
            const float *b = packed + panel * k * PANEL + start * PANEL;
            const float *panel_bias = bias ? bias + column : NULL;
            for (size_t row = 0; row < m; row += ROWS) {
                size_t rows = m - row < ROWS ? m - row : ROWS;
                const float *a_block = a + row * lda + start;
                float *c_block = c + row * ldc + column;
#if AIMET_X86
                if (simd) {
                    if (rows == ROWS && columns == PANEL) {
                        block_6x16_avx2(kc, slabs + (row / ROWS) * ROWS * kc, b, c_block, ldc, accumulate, panel_bias);
                    } else {
                        block_dispatch_avx2(rows, columns, kc, a_block, lda, b, c_block, ldc, accumulate, panel_bias);
                    }
                    continue;
                }
#endif
                block_portable(rows, columns, kc, a_block, lda, b, c_block, ldc, accumulate, panel_bias);
            }
        }
        if (k == 0) break;
    }
#if AIMET_X86
    free(slabs);
#endif
}

void aimet_sgemm_packed(size_t m, size_t n, size_t k, const float *a, size_t lda,
                        const float *packed, const float *bias, float *c, size_t ldc) {
    sgemm_packed(aimet_kernels_have_avx2(), m, n, k, a, lda, packed, bias, c, ldc);
}

void aimet_sgemm_packed_portable(size_t m, size_t n, size_t k, const float *a, size_t lda,
                                 const float *packed, const float *bias, float *c, size_t ldc) {
    sgemm_packed(0, m, n, k, a, lda, packed, bias, c, ldc);
}
