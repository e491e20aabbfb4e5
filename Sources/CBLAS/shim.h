#ifndef AIMET_SWIFT_CBLAS_SHIM_H
#define AIMET_SWIFT_CBLAS_SHIM_H
#include <cblas.h>
#include <pthread.h>

/* OpenBLAS's own threads make small shapes slower; the runtime parallelises itself.
   openblas_set_num_threads re-initialises OpenBLAS's thread state, which races with sgemm
   calls running on other threads, so it runs once per process (per importing module), and
   every caller waits until it has finished (pthread_once), so no sgemm starts before it. */
#if defined(OPENBLAS_VERSION) || defined(OPENBLAS_CONST)
static void aimet_blas_configure_single_thread(void) { openblas_set_num_threads(1); }
#endif

static inline void aimet_blas_use_single_thread(void) {
#if defined(OPENBLAS_VERSION) || defined(OPENBLAS_CONST)
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, aimet_blas_configure_single_thread);
#endif
}
#endif
