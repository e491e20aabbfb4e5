// AdaRound's element-wise work: the gradient of the rectified-sigmoid relaxation and of the
// rounding regulariser with respect to V, PyTorch's Adam update, and the soft-rounded weights.
// One fused pass per optimisation step keeps the weight-sized buffers streaming once. AVX2+FMA
// paths use function-level target attributes chosen at run time; portable paths elsewhere.
// Tails shorter than 8 run through the vector path on a padded copy, so every element of a
// buffer gets the same arithmetic whatever its position.
#include "aimet_adaround.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define AIMET_ADAROUND_X86 1
#include <immintrin.h>
#endif

int aimet_adaround_have_avx2(void) {
#if AIMET_ADAROUND_X86
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

// ---- portable ------------------------------------------------------------------------------

static inline float clampf(float value, float low, float high) {
    return value < low ? low : (value > high ? high : value);
}

static inline float gradient_scalar(float weight_gradient, float floor_value, float scale, float low, float high,
                                    float alpha, const aimet_adaround_parameters *p) {
    float sigmoid = 1.0f / (1.0f + expf(-alpha));
    float stretch = p->zeta - p->gamma;
    float raw = sigmoid * stretch + p->gamma;
    float slope = (raw >= 0.0f && raw <= 1.0f) ? stretch * sigmoid * (1.0f - sigmoid) : 0.0f;
    float h = clampf(raw, 0.0f, 1.0f);
    float offset = floor_value + h;
    float total = (offset >= low && offset <= high) ? scale * weight_gradient : 0.0f;
    if (p->regularization > 0.0f) {
        float centred = 2.0f * h - 1.0f;
        float magnitude = fabsf(centred);
        float power = magnitude > 0.0f ? powf(magnitude, p->beta - 1.0f) : 0.0f;
        total -= p->regularization * p->beta * power * (centred < 0.0f ? -2.0f : 2.0f);
    }
    return slope * total;
}

static inline float soft_weight_scalar(float floor_value, float scale, float low, float high, float alpha,
                                       const aimet_adaround_parameters *p) {
    float sigmoid = 1.0f / (1.0f + expf(-alpha));
    float h = clampf(sigmoid * (p->zeta - p->gamma) + p->gamma, 0.0f, 1.0f);
    return scale * clampf(floor_value + h, low, high);
}

void aimet_adaround_gradient_portable(size_t count, const float *weight_gradient, const float *floor_values,
                                      float scale, float low, float high, const float *alpha,
                                      const aimet_adaround_parameters *parameters, float *gradient) {
    for (size_t index = 0; index < count; index++) {
        gradient[index] = gradient_scalar(weight_gradient[index], floor_values[index], scale, low, high, alpha[index], parameters);
    }
}

void aimet_adaround_step_portable(size_t count, const float *weight_gradient, const float *floor_values,
                                  float scale, float low, float high, float *alpha, float *first_moment,
                                  float *second_moment, const aimet_adaround_parameters *p, float *soft_weight) {
    float step = p->learning_rate / p->first_correction;
    float inverse_root = 1.0f / sqrtf(p->second_correction);
    for (size_t index = 0; index < count; index++) {
        float g = gradient_scalar(weight_gradient[index], floor_values[index], scale, low, high, alpha[index], p);
        float m = p->first_decay * first_moment[index] + (1.0f - p->first_decay) * g;
        float v = p->second_decay * second_moment[index] + (1.0f - p->second_decay) * g * g;
        first_moment[index] = m;
        second_moment[index] = v;
        alpha[index] -= step * m / (sqrtf(v) * inverse_root + p->epsilon);
        soft_weight[index] = soft_weight_scalar(floor_values[index], scale, low, high, alpha[index], p);
    }
}

#if AIMET_ADAROUND_X86
// ---- AVX2 ----------------------------------------------------------------------------------

// exp(x): range reduction by ln 2 and a degree-6 polynomial (Cephes constants); inputs are
// clamped to the normal range, so the result is never NaN.
__attribute__((target("avx2,fma")))
static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(exponent));
}

// log(x) for x > 0: mantissa in [√½, √2) and a degree-8 polynomial (Cephes constants).
__attribute__((target("avx2,fma")))
static inline __m256 log8(__m256 x) {
    __m256i bits = _mm256_castps_si256(x);
    __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                   _mm256_set1_epi32(0x3f000000)));
    __m256 small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
    e = _mm256_sub_ps(e, _mm256_and_ps(small, _mm256_set1_ps(1.0f)));
    m = _mm256_add_ps(_mm256_sub_ps(m, _mm256_set1_ps(1.0f)), _mm256_and_ps(small, m));
    __m256 z = _mm256_mul_ps(m, m);
    __m256 y = _mm256_set1_ps(7.0376836292e-2f);
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.1514610310e-1f));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(1.1676998740e-1f));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.2420140846e-1f));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(1.4249322787e-1f));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.6668057665e-1f));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(2.0000714765e-1f));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-2.4999993993e-1f));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(3.3333331174e-1f));
    y = _mm256_mul_ps(_mm256_mul_ps(y, m), z);
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
    y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
    return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(m, y));
}

__attribute__((target("avx2,fma")))
static inline __m256 sigmoid8(__m256 alpha) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), alpha))));
}

__attribute__((target("avx2,fma")))
static inline __m256 clamp8(__m256 value, __m256 low, __m256 high) {
    return _mm256_min_ps(_mm256_max_ps(value, low), high);
}

/// The gradient of one lane group (see gradient_scalar).
__attribute__((target("avx2,fma")))
static inline __m256 gradient8(__m256 weight_gradient, __m256 floor_value, __m256 scale, __m256 low, __m256 high,
                               __m256 alpha, const aimet_adaround_parameters *p) {
    __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 sigmoid = sigmoid8(alpha);
    __m256 stretch = _mm256_set1_ps(p->zeta - p->gamma);
    __m256 raw = _mm256_fmadd_ps(sigmoid, stretch, _mm256_set1_ps(p->gamma));
    __m256 inside = _mm256_and_ps(_mm256_cmp_ps(raw, zero, _CMP_GE_OQ), _mm256_cmp_ps(raw, one, _CMP_LE_OQ));
    __m256 slope = _mm256_and_ps(inside, _mm256_mul_ps(stretch, _mm256_mul_ps(sigmoid, _mm256_sub_ps(one, sigmoid))));
    __m256 h = clamp8(raw, zero, one);
    __m256 offset = _mm256_add_ps(floor_value, h);
    __m256 onGrid = _mm256_and_ps(_mm256_cmp_ps(offset, low, _CMP_GE_OQ), _mm256_cmp_ps(offset, high, _CMP_LE_OQ));
    __m256 total = _mm256_and_ps(onGrid, _mm256_mul_ps(scale, weight_gradient));
    if (p->regularization > 0.0f) {
        __m256 centred = _mm256_fmsub_ps(_mm256_set1_ps(2.0f), h, one);
        __m256 sign = _mm256_and_ps(centred, _mm256_set1_ps(-0.0f));
        __m256 magnitude = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), centred);
        __m256 positive = _mm256_cmp_ps(magnitude, zero, _CMP_GT_OQ);
        __m256 safe = _mm256_max_ps(magnitude, _mm256_set1_ps(1e-30f));
        __m256 power = _mm256_and_ps(positive, exp8(_mm256_mul_ps(_mm256_set1_ps(p->beta - 1.0f), log8(safe))));
        __m256 factor = _mm256_or_ps(sign, _mm256_set1_ps(2.0f * p->regularization * p->beta));
        total = _mm256_fnmadd_ps(factor, power, total);
    }
    return _mm256_mul_ps(slope, total);
}

__attribute__((target("avx2,fma")))
static inline __m256 soft_weight8(__m256 floor_value, __m256 scale, __m256 low, __m256 high, __m256 alpha,
                                  const aimet_adaround_parameters *p) {
    __m256 h = clamp8(_mm256_fmadd_ps(sigmoid8(alpha), _mm256_set1_ps(p->zeta - p->gamma), _mm256_set1_ps(p->gamma)),
                      _mm256_setzero_ps(), _mm256_set1_ps(1.0f));
    return _mm256_mul_ps(scale, clamp8(_mm256_add_ps(floor_value, h), low, high));
}

__attribute__((target("avx2,fma")))
static void gradient_avx2(size_t count, const float *weight_gradient, const float *floor_values, float scale_value,
                          float low_value, float high_value, const float *alpha, const aimet_adaround_parameters *p,
                          float *gradient) {
    __m256 scale = _mm256_set1_ps(scale_value), low = _mm256_set1_ps(low_value), high = _mm256_set1_ps(high_value);
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        _mm256_storeu_ps(gradient + index, gradient8(_mm256_loadu_ps(weight_gradient + index), _mm256_loadu_ps(floor_values + index),
                                                     scale, low, high, _mm256_loadu_ps(alpha + index), p));
    }
    if (index < count) {
        size_t rest = count - index;
        float g[8] = {0}, f[8] = {0}, a[8] = {0}, out[8];
        memcpy(g, weight_gradient + index, rest * sizeof(float));
        memcpy(f, floor_values + index, rest * sizeof(float));
        memcpy(a, alpha + index, rest * sizeof(float));
        _mm256_storeu_ps(out, gradient8(_mm256_loadu_ps(g), _mm256_loadu_ps(f), scale, low, high, _mm256_loadu_ps(a), p));
        memcpy(gradient + index, out, rest * sizeof(float));
    }
}

__attribute__((target("avx2,fma")))
static inline void step8(const float *weight_gradient, const float *floor_values, __m256 scale, __m256 low, __m256 high,
                         float *alpha, float *first_moment, float *second_moment, const aimet_adaround_parameters *p,
                         __m256 step, __m256 inverse_root, float *soft_weight) {
    __m256 a = _mm256_loadu_ps(alpha), floor_value = _mm256_loadu_ps(floor_values);
    __m256 g = gradient8(_mm256_loadu_ps(weight_gradient), floor_value, scale, low, high, a, p);
    __m256 m = _mm256_fmadd_ps(_mm256_set1_ps(p->first_decay), _mm256_loadu_ps(first_moment),
                               _mm256_mul_ps(_mm256_set1_ps(1.0f - p->first_decay), g));
    __m256 v = _mm256_fmadd_ps(_mm256_set1_ps(p->second_decay), _mm256_loadu_ps(second_moment),
                               _mm256_mul_ps(_mm256_set1_ps(1.0f - p->second_decay), _mm256_mul_ps(g, g)));
    _mm256_storeu_ps(first_moment, m);
    _mm256_storeu_ps(second_moment, v);
    __m256 denominator = _mm256_fmadd_ps(_mm256_sqrt_ps(v), inverse_root, _mm256_set1_ps(p->epsilon));
    a = _mm256_sub_ps(a, _mm256_div_ps(_mm256_mul_ps(step, m), denominator));
    _mm256_storeu_ps(alpha, a);
    _mm256_storeu_ps(soft_weight, soft_weight8(floor_value, scale, low, high, a, p));
}

__attribute__((target("avx2,fma")))
static void step_avx2(size_t count, const float *weight_gradient, const float *floor_values, float scale_value,
                      float low_value, float high_value, float *alpha, float *first_moment, float *second_moment,
                      const aimet_adaround_parameters *p, float *soft_weight) {
    __m256 scale = _mm256_set1_ps(scale_value), low = _mm256_set1_ps(low_value), high = _mm256_set1_ps(high_value);
    __m256 step = _mm256_set1_ps(p->learning_rate / p->first_correction);
    __m256 inverse_root = _mm256_set1_ps(1.0f / sqrtf(p->second_correction));
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        step8(weight_gradient + index, floor_values + index, scale, low, high, alpha + index, first_moment + index,
              second_moment + index, p, step, inverse_root, soft_weight + index);
    }
    if (index < count) {
        size_t rest = count - index, bytes = rest * sizeof(float);
        float g[8] = {0}, f[8] = {0}, a[8] = {0}, m[8] = {0}, v[8] = {0}, w[8];
        memcpy(g, weight_gradient + index, bytes);
        memcpy(f, floor_values + index, bytes);
        memcpy(a, alpha + index, bytes);
        memcpy(m, first_moment + index, bytes);
        memcpy(v, second_moment + index, bytes);
        step8(g, f, scale, low, high, a, m, v, p, step, inverse_root, w);
        memcpy(alpha + index, a, bytes);
        memcpy(first_moment + index, m, bytes);
        memcpy(second_moment + index, v, bytes);
        memcpy(soft_weight + index, w, bytes);
    }
}

__attribute__((target("avx2,fma")))
static void soft_weight_avx2(size_t count, const float *floor_values, float scale_value, float low_value, float high_value,
                             const float *alpha, const aimet_adaround_parameters *p, float *soft_weight) {
    __m256 scale = _mm256_set1_ps(scale_value), low = _mm256_set1_ps(low_value), high = _mm256_set1_ps(high_value);
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        _mm256_storeu_ps(soft_weight + index, soft_weight8(_mm256_loadu_ps(floor_values + index), scale, low, high,
                                                           _mm256_loadu_ps(alpha + index), p));
    }
    if (index < count) {
        size_t rest = count - index;
        float f[8] = {0}, a[8] = {0}, out[8];
        memcpy(f, floor_values + index, rest * sizeof(float));
        memcpy(a, alpha + index, rest * sizeof(float));
        _mm256_storeu_ps(out, soft_weight8(_mm256_loadu_ps(f), scale, low, high, _mm256_loadu_ps(a), p));
        memcpy(soft_weight + index, out, rest * sizeof(float));
    }
}
#endif

// ---- dispatch ------------------------------------------------------------------------------

void aimet_adaround_gradient(size_t count, const float *weight_gradient, const float *floor_values,
                             float scale, float low, float high, const float *alpha,
                             const aimet_adaround_parameters *parameters, float *gradient) {
#if AIMET_ADAROUND_X86
    if (aimet_adaround_have_avx2()) {
        gradient_avx2(count, weight_gradient, floor_values, scale, low, high, alpha, parameters, gradient);
        return;
    }
#endif
    aimet_adaround_gradient_portable(count, weight_gradient, floor_values, scale, low, high, alpha, parameters, gradient);
}

void aimet_adaround_step(size_t count, const float *weight_gradient, const float *floor_values,
                         float scale, float low, float high, float *alpha, float *first_moment,
                         float *second_moment, const aimet_adaround_parameters *parameters, float *soft_weight) {
#if AIMET_ADAROUND_X86
    if (aimet_adaround_have_avx2()) {
        step_avx2(count, weight_gradient, floor_values, scale, low, high, alpha, first_moment, second_moment,
                  parameters, soft_weight);
        return;
    }
#endif
    aimet_adaround_step_portable(count, weight_gradient, floor_values, scale, low, high, alpha, first_moment,
                                 second_moment, parameters, soft_weight);
}

void aimet_adaround_soft_weight(size_t count, const float *floor_values, float scale, float low, float high,
                                const float *alpha, const aimet_adaround_parameters *parameters, float *soft_weight) {
#if AIMET_ADAROUND_X86
    if (aimet_adaround_have_avx2()) {
        soft_weight_avx2(count, floor_values, scale, low, high, alpha, parameters, soft_weight);
        return;
    }
#endif
    for (size_t index = 0; index < count; index++) {
        soft_weight[index] = soft_weight_scalar(floor_values[index], scale, low, high, alpha[index], parameters);
    }
}
