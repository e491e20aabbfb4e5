// fp32 element-wise kernels: exp, exact GELU, masked softmax. AVX2+FMA paths compiled with
// function-level target attributes and chosen at run time; portable paths everywhere else.
#include "aimet_kernels.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#define AIMET_X86 1
#include <immintrin.h>
#endif

int aimet_kernels_have_avx2(void) {
#if AIMET_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

// ---- portable references -------------------------------------------------------------

void aimet_gelu_erf_f32_reference(float *values, size_t count) {
    for (size_t index = 0; index < count; index++) {
        float x = values[index];
        values[index] = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    }
}

void aimet_softmax_row_f32_reference(float *row, const float *mask, size_t count, float scale) {
    float maximum = -INFINITY;
    for (size_t index = 0; index < count; index++) {
        if (mask == NULL || mask[index] != 0.0f) maximum = fmaxf(maximum, row[index]);
    }
    if (maximum == -INFINITY) {
        for (size_t index = 0; index < count; index++) row[index] = 1.0f / (float)count;
        return;
    }
    float sum = 0.0f;
    for (size_t index = 0; index < count; index++) {
        if (mask != NULL && mask[index] == 0.0f) {
            row[index] = 0.0f;
        } else {
            row[index] = expf((row[index] - maximum) * scale);
            sum += row[index];
        }
    }
    float inverse = 1.0f / sum;
    for (size_t index = 0; index < count; index++) row[index] *= inverse;
}

#if AIMET_X86
// ---- AVX2 ------------------------------------------------------------------------------

// exp(x) by range reduction to [-ln2/2, ln2/2] and a degree-6 polynomial (Cephes constants).
__attribute__((target("avx2,fma")))
static inline __m256 exp_avx2(__m256 x) {
    const __m256 high = _mm256_set1_ps(88.3762626647949f);
    const __m256 low = _mm256_set1_ps(-88.3762626647949f);
    x = _mm256_max_ps(_mm256_min_ps(x, high), low);
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    __m256 square = _mm256_mul_ps(x, x);
    y = _mm256_fmadd_ps(y, square, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    // 2^fx through the exponent bits; fx ∈ [-127, 128].
    __m256i exponent = _mm256_cvtps_epi32(fx);
    exponent = _mm256_add_epi32(exponent, _mm256_set1_epi32(127));
    // Clamp so an exponent of -127 gives 0 rather than wrapping.
    exponent = _mm256_max_epi32(exponent, _mm256_setzero_si256());
    __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(exponent, 23));
    return _mm256_mul_ps(y, scale);
}

// erf(x) by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7) with the vector exp.
__attribute__((target("avx2,fma")))
static inline __m256 erf_avx2(__m256 x) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 sign = _mm256_and_ps(x, sign_mask);
    __m256 magnitude = _mm256_andnot_ps(sign_mask, x);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), magnitude, _mm256_set1_ps(1.0f)));
    __m256 poly = _mm256_set1_ps(1.061405429f);
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-1.453152027f));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
    poly = _mm256_mul_ps(poly, t);
    __m256 gaussian = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(magnitude, magnitude)));
    __m256 result = _mm256_fnmadd_ps(poly, gaussian, _mm256_set1_ps(1.0f));
    return _mm256_or_ps(result, sign);
}

__attribute__((target("avx2,fma")))
static void gelu_avx2(float *values, size_t count) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 inverse_root_two = _mm256_set1_ps(0.70710678118654752f);
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        __m256 x = _mm256_loadu_ps(values + index);
        __m256 e = erf_avx2(_mm256_mul_ps(x, inverse_root_two));
        _mm256_storeu_ps(values + index, _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, e)));
    }
    if (index < count) aimet_gelu_erf_f32_reference(values + index, count - index);
}

__attribute__((target("avx2,fma")))
static void exp_array_avx2(float *values, size_t count) {
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        _mm256_storeu_ps(values + index, exp_avx2(_mm256_loadu_ps(values + index)));
    }
    for (; index < count; index++) values[index] = expf(values[index]);
}

__attribute__((target("avx2,fma")))
static void softmax_avx2(float *row, const float *mask, size_t count, float scale) {
    float maximum = -INFINITY;
    for (size_t index = 0; index < count; index++) {
        if (mask == NULL || mask[index] != 0.0f) maximum = row[index] > maximum ? row[index] : maximum;
    }
    if (maximum == -INFINITY) {
        for (size_t index = 0; index < count; index++) row[index] = 1.0f / (float)count;
        return;
    }
    const __m256 shift = _mm256_set1_ps(maximum);
    const __m256 factor = _mm256_set1_ps(scale);
    __m256 total = _mm256_setzero_ps();
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        __m256 value = exp_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + index), shift), factor));
        if (mask != NULL) {
            __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(mask + index), _mm256_setzero_ps(), _CMP_NEQ_OQ);
            value = _mm256_and_ps(value, keep);
        }
        total = _mm256_add_ps(total, value);
        _mm256_storeu_ps(row + index, value);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, total);
    float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; index < count; index++) {
        if (mask != NULL && mask[index] == 0.0f) {
            row[index] = 0.0f;
        } else {
            row[index] = expf((row[index] - maximum) * scale);
            sum += row[index];
        }
    }
    const __m256 inverse = _mm256_set1_ps(1.0f / sum);
    index = 0;
    for (; index + 8 <= count; index += 8) {
        _mm256_storeu_ps(row + index, _mm256_mul_ps(_mm256_loadu_ps(row + index), inverse));
    }
    for (; index < count; index++) row[index] *= 1.0f / sum;
}
#endif

// ---- dispatch ----------------------------------------------------------------------------

void aimet_gelu_erf_f32(float *values, size_t count) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) { gelu_avx2(values, count); return; }
#endif
    aimet_gelu_erf_f32_reference(values, count);
}

void aimet_exp_f32(float *values, size_t count) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) { exp_array_avx2(values, count); return; }
#endif
    for (size_t index = 0; index < count; index++) values[index] = expf(values[index]);
}

void aimet_softmax_row_f32(float *row, const float *mask, size_t count, float scale) {
#if AIMET_X86
    if (aimet_kernels_have_avx2()) { softmax_avx2(row, mask, count, scale); return; }
#endif
    aimet_softmax_row_f32_reference(row, mask, count, scale);
}
