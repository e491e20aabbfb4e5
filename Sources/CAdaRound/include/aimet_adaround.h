#ifndef AIMET_SWIFT_ADAROUND_H
#define AIMET_SWIFT_ADAROUND_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The constants of one AdaRound optimisation step (Nagel et al. 2020; PyTorch's Adam).
typedef struct {
    /// Stretch of the rectified sigmoid: h(V) = clamp(sigmoid(V)·(zeta − gamma) + gamma, 0, 1).
    float zeta;
    float gamma;
    /// λ of the rounding regulariser λ·Σ(1 − |2h − 1|^β); 0 switches it off (warm start).
    float regularization;
    /// β of the regulariser (annealed by the caller).
    float beta;
    /// Adam: step size, moment decays, ε, and the bias corrections 1 − decay^t.
    float learning_rate;
    float first_decay;
    float second_decay;
    float epsilon;
    float first_correction;
    float second_correction;
} aimet_adaround_parameters;

/// dL/dV for `count` weights sharing one grid (`scale`, integer offsets clamped to
/// [`low`, `high`]): `weight_gradient` is ∂L_reconstruction/∂W̃, `floor_values` is floor(W/scale).
/// Writes the gradient of reconstruction plus regulariser into `gradient`.
void aimet_adaround_gradient(size_t count, const float *weight_gradient, const float *floor_values,
                             float scale, float low, float high, const float *alpha,
                             const aimet_adaround_parameters *parameters, float *gradient);

/// One fused Adam step on `alpha` (V) for `count` weights sharing one grid, updating the two
/// moment buffers in place, then writing the soft-rounded weights W̃ = scale·clamp(floor + h(V), low, high)
/// of the updated V into `soft_weight`.
void aimet_adaround_step(size_t count, const float *weight_gradient, const float *floor_values,
                         float scale, float low, float high, float *alpha, float *first_moment,
                         float *second_moment, const aimet_adaround_parameters *parameters,
                         float *soft_weight);

/// W̃ = scale·clamp(floor + h(V), low, high) for `count` weights (soft rounding).
void aimet_adaround_soft_weight(size_t count, const float *floor_values, float scale, float low, float high,
                                const float *alpha, const aimet_adaround_parameters *parameters, float *soft_weight);

/// 1 when the AVX2+FMA paths are in use, 0 when the portable ones are.
int aimet_adaround_have_avx2(void);

/// The portable paths of the functions above, for tests.
void aimet_adaround_gradient_portable(size_t count, const float *weight_gradient, const float *floor_values,
                                      float scale, float low, float high, const float *alpha,
                                      const aimet_adaround_parameters *parameters, float *gradient);
void aimet_adaround_step_portable(size_t count, const float *weight_gradient, const float *floor_values,
                                  float scale, float low, float high, float *alpha, float *first_moment,
                                  float *second_moment, const aimet_adaround_parameters *parameters,
                                  float *soft_weight);

#ifdef __cplusplus
}
#endif
#endif
