/* A folder of PNG images, all of one size, taken in file-name order (bytewise,
 * so the order does not depend on the locale). Grayscale, RGB and palette
 * images are accepted; alpha is dropped, 16-bit samples are reduced to 8. The
 * folder is RGB when any image has colour (grayscale ones are then repeated
 * over the three channels), grayscale otherwise. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/images.h"
#include "util/err.h"
#include "util/png.h"

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
  if (!d) return dx_errf(err, errlen, DX_ERR_IO, NULL, "%s: cannot read the folder", dir);
  bool ok = true;
  for (struct dirent *e; ok && (e = readdir(d));)
    if (is_png_name(e->d_name)) ok = names_push(out, dx_data_join(dir, e->d_name));
  closedir(d);
  if (!ok) {
    names_free(out);
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "%s: out of memory listing it", dir);
  }
  if (out->n == 0)
    return dx_errf(err, errlen, DX_ERR_IO, NULL, "%s: no .png files in the folder; check data.path",
                   dir);
  qsort(out->names, out->n, sizeof *out->names, by_name);
  return DX_OK;
}

/* First pass: every image's header, so that sizes are checked and the channel
 * count is known before any pixel is decoded. */
static dx_status scan_headers(const name_list *l, dx_png_header *first, char *err, size_t errlen) {
  for (size_t i = 0; i < l->n; i++) {
    dx_png_header s;
    dx_status st = dx_png_read_header(l->names[i], &s, err, errlen);
    if (st != DX_OK) return st;
    if (i == 0) {
      if (s.width > DX_PNG_MAX_SIDE || s.height > DX_PNG_MAX_SIDE)
        return dx_errf(err, errlen, DX_ERR_PARSE, NULL, "%s is %lldx%lld; the limit is %d a side",
                       l->names[0], (long long)s.width, (long long)s.height, DX_PNG_MAX_SIDE);
      if (s.width * s.height > DX_PNG_MAX_PIXELS)
        return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                       "%s is %lldx%lld; the limit is %lld pixels an image", l->names[0],
                       (long long)s.width, (long long)s.height, (long long)DX_PNG_MAX_PIXELS);
      *first = s;
    } else if (s.width != first->width || s.height != first->height) {
      return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                     "%s is %lldx%lld but the first image, %s, is %lldx%lld; all images in "
                     "the folder must be the same size",
                     l->names[i], (long long)s.width, (long long)s.height, l->names[0],
                     (long long)first->width, (long long)first->height);
    }
    first->color |= s.color;
  }
  int64_t bytes = (int64_t)l->n * first->width * first->height * (first->color ? 3 : 1);
  if (bytes > DX_DATA_MAX_BYTES)
    return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                   "%zu images of %lldx%lld would take %lld bytes, more than the limit of %lld "
                   "(16 GiB)",
                   l->n, (long long)first->width, (long long)first->height, (long long)bytes,
                   (long long)DX_DATA_MAX_BYTES);
  return DX_OK;
}

/* Second pass: decode each image and store it channel-major (CHW); a
 * grayscale image in a colour folder is repeated over the three channels. */
static dx_status decode_all(const name_list *l, dx_images *img, char *err, size_t errlen) {
  size_t plane = (size_t)(img->h * img->w), size = plane * (size_t)img->c;
  img->pixels = malloc(size * l->n);
  dx_status s = img->pixels ? DX_OK
                            : dx_errf(err, errlen, DX_ERR_NOMEM, NULL,
                                      "out of memory loading %zu images", l->n);
  for (size_t i = 0; s == DX_OK && i < l->n; i++) {
    dx_image one;
    s = dx_png_read_file(l->names[i], &one, err, errlen);
    if (s == DX_OK && (one.width != img->w || one.height != img->h || one.channels > img->c))
      s = dx_errf(err, errlen, DX_ERR_IO, NULL, "%s changed while it was being read", l->names[i]);
    uint8_t *dst = img->pixels + i * size;
    for (size_t p = 0; s == DX_OK && p < plane; p++)
      for (int64_t c = 0; c < img->c; c++)
        dst[(size_t)c * plane + p] =
            one.pixels[p * (size_t)one.channels + (one.channels == 1 ? 0 : (size_t)c)];
    dx_image_free(&one);
  }
  return s;
}

dx_status dx_png_folder_load(const char *dir, dx_data_split split, dx_images *img, char *err,
                             size_t errlen) {
  memset(img, 0, sizeof *img);
  char *sub = dx_data_join(dir, split == DX_SPLIT_TRAIN ? "train" : "test");
  const char *from = sub && dx_data_is_dir(sub) ? sub : dir;
  name_list l;
  dx_png_header first = {0};
  dx_status s = list_pngs(from, &l, err, errlen);
  if (s == DX_OK) s = scan_headers(&l, &first, err, errlen);
  if (s == DX_OK) {
    img->count = (int64_t)l.n;
    img->c = first.color ? 3 : 1;
    img->h = first.height;
    img->w = first.width;
    s = decode_all(&l, img, err, errlen);
  }
  names_free(&l);
  free(sub);
  if (s != DX_OK) dx_images_release(img);
  return s;
}
