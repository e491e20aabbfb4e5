#ifndef AIMET_SWIFT_CPNG_SHIM_H
#define AIMET_SWIFT_CPNG_SHIM_H
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decodes a whole PNG held in memory to 8-bit interleaved samples. libpng reports errors
 * by calling an error function that must not return; here it records the message and
 * longjmps back into aimet_png_decode, which is the only frame between the setjmp and
 * the longjmp (no Swift frame is ever jumped over). A corrupt or truncated file is a
 * status code, never a crash or an exit.
 */

/* Status codes of aimet_png_decode. */
enum {
    AIMET_PNG_OK = 0,
    AIMET_PNG_NOT_PNG = 1,       /* the signature is not PNG's */
    AIMET_PNG_TRUNCATED = 2,     /* the data ends before the image does */
    AIMET_PNG_CORRUPT = 3,       /* libpng rejected the data (message says why) */
    AIMET_PNG_TOO_LARGE = 4,     /* dimensions beyond the limits below */
    AIMET_PNG_OUT_OF_MEMORY = 5
};

/* Largest width or height accepted, and largest decoded size in bytes. */
#define AIMET_PNG_MAX_SIDE 32768u
#define AIMET_PNG_MAX_BYTES ((size_t)1 << 30)

/* The decoded image: `pixels` (malloc'd, free with aimet_png_free) holds height rows of
 * width * channels bytes; channels is 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA). */
struct aimet_png_image {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint32_t source_bit_depth;
    unsigned char *pixels;
};

struct aimet_png_reader {
    const unsigned char *data;
    size_t size;
    size_t offset;
    int truncated;
    char *message;
    size_t message_capacity;
    unsigned char *pixels;
    png_bytep *rows;
};

static inline void aimet_png_copy_message(struct aimet_png_reader *reader, const char *text) {
    if (reader->message_capacity == 0) return;
    size_t length = strlen(text);
    if (length >= reader->message_capacity) length = reader->message_capacity - 1;
    memcpy(reader->message, text, length);
    reader->message[length] = '\0';
}

static inline void aimet_png_error(png_structp png, png_const_charp text) {
    struct aimet_png_reader *reader = (struct aimet_png_reader *)png_get_error_ptr(png);
    aimet_png_copy_message(reader, text ? text : "libpng error");
    png_longjmp(png, 1);
}

static inline void aimet_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text; /* warnings (e.g. a known-incorrect sRGB profile) do not stop decoding */
}

static inline void aimet_png_read(png_structp png, png_bytep destination, size_t length) {
    struct aimet_png_reader *reader = (struct aimet_png_reader *)png_get_io_ptr(png);
    if (length > reader->size - reader->offset) {
        reader->truncated = 1;
        png_error(png, "the file ends before the image data does");
    }
    memcpy(destination, reader->data + reader->offset, length);
    reader->offset += length;
}

static inline void aimet_png_free(unsigned char *pixels) { free(pixels); }

/* Decodes `size` bytes at `data` into `image`. Palette images become RGB (RGBA with a
 * tRNS chunk), 1/2/4-bit grey becomes 8-bit, 16-bit samples keep their high byte (as
 * Pillow does), interlaced images are de-interlaced. On failure `message` (when
 * `message_capacity` > 0) receives libpng's reason. */
static inline int aimet_png_decode(const unsigned char *data, size_t size, struct aimet_png_image *image,
                                   char *message, size_t message_capacity) {
    memset(image, 0, sizeof(*image));
    if (message_capacity > 0) message[0] = '\0';
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) return AIMET_PNG_NOT_PNG;

    struct aimet_png_reader reader;
    memset(&reader, 0, sizeof(reader));
    reader.data = data;
    reader.size = size;
    reader.message = message;
    reader.message_capacity = message_capacity;

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, aimet_png_error, aimet_png_warning);
    if (!png) return AIMET_PNG_OUT_OF_MEMORY;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return AIMET_PNG_OUT_OF_MEMORY;
    }
    /* Everything that must survive the longjmp lives in `reader` (not in locals). */
    if (setjmp(png_jmpbuf(png))) {
        free(reader.rows);
        free(reader.pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return reader.truncated ? AIMET_PNG_TRUNCATED : AIMET_PNG_CORRUPT;
    }
    png_set_read_fn(png, &reader, aimet_png_read);
    png_set_user_limits(png, AIMET_PNG_MAX_SIDE, AIMET_PNG_MAX_SIDE);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    int color_type = png_get_color_type(png, info);
    image->source_bit_depth = (uint32_t)bit_depth;

    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    png_byte channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || row_bytes != (size_t)width * channels) {
        aimet_png_copy_message(&reader, "unexpected row layout after transformations");
        png_destroy_read_struct(&png, &info, NULL);
        return AIMET_PNG_CORRUPT;
    }
    if (width == 0 || height == 0 || (size_t)height > AIMET_PNG_MAX_BYTES / row_bytes) {
        png_destroy_read_struct(&png, &info, NULL);
        return AIMET_PNG_TOO_LARGE;
    }
    reader.pixels = (unsigned char *)malloc(row_bytes * height);
    reader.rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!reader.pixels || !reader.rows) {
        free(reader.rows);
        free(reader.pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return AIMET_PNG_OUT_OF_MEMORY;
    }
    for (png_uint_32 row = 0; row < height; row++) reader.rows[row] = reader.pixels + row * row_bytes;
    png_read_image(png, reader.rows);
    png_read_end(png, NULL);

    free(reader.rows);
    png_destroy_read_struct(&png, &info, NULL);
    image->width = (uint32_t)width;
    image->height = (uint32_t)height;
    image->channels = channels;
    image->pixels = reader.pixels;
    return AIMET_PNG_OK;
}

#endif
