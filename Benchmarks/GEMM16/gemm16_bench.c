// One-thread microbenchmark of the W8A16 linear kernel against the packed fp32 GEMM (and the
// fused W8A8 kernel for reference) at MiniLM's linear shapes (m = 32 × 128 tokens).
// Prints, per shape and kernel, the median of `rounds` timings and GFLOP/s-equivalent
// (2·m·n·k / time). Also checks, once per shape, that the AVX2 W8A16 path equals its portable
// twin bit for bit. Build and run with Benchmarks/GEMM16/run.sh.
#include "aimet_quantized_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t state = 0x9E3779B97F4A7C15ull;
static double uniform(void) { // xorshift64*, in [0, 1)
    state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
    return (double)((state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

enum { KERNELS = 3 };
static const char *names[KERNELS] = {"fp32 packed sgemm", "w8a16 (int16 madd)", "w8a8 fused"};

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    const size_t shapes[][3] = {{4096, 384, 384}, {4096, 1536, 384}, {4096, 384, 1536}}; // m, n, k
    printf("avx2: %d, rounds: %d, one thread\n", aimet_kernels_have_avx2(), rounds);
    printf("%-22s %-20s %12s %10s %10s\n", "m x n x k", "kernel", "median ms", "GFLOP/s", "vs fp32");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *x = malloc(m * k * sizeof(float)), *wf = malloc(n * k * sizeof(float));
        float *c = malloc(m * n * sizeof(float)), *c2 = malloc(m * n * sizeof(float));
        float *scales = malloc(n * sizeof(float)), *bias = malloc(n * sizeof(float));
        int8_t *w = malloc(n * k);
        for (size_t i = 0; i < m * k; i++) x[i] = (float)(uniform() * 8.0 - 4.0);
        for (size_t i = 0; i < n * k; i++) w[i] = (int8_t)(uniform() * 254.0 - 127.0), wf[i] = w[i] * 0.01f;
        for (size_t j = 0; j < n; j++) scales[j] = 0.01f, bias[j] = (float)(uniform() - 0.5);
        float *packed_f = malloc(aimet_sgemm_packed_count(n, k) * sizeof(float));
        aimet_sgemm_pack_transposed(wf, k, n, k, packed_f);
        int16_t *packed16 = malloc(aimet_w8a16_packed_count(n, k) * sizeof(int16_t));
        int32_t *sums = malloc(n * sizeof(int32_t));
        int8_t *packed8 = malloc(aimet_w8a8_packed_size(n, k));
        int32_t *sums8 = malloc(n * sizeof(int32_t));
        if (aimet_w8a16_pack(w, k, n, k, packed16, sums) != 0 || aimet_w8a8_pack(w, k, n, k, packed8, sums8) != 0) return 1;
        aimet_input_grid16 grid = {.scale = 8.0f / 65535.0f, .zero_point = 32768, .qmin = 0, .qmax = 65535};
        // AVX2 against portable, bit for bit (on the first 64 rows: the portable loop is slow).
        aimet_w8a16_linear_f32(64, n, k, x, k, &grid, packed16, sums, scales, bias, NULL, c, n);
        aimet_w8a16_linear_f32_portable(64, n, k, x, k, &grid, packed16, sums, scales, bias, NULL, c2, n);
        if (memcmp(c, c2, 64 * n * sizeof(float)) != 0) { printf("MISMATCH avx2 vs portable\n"); return 1; }
        double medians[KERNELS];
        for (int kernel = 0; kernel < KERNELS; kernel++) {
            double times[64];
            for (int round = 0; round < rounds + 1; round++) {
                double start = now();
                switch (kernel) {
                case 0: aimet_sgemm_packed(m, n, k, x, k, packed_f, bias, c, n); break;
                case 1: aimet_w8a16_linear_f32(m, n, k, x, k, &grid, packed16, sums, scales, bias, NULL, c, n); break;
                default: aimet_w8a8_linear_f32(m, n, k, x, k, 8.0f / 255.0f, 128, packed8, sums8, scales, bias, NULL, c, n); break;
                }
                if (round > 0) times[round - 1] = now() - start; // round 0 warms up
            }
            qsort(times, (size_t)rounds, sizeof(double), compare_doubles);
            medians[kernel] = times[rounds / 2];
            char shape[32];
            snprintf(shape, sizeof shape, "%zux%zux%zu", m, n, k);
            printf("%-22s %-20s %12.2f %10.1f %9.2fx\n", shape, names[kernel], 1e3 * medians[kernel],
                   2.0 * (double)m * (double)n * (double)k / medians[kernel] * 1e-9, medians[0] / medians[kernel]);
        }
        free(x), free(wf), free(c), free(c2), free(scales), free(bias), free(w), free(packed_f), free(packed16);
        free(sums), free(packed8), free(sums8);
    }
    return 0;
}
