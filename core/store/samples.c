/* Sample grids as PNG blobs, one per (run, step, tag). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/grid.h"
#include "store/internal.h"

dx_status dx_store_add_sample(dx_store *st, int64_t run_id, int64_t step, const char *tag,
                              const void *png, size_t len, int64_t width, int64_t height,
                              int64_t count) {
  if (!tag || !tag[0] || !png || len == 0)
    return dx_store_fail(st, DX_ERR_INVALID, "a sample needs a tag and a PNG");
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st,
                                 "INSERT OR REPLACE INTO samples"
                                 " (run_id, step, tag, png, width, height, count)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 &q, "cannot store a sample grid");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  sqlite3_bind_int64(q, 2, step);
  dx_store_bind_text(q, 3, tag);
  sqlite3_bind_blob64(q, 4, png, len, SQLITE_STATIC);
  sqlite3_bind_int64(q, 5, width);
  sqlite3_bind_int64(q, 6, height);
  sqlite3_bind_int64(q, 7, count);
  return dx_store_run_stmt(st, q, "cannot store a sample grid");
}

dx_status dx_store_add_grid(dx_store *st, int64_t run_id, int64_t step, const char *tag,
                            const float *images, int64_t n, int64_t c, int64_t h, int64_t w,
                            int64_t nrow) {
  dx_image img;
  uint8_t *png = NULL;
  size_t len = 0;
  dx_status s = dx_grid_make(images, n, c, h, w, nrow, &img, st->err, sizeof st->err);
  if (s != DX_OK) return s;
  s = dx_png_encode(&img, &png, &len, st->err, sizeof st->err);
  if (s == DX_OK)
    s = dx_store_add_sample(st, run_id, step, tag, png, len, img.width, img.height, n);
  free(png);
  dx_image_free(&img);
  return s;
}

/* Picks the row: step < 0 means the latest, tag NULL any (first by name). */
static dx_status query_sample(dx_store *st, int64_t run_id, int64_t step, const char *tag,
                              sqlite3_stmt **q) {
  dx_status s = dx_store_prepare(st,
                                 "SELECT step, tag, width, height, count, png FROM samples"
                                 " WHERE run_id = ?1 AND (?2 < 0 OR step = ?2)"
                                 " AND (?3 IS NULL OR tag = ?3)"
                                 " ORDER BY step DESC, tag LIMIT 1",
                                 q, "cannot read a sample grid");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(*q, 1, run_id);
  sqlite3_bind_int64(*q, 2, step);
  dx_store_bind_text(*q, 3, tag);
  return DX_OK;
}

static dx_status not_found(dx_store *st, int64_t run_id, int64_t step, const char *tag) {
  char at[48] = "";
  if (step >= 0) snprintf(at, sizeof at, " at step %lld", (long long)step);
  dx_status s = dx_store_check_run(st, run_id);
  if (s != DX_OK) return s;
  return dx_store_fail(st, DX_ERR_INVALID, "run %lld has no sample grid%s%s%s%s", (long long)run_id,
                       at, tag ? " tagged '" : "", tag ? tag : "", tag ? "'" : "");
}

static dx_status copy_row(dx_store *st, sqlite3_stmt *q, dx_store_sample *out) {
  const char *tag = dx_store_col_text(q, 1);
  const void *png = sqlite3_column_blob(q, 5);
  size_t len = (size_t)sqlite3_column_bytes(q, 5);
  if (!png || len == 0) /* ddpmx stores a PNG in every row: an empty one is damage */
    return dx_store_fail(st, DX_ERR_DB, "sample grid '%s' at step %lld holds no image (%s)",
                         tag ? tag : "", (long long)sqlite3_column_int64(q, 0), st->path);
  out->step = sqlite3_column_int64(q, 0);
  out->width = sqlite3_column_int64(q, 2);
  out->height = sqlite3_column_int64(q, 3);
  out->count = sqlite3_column_int64(q, 4);
  out->tag = strdup(tag ? tag : "");
  out->png = malloc(len);
  out->len = len;
  if (!out->tag || !out->png) {
    dx_store_sample_clear(out);
    return dx_store_fail(st, DX_ERR_NOMEM, "out of memory reading a sample grid");
  }
  memcpy(out->png, png, len);
  return DX_OK;
}

dx_status dx_store_get_sample(dx_store *st, int64_t run_id, int64_t step, const char *tag,
                              dx_store_sample *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *q;
  dx_status s = query_sample(st, run_id, step, tag, &q);
  if (s != DX_OK) return s;
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW)
    s = copy_row(st, q, out);
  else if (rc != SQLITE_DONE)
    s = dx_store_db_fail(st, "cannot read a sample grid");
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? not_found(st, run_id, step, tag) : s;
}

void dx_store_sample_clear(dx_store_sample *s) {
  free(s->tag);
  free(s->png);
  memset(s, 0, sizeof *s);
}
