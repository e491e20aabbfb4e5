#ifndef AIMET_SWIFT_CBLAS_SHIM_H
#define AIMET_SWIFT_CBLAS_SHIM_H
#include <cblas.h>

/* OpenBLAS's own threads make small shapes slower; the runtime parallelises itself. */
static inline void aimet_blas_use_single_thread(void) {
#if defined(OPENBLAS_VERSION) || defined(OPENBLAS_CONST)
    openblas_set_num_threads(1);
#endif
}
#endif
