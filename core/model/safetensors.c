/* Reading and writing safetensors files. */
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/file.h"
#include "util/json.h"
#include "util/strbuf.h"

#define MAX_HEADER ((uint64_t)100 << 20)

/* A JSON number that is a whole number in [0, max]: shapes and offsets. */
static bool whole(const dx_json *v, double max, uint64_t *out) {
  if (!v || v->type != DX_JSON_NUMBER || !(v->num >= 0 && v->num <= max) ||
      v->num != (double)(uint64_t)v->num)
    return false;
  *out = (uint64_t)v->num;
  return true;
}

static int parse_entry(dx_st_entry *e, const dx_json *m, const uint8_t *data, uint64_t data_len,
                       const char *path, char *err, size_t errlen) {
  const dx_json *dt = dx_json_get(m, "dtype"), *sh = dx_json_get(m, "shape");
  const dx_json *off = dx_json_get(m, "data_offsets");
  e->name = m->key;
  if (!dt || dt->type != DX_JSON_STRING || !sh || sh->type != DX_JSON_ARRAY || !off ||
      off->type != DX_JSON_ARRAY || dx_json_count(off) != 2 || dx_json_count(sh) > DX_ST_MAX_DIMS) {
    dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path), "tensor '%s' has a malformed header entry",
            m->key);
    return -1;
  }
  if (strcmp(dt->str, "F32") && strcmp(dt->str, "F64")) {
    dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
            "tensor '%s' has dtype %s; only F32 and F64 are supported", m->key, dt->str);
    return -1;
  }
  e->dtype = strcmp(dt->str, "F64") ? DX_F32 : DX_F64;
  /* Every size is bounded by the file's own length, so no product overflows. */
  uint64_t count = 1, d, b, end;
  e->ndim = 0;
  for (const dx_json *v = sh->child; v; v = v->next) {
    if (!whole(v, (double)data_len, &d)) {
      dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
              "tensor '%s' has a shape that is not a list of sizes", m->key);
      return -1;
    }
    count = count > data_len || d > data_len ? data_len + 1 : count * d;
    e->shape[e->ndim++] = (int64_t)d;
  }
  if (!whole(off->child, (double)data_len, &b) ||
      !whole(off->child->next, (double)data_len, &end) || b > end || count > data_len ||
      end - b != count * dx_dtype_size(e->dtype)) {
    dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
            "tensor '%s' has data offsets outside the file or of the wrong size", m->key);
    return -1;
  }
  e->data = data + b;
  return 0;
}

static dx_status parse_header(dx_safetensors *st, size_t len, const char *path, char *err,
                              size_t errlen) {
  if (len < 8) {
    dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
            "not a safetensors file (%zu bytes, shorter than the length field)", len);
    return DX_ERR_PARSE;
  }
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = hlen << 8 | st->file[i];
  if (hlen > MAX_HEADER || hlen > len - 8) {
    dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
            "not a safetensors file (header length %llu; the file holds %zu bytes after the "
            "length field, and the limit is %llu)",
            (unsigned long long)hlen, len - 8, (unsigned long long)MAX_HEADER);
    return DX_ERR_PARSE;
  }
  char jerr[128];
  st->header = dx_json_parse((const char *)st->file + 8, (size_t)hlen, jerr, sizeof jerr);
  if (!st->header || st->header->type != DX_JSON_OBJECT) {
    dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path), "header is not a JSON object (%s)",
            st->header ? "not an object" : jerr);
    return DX_ERR_PARSE;
  }
  size_t n = dx_json_count(st->header);
  st->entries = calloc(n ? n : 1, sizeof *st->entries);
  if (!st->entries) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  const uint8_t *data = st->file + 8 + hlen;
  for (const dx_json *m = st->header->child; m; m = m->next) {
    if (strcmp(m->key, "__metadata__") == 0) {
      st->meta = m;
      continue;
    }
    if (parse_entry(&st->entries[st->n], m, data, len - 8 - hlen, path, err, errlen))
      return DX_ERR_PARSE;
    st->n++;
  }
  return DX_OK;
}

/* dx_file_read would decompress a gzip file, and a small one can hold
 * gigabytes; safetensors files are never compressed. */
static dx_status refuse_gzip(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  unsigned char magic[2] = {0, 0};
  bool gz = f && fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (f) fclose(f);
  if (!gz) return DX_OK;
  return dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
                 "not a safetensors file (it is gzip-compressed; safetensors files are not)");
}

dx_status dx_safetensors_read(const char *path, dx_safetensors **out, char *err, size_t errlen) {
  *out = NULL;
  dx_safetensors *st = calloc(1, sizeof *st);
  size_t len = 0;
  if (!st) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  dx_status got = refuse_gzip(path, err, errlen);
  if (got == DX_OK) got = dx_file_read(path, &st->file, &len, err, errlen);
  if (got != DX_OK) {
    free(st);
    return got;
  }
  dx_status s = parse_header(st, len, path, err, errlen);
  if (s != DX_OK) {
    dx_safetensors_free(st);
    return s;
  }
  *out = st;
  return DX_OK;
}

void dx_safetensors_free(dx_safetensors *st) {
  if (!st) return;
  dx_json_free(st->header);
  free(st->entries);
  free(st->file);
  free(st);
}

const dx_st_entry *dx_safetensors_find(const dx_safetensors *st, const char *name) {
  for (int64_t i = 0; i < st->n; i++)
    if (strcmp(st->entries[i].name, name) == 0) return &st->entries[i];
  return NULL;
}

const char *dx_safetensors_meta(const dx_safetensors *st, const char *key) {
  const dx_json *v = dx_json_get(st->meta, key);
  return v && v->type == DX_JSON_STRING ? v->str : NULL;
}

dx_status dx_safetensors_load(dx_ctx *ctx, const dx_safetensors *st, const char *name,
                              dx_tensor *t) {
  const dx_st_entry *e = dx_safetensors_find(st, name);
  if (!e) return dx_set_error(ctx, DX_ERR_PARSE, "tensor '%s' is missing from the file", name);
  int64_t count = 1;
  for (int i = 0; i < e->ndim; i++)
    count *= e->shape[i];
  bool shape_ok = count == dx_numel(t);
  if (shape_ok && e->ndim == t->ndim)
    for (int i = 0; i < e->ndim; i++)
      shape_ok &= e->shape[i] == t->shape[i];
  if (!shape_ok) {
    char a[64];
    return dx_set_error(ctx, DX_ERR_PARSE, "tensor '%s' in the file does not fit shape %s", name,
                        dx_shape_str(t, a, sizeof a));
  }
  /* safetensors data need not be aligned for our element type: copy out. */
  size_t bytes = (size_t)count * dx_dtype_size(e->dtype);
  void *tmp = malloc(bytes ? bytes : 1);
  if (!tmp) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory loading '%s'", name);
  memcpy(tmp, e->data, bytes);
  dx_status s = dx_tensor_write(ctx, t, tmp, e->dtype);
  free(tmp);
  return s;
}

/* --- writing ------------------------------------------------------------------ */

/* The header as JSON; returns it (NULL when out of memory) with its length
 * padded to a multiple of 8. */
static char *build_header(const dx_st_item *items, int64_t n, const char *const *meta,
                          int64_t n_meta, size_t *len) {
  dx_strbuf b = {0};
  dx_strbuf_puts(&b, "{");
  if (n_meta > 0) {
    dx_strbuf_puts(&b, "\"__metadata__\":{");
    for (int64_t i = 0; i < n_meta; i++) {
      if (i) dx_strbuf_puts(&b, ",");
      dx_json_string(&b, meta[2 * i]);
      dx_strbuf_puts(&b, ":");
      dx_json_string(&b, meta[2 * i + 1]);
    }
    dx_strbuf_puts(&b, "}");
  }
  uint64_t off = 0;
  for (int64_t i = 0; i < n; i++) {
    const dx_tensor *t = items[i].tensor;
    bool f64 = t->dtype == DX_F64;
    uint64_t bytes = (uint64_t)dx_numel(t) * (f64 ? 8 : 4);
    if (i || n_meta > 0) dx_strbuf_puts(&b, ",");
    dx_json_string(&b, items[i].name);
    dx_strbuf_puts(&b, f64 ? ":{\"dtype\":\"F64\",\"shape\":[" : ":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++)
      dx_strbuf_printf(&b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    dx_strbuf_printf(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                     (unsigned long long)(off + bytes));
    off += bytes;
  }
  dx_strbuf_puts(&b, "}");
  /* Pad with spaces so the data starts 8-byte aligned, as the format advises. */
  while (b.n % 8)
    dx_strbuf_puts(&b, " ");
  *len = b.n;
  return dx_strbuf_take(&b);
}

/* The rename is durable only once the folder that holds the name is
 * synced: without it a power cut can bring back the old directory entry. */
static dx_status sync_folder(const char *path, char *err, size_t errlen) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  int bad = fd < 0 || fsync(fd) != 0;
  if (fd >= 0) close(fd);
  if (bad)
    return dx_errf(err, errlen, DX_ERR_IO, NULL, "%s: cannot sync the folder: %s", dir,
                   strerror(errno));
  return DX_OK;
}

static int write_data(dx_ctx *ctx, FILE *f, const dx_st_item *items, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    int64_t count = dx_numel(items[i].tensor);
    dx_dtype dt = items[i].tensor->dtype == DX_F64 ? DX_F64 : DX_F32;
    size_t size = dt == DX_F64 ? 8 : 4;
    void *v = malloc((size_t)count * size);
    if (!v) return -1;
    if (dx_tensor_read(ctx, items[i].tensor, v, dt) != DX_OK) {
      free(v);
      return -1;
    }
    size_t w = fwrite(v, size, (size_t)count, f);
    free(v);
    if (w != (size_t)count) return -1;
  }
  return 0;
}

dx_status dx_safetensors_write(dx_ctx *ctx, const char *path, const dx_st_item *items, int64_t n,
                               const char *const *meta, int64_t n_meta, char *err, size_t errlen) {
  size_t hlen = 0;
  char *header = build_header(items, n, meta, n_meta, &hlen);
  char tmp[4096];
  if (!header) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    dx_errf(err, errlen, DX_ERR_IO, DX_AT(tmp), "cannot create: %s", strerror(errno));
    free(header);
    return DX_ERR_IO;
  }
  uint8_t lenbuf[8];
  for (int i = 0; i < 8; i++)
    lenbuf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
  int bad = fwrite(lenbuf, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen ||
            write_data(ctx, f, items, n) || fflush(f) || fsync(fileno(f));
  bad |= fclose(f) != 0;
  free(header);
  if (bad && dx_status_of(ctx) != DX_OK) { /* the device failed while we read the tensors back */
    unlink(tmp);
    return dx_errf(err, errlen, dx_status_of(ctx), DX_AT(path), "%s", dx_error_message(ctx));
  }
  if (bad || rename(tmp, path)) {
    dx_errf(err, errlen, DX_ERR_IO, DX_AT(path), "cannot write: %s", strerror(errno));
    unlink(tmp);
    return DX_ERR_IO;
  }
  return sync_folder(path, err, errlen);
}
