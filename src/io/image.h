/* PNG in and out for datasets, the CLI (classify, sample) and tests: any 8-bit PNG in as grey
 * float [0,1], 8-bit grey PNG out. libpng 1.6 (PNG spec, ISO/IEC 15948). */
#ifndef CG_IO_IMAGE_H
#define CG_IO_IMAGE_H

#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest image accepted by the readers, in pixels (16384x16384 floats would be 1 GiB). */
#define CG_PNG_MAX_PIXELS ((int64_t)1 << 26)

/* Reads PATH (8-bit grey, RGB, palette, with or without alpha; 1-, 2-, 4- and 16-bit samples
 * are expanded/stripped to 8 bits) as grey in [0,1]: RGB becomes luma 0.299 R + 0.587 G +
 * 0.114 B on the stored values (no gamma), alpha composites onto black (0 = background).
 * On success *h, *w are set and *out is a new (h, w) row-major block to free with cg_free.
 * Errors name the file: CG_ERR_IO (cannot open), CG_ERR_FORMAT (not a PNG, corrupt,
 * truncated, larger than CG_PNG_MAX_PIXELS); *out is then NULL. */
enum cg_status cg_png_read_grey(const char *path, int *h, int *w, float **out);

/* As cg_png_read_grey, into a caller buffer of h*w floats; an image of another size is
 * CG_ERR_FORMAT ("PATH: image is 30x28, expected 28x28") and dst is left unspecified. */
enum cg_status cg_png_read_grey_into(const char *path, int h, int w, float *dst);

/* Reads only the size of PATH. Same errors as cg_png_read_grey. */
enum cg_status cg_png_size(const char *path, int *h, int *w);

/* Writes an 8-bit grey PNG of (h, w) row-major pixels; stride is the distance between rows
 * in elements (>= w). Errors: CG_ERR_INVALID_ARG (bad size/NULL), CG_ERR_IO naming PATH. */
enum cg_status cg_png_write_grey(const char *path, int h, int w, const uint8_t *pix,
                                 int stride);
/* The same from floats: round(255 * clamp(x, 0, 1)); NaN writes 0. */
enum cg_status cg_png_write_grey_f32(const char *path, int h, int w, const float *x,
                                     int stride);

#ifdef __cplusplus
}
#endif
#endif /* CG_IO_IMAGE_H */
