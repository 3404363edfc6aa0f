/* PNG encoding and decoding through libpng. libpng reports errors by
 * longjmp; the handlers below keep its message for our caller and stop it
 * from printing anything. What changes between setjmp and a longjmp lives in
 * a heap-allocated png_io, because locals changed there are indeterminate
 * after the jump (C11 7.13.2.1). */
#include "util/png.h"

#include <errno.h>
#include <png.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

void dx_image_free(dx_image *img) {
  if (!img) return;
  free(img->pixels);
  img->pixels = NULL;
  img->width = img->height = img->channels = 0;
}

typedef struct png_io {
  uint8_t *data;
  size_t len, cap, pos;
  png_bytep *rows; /* decoding: row pointers into the image */
  char msg[256];
} png_io;

static void on_error(png_structp png, png_const_charp msg) {
  png_io *io = png_get_error_ptr(png);
  snprintf(io->msg, sizeof io->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void write_bytes(png_structp png, png_bytep data, png_size_t n) {
  png_io *io = png_get_io_ptr(png);
  if (io->len + n > io->cap) {
    size_t cap = io->cap ? io->cap : 4096;
    while (cap < io->len + n)
      cap *= 2;
    uint8_t *grown = realloc(io->data, cap);
    if (!grown) png_error(png, "out of memory");
    io->data = grown;
    io->cap = cap;
  }
  memcpy(io->data + io->len, data, n);
  io->len += n;
}

static void flush_bytes(png_structp png) { (void)png; }

static void read_bytes(png_structp png, png_bytep data, png_size_t n) {
  png_io *io = png_get_io_ptr(png);
  if (n > io->len - io->pos) png_error(png, "truncated PNG");
  memcpy(data, io->data + io->pos, n);
  io->pos += n;
}

/* Runs inside setjmp; anything it allocates is owned by png/info or io. */
static void encode_rows(png_structp png, png_infop info, const dx_image *img) {
  png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
               img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t y = 0; y < img->height; y++)
    png_write_row(png, img->pixels + y * img->width * img->channels);
  png_write_end(png, info);
}

dx_status dx_png_encode(const dx_image *img, uint8_t **out, size_t *len, char *err, size_t errlen) {
  *out = NULL;
  *len = 0;
  if ((img->channels != 1 && img->channels != 3) || img->width < 1 || img->height < 1 ||
      img->width > INT32_MAX || img->height > INT32_MAX)
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL,
                   "cannot encode PNG: bad image size or channels");
  png_io *io = calloc(1, sizeof *io);
  png_structp png =
      io ? png_create_write_struct(PNG_LIBPNG_VER_STRING, io, on_error, on_warning) : NULL;
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    free(io);
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "cannot encode PNG: out of memory");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    dx_status s = dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "cannot encode PNG: %s", io->msg);
    free(io->data);
    free(io);
    return s;
  }
  png_set_write_fn(png, io, write_bytes, flush_bytes);
  encode_rows(png, info, img);
  png_destroy_write_struct(&png, &info);
  *out = io->data;
  *len = io->len;
  free(io);
  return DX_OK;
}

/* Asks libpng for 8-bit gray or RGB whatever the file holds. */
static void normalise(png_structp png, png_infop info) {
  png_byte type = png_get_color_type(png, info);
  png_set_strip_16(png);
  png_set_packing(png);
  png_set_strip_alpha(png);
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((type & PNG_COLOR_MASK_COLOR) == 0) png_set_expand_gray_1_2_4_to_8(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
}

/* Runs inside setjmp; out->pixels and io->rows are freed by the caller on a
 * longjmp. out NULL: the header alone. */
static void decode_rows(png_structp png, png_infop info, dx_png_header *hdr, dx_image *out,
                        png_io *io) {
  png_read_info(png, info);
  hdr->width = png_get_image_width(png, info);
  hdr->height = png_get_image_height(png, info);
  hdr->color = (png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR) != 0; /* palette too */
  if (!out) return;
  /* The header's size is checked before the pixels are allocated. */
  if (hdr->width > DX_PNG_MAX_SIDE || hdr->height > DX_PNG_MAX_SIDE ||
      hdr->width * hdr->height > DX_PNG_MAX_PIXELS) {
    char msg[160];
    snprintf(msg, sizeof msg, "%lldx%lld pixels is over the limit (%d a side, %lld in all)",
             (long long)hdr->width, (long long)hdr->height, DX_PNG_MAX_SIDE,
             (long long)DX_PNG_MAX_PIXELS);
    png_error(png, msg);
  }
  normalise(png, info);
  out->width = hdr->width;
  out->height = hdr->height;
  out->channels = png_get_channels(png, info);
  size_t stride = (size_t)(out->width * out->channels);
  out->pixels = malloc(stride * (size_t)out->height);
  io->rows = malloc(sizeof *io->rows * (size_t)out->height);
  if (!out->pixels || !io->rows) png_error(png, "out of memory");
  for (int64_t y = 0; y < out->height; y++)
    io->rows[y] = out->pixels + (size_t)y * stride;
  png_read_image(png, io->rows);
  png_read_end(png, NULL);
}

static bool has_signature(const uint8_t *data, size_t len, FILE *f) {
  uint8_t sig[8];
  if (!f) return len >= 8 && png_sig_cmp(data, 0, 8) == 0;
  bool is_png = fread(sig, 1, 8, f) == 8 && png_sig_cmp(sig, 0, 8) == 0;
  rewind(f);
  return is_png;
}

/* The one decoder, reading from memory (data, len) or from an open file
 * (f); out NULL reads the header alone. On failure, `why` says what went
 * wrong without saying where. */
static dx_status decode(const uint8_t *data, size_t len, FILE *f, dx_png_header *hdr, dx_image *out,
                        char *why, size_t whylen) {
  if (out) memset(out, 0, sizeof *out);
  if (!has_signature(data, len, f))
    return dx_errf(why, whylen, DX_ERR_PARSE, NULL, "not a PNG file");
  png_io *io = calloc(1, sizeof *io);
  png_structp png =
      io ? png_create_read_struct(PNG_LIBPNG_VER_STRING, io, on_error, on_warning) : NULL;
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    free(io);
    return dx_errf(why, whylen, DX_ERR_NOMEM, NULL, "out of memory");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    dx_status s = dx_errf(why, whylen, DX_ERR_PARSE, NULL, "corrupt PNG (%s)", io->msg);
    free(io->rows);
    free(io);
    dx_image_free(out);
    return s;
  }
  if (f) {
    png_init_io(png, f);
  } else {
    io->data = (uint8_t *)data; /* only read from */
    io->len = len;
    png_set_read_fn(png, io, read_bytes);
  }
  decode_rows(png, info, hdr, out, io);
  png_destroy_read_struct(&png, &info, NULL);
  free(io->rows);
  free(io);
  if (out && out->channels != 1 && out->channels != 3) {
    dx_image_free(out);
    return dx_errf(why, whylen, DX_ERR_PARSE, NULL, "unexpected channel count");
  }
  return DX_OK;
}

dx_status dx_png_decode(const uint8_t *data, size_t len, dx_image *out, char *err, size_t errlen) {
  char why[256];
  dx_png_header hdr;
  dx_status s = decode(data, len, NULL, &hdr, out, why, sizeof why);
  if (s != DX_OK) dx_errf(err, errlen, s, NULL, "cannot decode PNG: %s", why);
  return s;
}

/* Files are decoded as libpng reads them, never whole into memory first, and
 * never gunzipped: a PNG is compressed inside already. */
static dx_status decode_file(const char *path, dx_png_header *hdr, dx_image *out, char *err,
                             size_t errlen) {
  if (out) memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return dx_errf(err, errlen, DX_ERR_IO, DX_AT(path), "cannot open: %s", strerror(errno));
  char why[256];
  dx_status s = decode(NULL, 0, f, hdr, out, why, sizeof why);
  fclose(f);
  if (s != DX_OK) dx_errf(err, errlen, s, DX_AT(path), "%s", why);
  return s;
}

dx_status dx_png_read_file(const char *path, dx_image *out, char *err, size_t errlen) {
  dx_png_header hdr;
  return decode_file(path, &hdr, out, err, errlen);
}

dx_status dx_png_read_header(const char *path, dx_png_header *out, char *err, size_t errlen) {
  return decode_file(path, out, NULL, err, errlen);
}

dx_status dx_png_write_file(const dx_image *img, const char *path, char *err, size_t errlen) {
  uint8_t *png;
  size_t len;
  dx_status s = dx_png_encode(img, &png, &len, err, errlen);
  if (s != DX_OK) return s;
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(png, 1, len, f) == len;
  int saved = errno;
  if (f && fclose(f) != 0 && ok) ok = 0, saved = errno;
  free(png);
  if (!ok) return dx_errf(err, errlen, DX_ERR_IO, DX_AT(path), "%s", strerror(saved));
  return DX_OK;
}
