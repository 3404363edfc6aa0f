/* A folder of PNG images, all of one size, taken in file-name order (bytewise,
 * so the order does not depend on the locale). Grayscale, RGB and palette
 * images are accepted; alpha is dropped, 16-bit samples are reduced to 8. The
 * folder is RGB when any image has colour (grayscale ones are then repeated
 * over the three channels), grayscale otherwise. */
#include <dirent.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/images.h"

#define PNG_MAX_SIDE 16384

typedef struct name_list {
  char **names;
  size_t n, cap;
} name_list;

static void names_free(name_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->names[i]);
  free(l->names);
  memset(l, 0, sizeof *l);
}

static bool is_png_name(const char *name) {
  size_t n = strlen(name);
  return name[0] != '.' && n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool names_push(name_list *l, char *path) {
  if (!path) return false;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    char **p = realloc(l->names, cap * sizeof *p);
    if (!p) {
      free(path);
      return false;
    }
    l->names = p;
    l->cap = cap;
  }
  l->names[l->n++] = path;
  return true;
}

/* The paths of the folder's .png files, sorted by name. */
static dx_status list_pngs(const char *dir, name_list *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  DIR *d = opendir(dir);
  if (!d) return dx_data_fail(err, errlen, DX_ERR_IO, "%s: cannot read the folder", dir);
  bool ok = true;
  for (struct dirent *e; ok && (e = readdir(d));)
    if (is_png_name(e->d_name)) ok = names_push(out, dx_data_join(dir, e->d_name));
  closedir(d);
  if (!ok) {
    names_free(out);
    return dx_data_fail(err, errlen, DX_ERR_NOMEM, "%s: out of memory listing it", dir);
  }
  if (out->n == 0)
    return dx_data_fail(err, errlen, DX_ERR_IO, "%s: no .png files in the folder; check data.path",
                        dir);
  qsort(out->names, out->n, sizeof *out->names, by_name);
  return DX_OK;
}

/* libpng reports errors by calling back; we jump out of the decoder with the
 * message instead of letting libpng print it and abort. */
typedef struct png_job {
  jmp_buf jb;
  char msg[200];
} png_job;

static void on_error(png_structp png, png_const_charp msg) {
  png_job *job = png_get_error_ptr(png);
  snprintf(job->msg, sizeof job->msg, "%s", msg);
  longjmp(job->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

typedef struct png_shape {
  int64_t w, h;
  bool color;
} png_shape;

/* Asks libpng for 8-bit samples, `channels` of them per pixel (1 or 3). */
static void set_transforms(png_structp png, png_infop info, int channels) {
  int ct = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (ct == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (channels == 3 && !(ct & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
}

/* Reads the header of an open PNG into *shape; with hwc non-NULL also decodes
 * the pixels (height x width x channels) there. Returns false with job->msg
 * set on any libpng error. */
static bool png_run(FILE *f, png_job *job, png_shape *shape, int channels, uint8_t *hwc) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    snprintf(job->msg, sizeof job->msg, "out of memory");
    png_destroy_read_struct(&png, NULL, NULL);
    return false;
  }
  if (setjmp(job->jb)) {
    png_destroy_read_struct(&png, &info, NULL);
    return false;
  }
  png_init_io(png, f);
  png_read_info(png, info);
  shape->w = png_get_image_width(png, info);
  shape->h = png_get_image_height(png, info);
  shape->color = (png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR) != 0; /* palette too */
  if (hwc) {
    set_transforms(png, info, channels);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)(shape->w * channels))
      png_error(png, "unsupported sample layout");
    for (int p = 0; p < passes; p++)
      for (int64_t y = 0; y < shape->h; y++)
        png_read_row(png, hwc + (size_t)(y * shape->w * channels), NULL);
    png_read_end(png, NULL);
  }
  png_destroy_read_struct(&png, &info, NULL);
  return true;
}

static dx_status read_png(const char *path, png_shape *shape, int channels, uint8_t *hwc, char *err,
                          size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) return dx_data_fail(err, errlen, DX_ERR_IO, "%s: cannot open", path);
  uint8_t sig[8];
  bool is_png = fread(sig, 1, 8, f) == 8 && png_sig_cmp(sig, 0, 8) == 0;
  rewind(f);
  png_job job = {.msg = ""};
  bool ok = is_png && png_run(f, &job, shape, channels, hwc);
  fclose(f);
  if (!is_png) return dx_data_fail(err, errlen, DX_ERR_PARSE, "%s: not a PNG file", path);
  if (!ok) return dx_data_fail(err, errlen, DX_ERR_PARSE, "%s: corrupt PNG (%s)", path, job.msg);
  return DX_OK;
}

/* First pass: every image's header, so that sizes are checked and the channel
 * count is known before any pixel is decoded. */
static dx_status scan_headers(const name_list *l, png_shape *first, char *err, size_t errlen) {
  for (size_t i = 0; i < l->n; i++) {
    png_shape s;
    dx_status st = read_png(l->names[i], &s, 0, NULL, err, errlen);
    if (st != DX_OK) return st;
    if (i == 0) {
      if (s.w > PNG_MAX_SIDE || s.h > PNG_MAX_SIDE)
        return dx_data_fail(err, errlen, DX_ERR_PARSE, "%s is %lldx%lld; the limit is %d a side",
                            l->names[0], (long long)s.w, (long long)s.h, PNG_MAX_SIDE);
      *first = s;
    } else if (s.w != first->w || s.h != first->h) {
      return dx_data_fail(err, errlen, DX_ERR_PARSE,
                          "%s is %lldx%lld but the first image, %s, is %lldx%lld; all images in "
                          "the folder must be the same size",
                          l->names[i], (long long)s.w, (long long)s.h, l->names[0],
                          (long long)first->w, (long long)first->h);
    }
    first->color |= s.color;
  }
  return DX_OK;
}

/* Second pass: decode each image and store it channel-major (CHW). */
static dx_status decode_all(const name_list *l, dx_images *img, char *err, size_t errlen) {
  size_t plane = (size_t)(img->h * img->w), size = plane * (size_t)img->c;
  img->pixels = malloc(size * l->n);
  uint8_t *hwc = malloc(size);
  dx_status s = img->pixels && hwc ? DX_OK
                                   : dx_data_fail(err, errlen, DX_ERR_NOMEM,
                                                  "out of memory loading %zu images", l->n);
  for (size_t i = 0; s == DX_OK && i < l->n; i++) {
    png_shape shape;
    s = read_png(l->names[i], &shape, (int)img->c, hwc, err, errlen);
    if (s == DX_OK && (shape.w != img->w || shape.h != img->h))
      s = dx_data_fail(err, errlen, DX_ERR_IO, "%s changed while it was being read", l->names[i]);
    uint8_t *dst = img->pixels + i * size;
    for (size_t p = 0; s == DX_OK && p < plane; p++)
      for (int64_t c = 0; c < img->c; c++)
        dst[(size_t)c * plane + p] = hwc[p * img->c + c];
  }
  free(hwc);
  return s;
}

dx_status dx_png_folder_load(const char *dir, dx_data_split split, dx_images *img, char *err,
                             size_t errlen) {
  memset(img, 0, sizeof *img);
  char *sub = dx_data_join(dir, split == DX_SPLIT_TRAIN ? "train" : "test");
  const char *from = sub && dx_data_is_dir(sub) ? sub : dir;
  name_list l;
  png_shape first = {0};
  dx_status s = list_pngs(from, &l, err, errlen);
  if (s == DX_OK) s = scan_headers(&l, &first, err, errlen);
  if (s == DX_OK) {
    img->count = (int64_t)l.n;
    img->c = first.color ? 3 : 1;
    img->h = first.h;
    img->w = first.w;
    s = decode_all(&l, img, err, errlen);
  }
  names_free(&l);
  free(sub);
  if (s != DX_OK) dx_images_release(img);
  return s;
}
