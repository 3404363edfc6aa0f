/* Sweeps: a named group of runs, one per cell of a Cartesian product of
 * override lists. The store only keeps the record; core/cli/ plans and runs
 * the cells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

/* The sweep recorded with exactly this file, axes and overrides. */
static dx_status find_same(dx_store *st, const dx_sweep_info *in, int64_t *id, bool *found) {
  sqlite3_stmt *q;
  dx_status s =
      dx_store_prepare(st, "SELECT id FROM sweeps WHERE file = ? AND axes = ? AND overrides = ?",
                       &q, "cannot look up the sweep");
  if (s != DX_OK) return s;
  dx_store_bind_text(q, 1, in->file);
  dx_store_bind_text(q, 2, in->axes_json);
  dx_store_bind_text(q, 3, in->overrides_json);
  int rc = sqlite3_step(q);
  *found = rc == SQLITE_ROW;
  if (*found) *id = sqlite3_column_int64(q, 0);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = dx_store_db_fail(st, "cannot look up the sweep");
  sqlite3_finalize(q);
  return s;
}

static dx_status name_taken(dx_store *st, const char *name, bool *taken) {
  sqlite3_stmt *q;
  dx_status s =
      dx_store_prepare(st, "SELECT 1 FROM sweeps WHERE name = ?", &q, "cannot look up the sweep");
  if (s != DX_OK) return s;
  dx_store_bind_text(q, 1, name);
  int rc = sqlite3_step(q);
  *taken = rc == SQLITE_ROW;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = dx_store_db_fail(st, "cannot look up the sweep");
  sqlite3_finalize(q);
  return s;
}

/* Two sweeps of one experiment with other axes get other names, so that a
 * name given to `ddpmx report` means one sweep. */
static dx_status insert(dx_store *st, const dx_sweep_info *in, int64_t *id) {
  char name[512];
  bool taken = true;
  dx_status s = DX_OK;
  for (int k = 1; s == DX_OK && taken; k++) {
    if (k == 1)
      snprintf(name, sizeof name, "%s", in->name);
    else
      snprintf(name, sizeof name, "%s-%d", in->name, k);
    s = name_taken(st, name, &taken);
  }
  sqlite3_stmt *q;
  if (s == DX_OK)
    s = dx_store_prepare(st, "INSERT INTO sweeps (name, file, axes, overrides) VALUES (?, ?, ?, ?)",
                         &q, "cannot record the sweep");
  if (s != DX_OK) return s;
  dx_store_bind_text(q, 1, name);
  dx_store_bind_text(q, 2, in->file);
  dx_store_bind_text(q, 3, in->axes_json);
  dx_store_bind_text(q, 4, in->overrides_json);
  s = dx_store_run_stmt(st, q, "cannot record the sweep");
  if (s == DX_OK) *id = sqlite3_last_insert_rowid(st->db);
  return s;
}

dx_status dx_store_sweep_open(dx_store *st, const dx_sweep_info *in, int64_t *sweep_id,
                              bool *created) {
  if (!in->name || !in->name[0] || !in->file || !in->axes_json || !in->overrides_json)
    return dx_store_fail(st, DX_ERR_INVALID, "a sweep needs a name, a file, axes and overrides");
  /* One transaction: two sweeps started at once must not both insert. */
  dx_status s = dx_store_begin(st, "cannot record the sweep");
  bool found = false;
  if (s == DX_OK) s = find_same(st, in, sweep_id, &found);
  if (s == DX_OK && !found) s = insert(st, in, sweep_id);
  if (s == DX_OK)
    s = dx_store_commit(st, "cannot commit the sweep");
  else
    dx_store_rollback(st);
  if (s == DX_OK) *created = !found;
  return s;
}

static dx_status one_id(dx_store *st, const char *sql, const char *text, int64_t num, int64_t *id,
                        bool *found) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, sql, &q, "cannot look up a sweep");
  if (s != DX_OK) return s;
  if (text)
    dx_store_bind_text(q, 1, text);
  else
    sqlite3_bind_int64(q, 1, num);
  int rc = sqlite3_step(q);
  *found = rc == SQLITE_ROW;
  if (*found) *id = sqlite3_column_int64(q, 0);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = dx_store_db_fail(st, "cannot look up a sweep");
  sqlite3_finalize(q);
  return s;
}

dx_status dx_store_find_sweep(dx_store *st, const char *ref, int64_t *sweep_id) {
  if (!ref || !ref[0]) return dx_store_fail(st, DX_ERR_INVALID, "no sweep named");
  const char *num = strncmp(ref, "sweep:", 6) == 0 ? ref + 6 : ref;
  bool found = false;
  dx_status s = DX_OK;
  if (dx_store_all_digits(num) && strlen(num) < 18)
    s = one_id(st, "SELECT id FROM sweeps WHERE id = ?", NULL, strtoll(num, NULL, 10), sweep_id,
               &found);
  if (s == DX_OK && !found)
    s = one_id(st, "SELECT id FROM sweeps WHERE name = ? ORDER BY id DESC LIMIT 1", ref, 0,
               sweep_id, &found);
  if (s == DX_OK && !found)
    s = dx_store_fail(st, DX_ERR_INVALID, "no sweep '%s' in %s", ref, st->path);
  return s;
}

dx_status dx_store_latest_sweep(dx_store *st, int64_t *sweep_id, bool *found) {
  return one_id(st, "SELECT id FROM sweeps WHERE id > ? ORDER BY id DESC LIMIT 1", NULL, 0,
                sweep_id, found);
}

dx_status dx_store_sweep_cell(dx_store *st, int64_t sweep_id, const char *cell, int64_t *run_id,
                              dx_run_status *status, bool *found) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st,
                                 "SELECT id, status, host, pid, process_start FROM runs"
                                 " WHERE sweep_id = ? AND cell = ? ORDER BY id DESC LIMIT 1",
                                 &q, "cannot look up a sweep's cell");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, sweep_id);
  dx_store_bind_text(q, 2, cell);
  int rc = sqlite3_step(q);
  *found = rc == SQLITE_ROW;
  if (*found) {
    *run_id = sqlite3_column_int64(q, 0);
    *status = dx_store_parse_status(dx_store_col_text(q, 1));
    if (*status == DX_RUN_RUNNING &&
        dx_store_process_state(dx_store_col_text(q, 2), sqlite3_column_int64(q, 3),
                               dx_store_col_text(q, 4)) == DX_PROCESS_GONE)
      *status = DX_RUN_LOST;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    s = dx_store_db_fail(st, "cannot look up a sweep's cell");
  sqlite3_finalize(q);
  return s;
}
