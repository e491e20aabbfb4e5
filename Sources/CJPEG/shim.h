#ifndef AIMET_SWIFT_CJPEG_SHIM_H
#define AIMET_SWIFT_CJPEG_SHIM_H
#include <stdio.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

/*
 * Decodes a whole JPEG held in memory to 8-bit interleaved samples. libjpeg's default
 * error_exit calls exit(); here it records the message and longjmps back into
 * aimet_jpeg_decode, the only frame between the setjmp and the longjmp (no Swift frame is
 * jumped over). libjpeg only warns about a truncated file or damaged entropy-coded data
 * (and fills the rest with grey); those warnings are errors here too, so a damaged file
 * is a status code, never a silently wrong image, a crash or an exit.
 */

/* Status codes of aimet_jpeg_decode. */
enum {
    AIMET_JPEG_OK = 0,
    AIMET_JPEG_NOT_JPEG = 1,      /* the data does not start with a JPEG SOI marker */
    AIMET_JPEG_TRUNCATED = 2,     /* the data ends before the image does */
    AIMET_JPEG_CORRUPT = 3,       /* libjpeg rejected the data (message says why) */
    AIMET_JPEG_TOO_LARGE = 4,     /* decoded size beyond AIMET_JPEG_MAX_BYTES */
    AIMET_JPEG_OUT_OF_MEMORY = 5,
    AIMET_JPEG_UNSUPPORTED = 6    /* colour space other than grey, YCbCr or RGB (e.g. CMYK) */
};

/* Largest decoded size in bytes. */
#define AIMET_JPEG_MAX_BYTES ((size_t)1 << 30)

/* The decoded image: `pixels` (malloc'd, free with aimet_jpeg_free) holds height rows of
 * width * channels bytes; channels is 1 (grey) or 3 (RGB). */
struct aimet_jpeg_image {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    unsigned char *pixels;
};

struct aimet_jpeg_error_manager {
    struct jpeg_error_mgr base; /* first, so a j_common_ptr's err can be cast back */
    jmp_buf jump;
    int truncated;
    char *message;
    size_t message_capacity;
};

static inline void aimet_jpeg_record(j_common_ptr info) {
    struct aimet_jpeg_error_manager *manager = (struct aimet_jpeg_error_manager *)info->err;
    char text[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, text);
    if (manager->message_capacity == 0) return;
    size_t length = strlen(text);
    if (length >= manager->message_capacity) length = manager->message_capacity - 1;
    memcpy(manager->message, text, length);
    manager->message[length] = '\0';
}

static inline void aimet_jpeg_error_exit(j_common_ptr info) {
    struct aimet_jpeg_error_manager *manager = (struct aimet_jpeg_error_manager *)info->err;
    aimet_jpeg_record(info);
    longjmp(manager->jump, 1);
}

/* Warnings (level -1) about missing or damaged data abort the decode; trace messages and
 * harmless warnings (extraneous bytes, unknown JFIF revision) are ignored. */
static inline void aimet_jpeg_emit_message(j_common_ptr info, int level) {
    if (level != -1) return;
    struct aimet_jpeg_error_manager *manager = (struct aimet_jpeg_error_manager *)info->err;
    int code = info->err->msg_code;
    if (code == JWRN_JPEG_EOF) {
        manager->truncated = 1;
        aimet_jpeg_error_exit(info);
    }
    if (code == JWRN_HUFF_BAD_CODE || code == JWRN_ARITH_BAD_CODE || code == JWRN_HIT_MARKER ||
        code == JWRN_MUST_RESYNC || code == JWRN_BOGUS_PROGRESSION || code == JWRN_NOT_SEQUENTIAL) {
        aimet_jpeg_error_exit(info);
    }
}

static inline void aimet_jpeg_output_message(j_common_ptr info) { (void)info; }

static inline void aimet_jpeg_free(unsigned char *pixels) { free(pixels); }

/* Everything that must survive the longjmp (the decompressor and the pixel buffer). */
struct aimet_jpeg_state {
    struct jpeg_decompress_struct decompressor;
    struct aimet_jpeg_error_manager errors;
    unsigned char *pixels;
};

static inline int aimet_jpeg_decode_into(struct aimet_jpeg_state *state, const unsigned char *data, size_t size,
                                         struct aimet_jpeg_image *image) {
    struct jpeg_decompress_struct *decompressor = &state->decompressor;
    if (setjmp(state->errors.jump)) {
        jpeg_destroy_decompress(decompressor);
        free(state->pixels);
        state->pixels = NULL;
        return state->errors.truncated ? AIMET_JPEG_TRUNCATED : AIMET_JPEG_CORRUPT;
    }
    jpeg_create_decompress(decompressor);
    jpeg_mem_src(decompressor, data, (unsigned long)size);
    jpeg_read_header(decompressor, TRUE);
    switch (decompressor->jpeg_color_space) {
    case JCS_GRAYSCALE:
        decompressor->out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        decompressor->out_color_space = JCS_RGB;
        break;
    default:
        jpeg_destroy_decompress(decompressor);
        return AIMET_JPEG_UNSUPPORTED;
    }
    jpeg_start_decompress(decompressor);
    size_t width = decompressor->output_width;
    size_t height = decompressor->output_height;
    size_t channels = (size_t)decompressor->output_components;
    size_t row_bytes = width * channels;
    if (width == 0 || height == 0 || (channels != 1 && channels != 3)) {
        jpeg_destroy_decompress(decompressor);
        return AIMET_JPEG_CORRUPT;
    }
    if (height > AIMET_JPEG_MAX_BYTES / row_bytes) {
        jpeg_destroy_decompress(decompressor);
        return AIMET_JPEG_TOO_LARGE;
    }
    state->pixels = (unsigned char *)malloc(row_bytes * height);
    if (!state->pixels) {
        jpeg_destroy_decompress(decompressor);
        return AIMET_JPEG_OUT_OF_MEMORY;
    }
    while (decompressor->output_scanline < decompressor->output_height) {
        JSAMPROW row = state->pixels + (size_t)decompressor->output_scanline * row_bytes;
        if (jpeg_read_scanlines(decompressor, &row, 1) != 1) {
            jpeg_destroy_decompress(decompressor);
            free(state->pixels);
            state->pixels = NULL;
            return AIMET_JPEG_TRUNCATED;
        }
    }
    jpeg_finish_decompress(decompressor);
    jpeg_destroy_decompress(decompressor);
    image->width = (uint32_t)width;
    image->height = (uint32_t)height;
    image->channels = (uint32_t)channels;
    image->pixels = state->pixels;
    state->pixels = NULL;
    return AIMET_JPEG_OK;
}

/* Decodes `size` bytes at `data` into `image` (grey stays grey, YCbCr/RGB become RGB).
 * On failure `message` (when `message_capacity` > 0) receives libjpeg's reason. */
static inline int aimet_jpeg_decode(const unsigned char *data, size_t size, struct aimet_jpeg_image *image,
                                    char *message, size_t message_capacity) {
    memset(image, 0, sizeof(*image));
    if (message_capacity > 0) message[0] = '\0';
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) return AIMET_JPEG_NOT_JPEG;
    struct aimet_jpeg_state *state = (struct aimet_jpeg_state *)calloc(1, sizeof(struct aimet_jpeg_state));
    if (!state) return AIMET_JPEG_OUT_OF_MEMORY;
    state->decompressor.err = jpeg_std_error(&state->errors.base);
    state->errors.base.error_exit = aimet_jpeg_error_exit;
    state->errors.base.emit_message = aimet_jpeg_emit_message;
    state->errors.base.output_message = aimet_jpeg_output_message;
    state->errors.message = message;
    state->errors.message_capacity = message_capacity;
    int status = aimet_jpeg_decode_into(state, data, size, image);
    free(state);
    return status;
}

#endif
