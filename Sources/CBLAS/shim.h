#ifndef AIMET_SWIFT_CBLAS_SHIM_H
#define AIMET_SWIFT_CBLAS_SHIM_H
#include <cblas.h>
#endif
