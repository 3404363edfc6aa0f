/* IDX files (the MNIST / Fashion-MNIST format, LeCun et al.): a big-endian
 * header, magic 0x000008NN (unsigned bytes, NN dimensions), one 32-bit size
 * per dimension, then the bytes. Images have 3 dimensions (count, rows,
 * columns), labels 1 (count). Files may be gzipped or not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/images.h"
#include "util/err.h"
#include "util/file.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_MAX_SIDE 4096

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds "<dir>/<name>.gz", else "<dir>/<name>". */
static dx_status find(const char *dir, const char *name, bool install_hint, char **found, char *err,
                      size_t errlen) {
  char gz[512];
  snprintf(gz, sizeof gz, "%s.gz", name);
  *found = dx_data_join(dir, gz);
  if (*found && dx_data_is_file(*found)) return DX_OK;
  free(*found);
  *found = dx_data_join(dir, name);
  if (*found && dx_data_is_file(*found)) return DX_OK;
  free(*found);
  *found = NULL;
  if (install_hint)
    return dx_errf(err, errlen, DX_ERR_IO, NULL,
                   "%s/%s not found; install it with: apt-get install dataset-fashion-mnist "
                   "(or set data.path)",
                   dir, gz);
  return dx_errf(err, errlen, DX_ERR_IO, NULL, "%s/%s not found (nor without .gz); check data.path",
                 dir, gz);
}

/* Checks the header of an IDX file with ndims dimensions and returns its
 * sizes and the payload they promise, refusing a promise over the limits
 * before anything is allocated for it. */
static dx_status parse_header(const char *path, const uint8_t *buf, size_t len, uint32_t magic,
                              int ndims, int64_t *dims, int64_t *payload, char *err,
                              size_t errlen) {
  size_t header = 4 + 4 * (size_t)ndims;
  if (len < header)
    return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                   "%s: truncated: %zu bytes, shorter than the %zu-byte IDX header", path, len,
                   header);
  if (be32(buf) != magic)
    return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                   "%s: bad magic 0x%08x (expected 0x%08x); not an IDX %s file", path, be32(buf),
                   magic, ndims == 3 ? "image" : "label");
  *payload = 1;
  for (int d = 0; d < ndims; d++) {
    dims[d] = be32(buf + 4 + 4 * d);
    if (d > 0 && (dims[d] < 1 || dims[d] > IDX_MAX_SIDE))
      return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                     "%s: image side %lld is out of range (1..%d); corrupt header", path,
                     (long long)dims[d], IDX_MAX_SIDE);
    *payload *= dims[d]; /* at most 2^32 * 4096 * 4096: no overflow */
  }
  if (dims[0] > DX_DATA_MAX_IMAGES)
    return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                   "%s: header claims %lld items, more than the limit of %lld; corrupt header",
                   path, (long long)dims[0], (long long)DX_DATA_MAX_IMAGES);
  if (*payload > DX_DATA_MAX_BYTES)
    return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                   "%s: header claims %lld bytes of data, more than the limit of %lld (16 GiB); "
                   "corrupt header",
                   path, (long long)*payload, (long long)DX_DATA_MAX_BYTES);
  return DX_OK;
}

/* Reads one IDX file and keeps its payload in *data (the header dropped):
 * first the header alone, then, within the size it promises, the rest. */
static dx_status read_idx(const char *dir, const char *name, bool install_hint, uint32_t magic,
                          int ndims, int64_t *dims, uint8_t **data, char **path, char *err,
                          size_t errlen) {
  size_t header = 4 + 4 * (size_t)ndims, len = 0;
  int64_t payload = 0;
  dx_status s = find(dir, name, install_hint, path, err, errlen);
  if (s == DX_OK) s = dx_file_read_upto(*path, header, data, &len, err, errlen);
  if (s == DX_OK) s = parse_header(*path, *data, len, magic, ndims, dims, &payload, err, errlen);
  free(*data);
  *data = NULL;
  size_t want = header + (size_t)payload;
  if (s == DX_OK) s = dx_file_read_upto(*path, want + 1, data, &len, err, errlen);
  if (s == DX_OK && len < want)
    s = dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                "%s: header promises %lld bytes of data but the file holds %zu; truncated", *path,
                (long long)payload, len - header);
  else if (s == DX_OK && len > want)
    s = dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                "%s: header promises %lld bytes of data but the file holds more; trailing garbage",
                *path, (long long)payload);
  if (s != DX_OK) {
    free(*data);
    *data = NULL;
    return s;
  }
  memmove(*data, *data + header, len - header);
  return DX_OK;
}

dx_status dx_idx_load(const char *dir, const char *prefix, bool install_hint, dx_images *img,
                      char *err, size_t errlen) {
  char iname[256], lname[256];
  snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
  snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
  int64_t idims[3], ldims[1];
  char *ipath = NULL, *lpath = NULL;
  memset(img, 0, sizeof *img);
  dx_status s = read_idx(dir, iname, install_hint, IDX_IMAGES_MAGIC, 3, idims, &img->pixels, &ipath,
                         err, errlen);
  if (s == DX_OK)
    s = read_idx(dir, lname, install_hint, IDX_LABELS_MAGIC, 1, ldims, &img->labels, &lpath, err,
                 errlen);
  if (s == DX_OK && idims[0] != ldims[0])
    s = dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                "%s has %lld images but %s has %lld labels; the two files must match", ipath,
                (long long)idims[0], lpath, (long long)ldims[0]);
  if (s == DX_OK && idims[0] == 0)
    s = dx_errf(err, errlen, DX_ERR_PARSE, NULL, "%s holds no images", ipath);
  free(ipath);
  free(lpath);
  if (s != DX_OK) {
    dx_images_release(img);
    return s;
  }
  img->count = idims[0];
  img->c = 1;
  img->h = idims[1];
  img->w = idims[2];
  return DX_OK;
}
