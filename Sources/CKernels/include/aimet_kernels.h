#ifndef AIMET_SWIFT_KERNELS_H
#define AIMET_SWIFT_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the AVX2+FMA paths are in use on this CPU, 0 when the portable paths are.
int aimet_kernels_have_avx2(void);

/// In place: x = 0.5·x·(1 + erf(x/√2)) (the exact GELU). Absolute error ≤ 2e-7·max(1,|x|).
void aimet_gelu_erf_f32(float *values, size_t count);

/// In place: x = exp(x). Relative error ≤ 2e-7 for |x| < 87; underflows to 0 below.
void aimet_exp_f32(float *values, size_t count);

/// In-place softmax of `scale`·row (scale > 0). When `mask` is not NULL, entries whose mask
/// is 0 get probability 0; a row with every entry masked becomes uniform.
void aimet_softmax_row_f32(float *row, const float *mask, size_t count, float scale);

/// Floats needed to pack a right-hand matrix with `n` columns and depth `k`
/// (panels of 16 columns, zero-padded).
size_t aimet_sgemm_packed_count(size_t n, size_t k);

/// Packs Wᵀ for y = x·Wᵀ, where W is `[n, k]` row-major with row stride `ldw`
/// (a linear layer's weight, or attention keys).
void aimet_sgemm_pack_transposed(const float *w, size_t ldw, size_t n, size_t k, float *packed);

/// Packs B for y = x·B, where B is `[k, n]` row-major with row stride `ldb`.
void aimet_sgemm_pack(const float *b, size_t ldb, size_t k, size_t n, float *packed);

/// C[m, n] = A[m, k]·B + bias (bias may be NULL), with B packed by one of the functions
/// above. `packed` may point at a panel boundary (16-column multiple) to compute a column
/// range; `bias` and `c` must then be offset the same way.
void aimet_sgemm_packed(size_t m, size_t n, size_t k, const float *a, size_t lda,
                        const float *packed, const float *bias, float *c, size_t ldc);

/// A loop body for `aimet_pool_run`: called once per index.
typedef void (*aimet_task_function)(void *context, size_t index);

/// Runs `function(context, index)` for every index in [0, count) on up to `threads` threads
/// (the caller included) and returns when all have finished. A call made while the pool is
/// running another loop (nested parallelism) runs serially on the caller.
void aimet_pool_run(size_t count, int threads, aimet_task_function function, void *context);

/// Worker threads in the pool (cores − 1).
int aimet_pool_workers(void);

/// `aimet_sgemm_packed` through the portable (non-SIMD) path, for tests.
void aimet_sgemm_packed_portable(size_t m, size_t n, size_t k, const float *a, size_t lda,
                                 const float *packed, const float *bias, float *c, size_t ldc);

/// The portable reference implementations the SIMD paths are tested against.
void aimet_gelu_erf_f32_reference(float *values, size_t count);
void aimet_softmax_row_f32_reference(float *row, const float *mask, size_t count, float scale);

#ifdef __cplusplus
}
#endif
#endif
