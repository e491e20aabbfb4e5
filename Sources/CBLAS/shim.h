#ifndef AIMET_SWIFT_CBLAS_SHIM_H
#define AIMET_SWIFT_CBLAS_SHIM_H
#include <cblas.h>

/* OpenBLAS's own threads make small shapes slower; the runtime parallelises itself.
   openblas_set_num_threads re-initialises OpenBLAS's thread state, which races with sgemm
   calls running on other threads, so it is called once per process (per importing module),
   not before every use. */
static inline void aimet_blas_use_single_thread(void) {
#if defined(OPENBLAS_VERSION) || defined(OPENBLAS_CONST)
    static int configured = 0;
    if (__atomic_exchange_n(&configured, 1, __ATOMIC_ACQ_REL) == 0) openblas_set_num_threads(1);
#endif
}
#endif
