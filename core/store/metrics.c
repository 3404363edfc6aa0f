/* Metrics: buffered in memory, written in batches, one transaction each, so
 * logging costs one fsync per batch rather than one per row. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"

static double wall_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static dx_status insert_rows(dx_store *st) {
  sqlite3_stmt *ins;
  dx_status s = dx_store_prepare(
      st, "INSERT INTO metrics (run_id, step, name, value, wall_time) VALUES (?, ?, ?, ?, ?)", &ins,
      "cannot write metrics");
  for (size_t i = 0; s == DX_OK && i < st->n_rows; i++) {
    const pending_metric *m = &st->rows[i];
    sqlite3_bind_int64(ins, 1, m->run_id);
    sqlite3_bind_int64(ins, 2, m->step);
    sqlite3_bind_text(ins, 3, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_double(ins, 4, m->value);
    sqlite3_bind_double(ins, 5, m->wall_time);
    if (sqlite3_step(ins) != SQLITE_DONE) s = dx_store_db_fail(st, "cannot write metrics");
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  return s;
}

/* Each run written to is alive as of now (its rows are mostly one run's,
 * so one UPDATE a run a batch). */
static dx_status heartbeat(dx_store *st) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, "UPDATE runs SET heartbeat_at = " DX_STORE_NOW " WHERE id = ?",
                                 &q, "cannot write metrics");
  for (size_t i = 0; s == DX_OK && i < st->n_rows; i++) {
    if (i && st->rows[i].run_id == st->rows[i - 1].run_id) continue;
    sqlite3_bind_int64(q, 1, st->rows[i].run_id);
    if (sqlite3_step(q) != SQLITE_DONE) s = dx_store_db_fail(st, "cannot write metrics");
    sqlite3_reset(q);
  }
  sqlite3_finalize(q);
  return s;
}

dx_status dx_store_flush(dx_store *st) {
  if (st->n_rows == 0) return DX_OK;
  dx_status s = dx_store_begin(st, "cannot write metrics");
  if (s == DX_OK) s = insert_rows(st);
  if (s == DX_OK) s = heartbeat(st);
  if (s == DX_OK)
    s = dx_store_commit(st, "cannot commit metrics");
  else
    dx_store_rollback(st);
  if (s == DX_OK) st->n_rows = 0;
  return s;
}

static dx_status grow(dx_store *st) {
  size_t cap = st->cap_rows ? 2 * st->cap_rows : 64;
  pending_metric *rows = realloc(st->rows, cap * sizeof *rows);
  if (!rows) return dx_store_fail(st, DX_ERR_NOMEM, "out of memory buffering metrics");
  st->rows = rows;
  st->cap_rows = cap;
  return DX_OK;
}

dx_status dx_store_log_metric(dx_store *st, int64_t run_id, int64_t step, const char *name,
                              double value) {
  size_t len = name ? strlen(name) : 0;
  if (len == 0 || len >= DX_STORE_METRIC_NAME_MAX)
    return dx_store_fail(st, DX_ERR_INVALID, "metric name '%s' must have 1 to %d characters",
                         name ? name : "", DX_STORE_METRIC_NAME_MAX - 1);
  /* A row for a missing run would fail its whole batch at every flush; check
   * once per run instead. */
  if (run_id != st->known_run) {
    dx_status s = dx_store_check_run(st, run_id);
    if (s != DX_OK) return s;
    st->known_run = run_id;
  }
  if (st->n_rows == st->cap_rows) {
    dx_status s = grow(st);
    if (s != DX_OK) return s;
  }
  pending_metric *m = &st->rows[st->n_rows++];
  m->run_id = run_id;
  m->step = step;
  m->value = value; /* SQLite stores NaN as NULL */
  m->wall_time = wall_clock();
  memcpy(m->name, name, len + 1);
  return st->n_rows >= st->batch ? dx_store_flush(st) : DX_OK;
}

dx_status dx_store_set_batch(dx_store *st, size_t rows) {
  if (rows == 0) return dx_store_fail(st, DX_ERR_INVALID, "metric batch size must be at least 1");
  st->batch = rows;
  return st->n_rows >= st->batch ? dx_store_flush(st) : DX_OK;
}

size_t dx_store_pending(const dx_store *st) { return st->n_rows; }
