#ifndef AIMET_SWIFT_CHDF5_SHIM_H
#define AIMET_SWIFT_CHDF5_SHIM_H
#include <hdf5.h>

/* Swift cannot import function-like macros or H5open()-calling globals: expose them. */
static const hid_t aimet_H5P_DEFAULT = H5P_DEFAULT;
static inline hid_t aimet_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }

#endif
