#ifndef AIMET_SWIFT_CHDF5_SHIM_H
#define AIMET_SWIFT_CHDF5_SHIM_H
#include <hdf5.h>
#include <string.h>

/*
 * Swift cannot import function-like macros or the globals that call H5open() first
 * (H5T_NATIVE_*, H5T_STD_*, H5P_* class ids, H5F_ACC_*). This header exposes them as
 * constants and static inline functions, and hides the calls whose signatures changed
 * in HDF5 1.12 (H5Oget_info, H5Ovisit, vlen reclaim) behind one stable interface.
 */

/* ---- plain constants ---- */
static const hid_t aimet_H5P_DEFAULT = H5P_DEFAULT;
static const hid_t aimet_H5S_ALL = H5S_ALL;
static const hid_t aimet_H5E_DEFAULT = H5E_DEFAULT;
static inline size_t aimet_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static const unsigned aimet_H5P_CRT_ORDER_TRACKED_INDEXED = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;

/* ---- file access flags ---- */
static inline unsigned aimet_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned aimet_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned aimet_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }

/* ---- property list classes ---- */
static inline hid_t aimet_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t aimet_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t aimet_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t aimet_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }

/* ---- predefined datatypes ---- */
static inline hid_t aimet_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t aimet_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t aimet_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t aimet_H5T_STD_I8LE(void) { return H5T_STD_I8LE; }
static inline hid_t aimet_H5T_STD_I16LE(void) { return H5T_STD_I16LE; }
static inline hid_t aimet_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t aimet_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t aimet_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t aimet_H5T_C_S1(void) { return H5T_C_S1; }

/* ---- version-independent object queries ---- */

/* Object types reported by aimet_visit and aimet_object_type (mirror H5O_type_t). */
enum {
    AIMET_OBJECT_GROUP = 0,
    AIMET_OBJECT_DATASET = 1,
    AIMET_OBJECT_OTHER = 2
};

static inline int aimet_convert_object_type(H5O_type_t type) {
    switch (type) {
    case H5O_TYPE_GROUP: return AIMET_OBJECT_GROUP;
    case H5O_TYPE_DATASET: return AIMET_OBJECT_DATASET;
    default: return AIMET_OBJECT_OTHER;
    }
}

/* Number of attributes attached to the object `object`; -1 on failure. */
static inline long long aimet_attribute_count(hid_t object) {
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info3(object, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
#elif H5_VERSION_GE(1, 10, 3)
    H5O_info_t info;
    if (H5Oget_info2(object, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
#else
    H5O_info_t info;
    if (H5Oget_info(object, &info) < 0) return -1;
#endif
    return (long long)info.num_attrs;
}

/* Type (AIMET_OBJECT_*) of the object at `name` relative to `location`; -1 when absent. */
static inline int aimet_object_type(hid_t location, const char *name) {
    if (H5Lexists(location, name, H5P_DEFAULT) <= 0) return -1;
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info_by_name3(location, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#elif H5_VERSION_GE(1, 10, 3)
    H5O_info_t info;
    if (H5Oget_info_by_name2(location, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#else
    H5O_info_t info;
    if (H5Oget_info_by_name(location, name, &info, H5P_DEFAULT) < 0) return -1;
#endif
    return aimet_convert_object_type(info.type);
}

/* Called once per object reachable from the start of a visit (each object once, even when
 * hard-linked twice). `name` is relative to the start ("." for the start itself).
 * Return 0 to continue, a positive value to stop, a negative value to fail. */
typedef int (*aimet_visit_callback)(const char *name, int object_type, void *context);

struct aimet_visit_state {
    aimet_visit_callback callback;
    void *context;
};

#if H5_VERSION_GE(1, 12, 0)
static inline herr_t aimet_visit_trampoline(hid_t object, const char *name, const H5O_info2_t *info, void *data) {
#else
static inline herr_t aimet_visit_trampoline(hid_t object, const char *name, const H5O_info_t *info, void *data) {
#endif
    (void)object;
    struct aimet_visit_state *state = (struct aimet_visit_state *)data;
    return (herr_t)state->callback(name, aimet_convert_object_type(info->type), state->context);
}

/* Recursively visits every object below `object`, in creation order when
 * `by_creation_order` is non-zero (fails when a group does not index it), else in
 * name order. */
static inline herr_t aimet_visit(hid_t object, int by_creation_order, aimet_visit_callback callback, void *context) {
    struct aimet_visit_state state;
    state.callback = callback;
    state.context = context;
    H5_index_t index = by_creation_order ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
#if H5_VERSION_GE(1, 12, 0)
    return H5Ovisit3(object, index, H5_ITER_INC, aimet_visit_trampoline, &state, H5O_INFO_BASIC);
#elif H5_VERSION_GE(1, 10, 3)
    return H5Ovisit2(object, index, H5_ITER_INC, aimet_visit_trampoline, &state, H5O_INFO_BASIC);
#else
    return H5Ovisit(object, index, H5_ITER_INC, aimet_visit_trampoline, &state);
#endif
}

/* End of allocated space the superblock records (the file size the file needs); returns
 * a negative value when the library cannot tell. */
static inline herr_t aimet_end_of_allocation(hid_t file, unsigned long long *end) {
#if H5_VERSION_GE(1, 10, 2)
    haddr_t address = 0;
    herr_t status = H5Fget_eoa(file, &address);
    *end = (unsigned long long)address;
    return status;
#else
    (void)file;
    *end = 0;
    return -1;
#endif
}

/* Frees the strings H5Aread allocated for variable-length string elements. */
static inline herr_t aimet_reclaim(hid_t type, hid_t space, void *buffer) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buffer);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
#endif
}

/* ---- errors ---- */

/* Stops HDF5 from printing its error stack to stderr (errors are reported as values). */
static inline void aimet_silence_errors(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

struct aimet_error_text {
    char *buffer;
    size_t capacity;
    size_t length;
};

static inline herr_t aimet_error_walker(unsigned index, const H5E_error2_t *error, void *data) {
    (void)index;
    struct aimet_error_text *text = (struct aimet_error_text *)data;
    const char *description = error->desc ? error->desc : "";
    size_t needed = strlen(description);
    if (text->length > 0 && text->length + 2 < text->capacity) {
        memcpy(text->buffer + text->length, "; ", 2);
        text->length += 2;
    }
    if (text->length + 1 >= text->capacity) return 1;
    size_t room = text->capacity - text->length - 1;
    size_t copied = needed < room ? needed : room;
    memcpy(text->buffer + text->length, description, copied);
    text->length += copied;
    text->buffer[text->length] = '\0';
    return 0;
}

/* Writes the descriptions on the current thread's error stack (innermost first, "; "
 * between them) into `buffer` (NUL-terminated, truncated to `capacity`), then clears
 * the stack. Returns the number of bytes written. */
static inline size_t aimet_error_description(char *buffer, size_t capacity) {
    struct aimet_error_text text;
    text.buffer = buffer;
    text.capacity = capacity;
    text.length = 0;
    if (capacity == 0) return 0;
    buffer[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, aimet_error_walker, &text);
    H5Eclear2(H5E_DEFAULT);
    return text.length;
}

#endif
