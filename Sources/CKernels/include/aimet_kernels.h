#ifndef AIMET_SWIFT_KERNELS_H
#define AIMET_SWIFT_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the AVX2+FMA paths are in use on this CPU, 0 when the portable paths are.
int aimet_kernels_have_avx2(void);

/// Forces the portable (non-SIMD) paths when `enabled` is 0; for tests and benchmarks.
void aimet_kernels_set_simd(int enabled);

/// In place: x = 0.5·x·(1 + erf(x/√2)) (the exact GELU). Absolute error ≤ 2e-7·max(1,|x|).
void aimet_gelu_erf_f32(float *values, size_t count);

/// In place: x = exp(x). Relative error ≤ 2e-7 for |x| < 87; underflows to 0 below.
void aimet_exp_f32(float *values, size_t count);

/// In-place softmax of one row. When `mask` is not NULL, entries whose mask is 0 get
/// probability 0; a row with every entry masked becomes uniform.
void aimet_softmax_row_f32(float *row, const float *mask, size_t count);

/// The portable reference implementations the SIMD paths are tested against.
void aimet_gelu_erf_f32_reference(float *values, size_t count);
void aimet_softmax_row_f32_reference(float *row, const float *mask, size_t count);

#ifdef __cplusplus
}
#endif
#endif
