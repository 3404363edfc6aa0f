/* SQLite helpers shared by the store's files: errors, transactions, binding. */
#include <stdio.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

dx_status dx_store_fail(dx_store *st, dx_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dx_verrf(st->err, sizeof st->err, s, NULL, fmt, ap);
  va_end(ap);
  return s;
}

dx_status dx_store_db_fail(dx_store *st, const char *what) {
  return dx_store_fail(st, DX_ERR_DB, "%s: %s (%s)", what, sqlite3_errmsg(st->db), st->path);
}

dx_status dx_store_exec(dx_store *st, const char *sql, const char *what) {
  if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) return dx_store_db_fail(st, what);
  return DX_OK;
}

dx_status dx_store_begin(dx_store *st, const char *what) {
  return dx_store_exec(st, "BEGIN IMMEDIATE", what);
}

dx_status dx_store_commit(dx_store *st, const char *what) {
  dx_status s = dx_store_exec(st, "COMMIT", what);
  if (s != DX_OK) dx_store_rollback(st);
  return s;
}

void dx_store_rollback(dx_store *st) {
  /* SQLite may already have rolled back (after a full disk, say); then this
   * fails harmlessly, and the message of the real error stays. */
  if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

dx_status dx_store_prepare(dx_store *st, const char *sql, sqlite3_stmt **stmt, const char *what) {
  if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
    *stmt = NULL;
    return dx_store_db_fail(st, what);
  }
  return DX_OK;
}

dx_status dx_store_query_int(dx_store *st, const char *sql, int64_t *v, const char *what) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, sql, &q, what);
  if (s != DX_OK) return s;
  if (sqlite3_step(q) == SQLITE_ROW)
    *v = sqlite3_column_int64(q, 0);
  else
    s = dx_store_db_fail(st, what);
  sqlite3_finalize(q);
  return s;
}

dx_status dx_store_run_stmt(dx_store *st, sqlite3_stmt *stmt, const char *what) {
  int rc = sqlite3_step(stmt);
  dx_status s = rc == SQLITE_DONE || rc == SQLITE_ROW ? DX_OK : dx_store_db_fail(st, what);
  sqlite3_finalize(stmt);
  return s;
}

int dx_store_bind_text(sqlite3_stmt *stmt, int i, const char *s) {
  return s ? sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(stmt, i);
}

const char *dx_store_col_text(sqlite3_stmt *stmt, int i) {
  return (const char *)sqlite3_column_text(stmt, i);
}

dx_status dx_store_check_run(dx_store *st, int64_t run_id) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, "SELECT 1 FROM runs WHERE id = ?", &q, "cannot look up run");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  int rc = sqlite3_step(q);
  sqlite3_finalize(q);
  if (rc == SQLITE_ROW) return DX_OK;
  if (rc != SQLITE_DONE) return dx_store_db_fail(st, "cannot look up run");
  return dx_store_fail(st, DX_ERR_INVALID, "no run with id %lld in %s", (long long)run_id,
                       st->path);
}

static const char *const status_names[] = {"RUNNING", "FINISHED", "FAILED", "KILLED", "LOST"};

const char *dx_run_status_str(dx_run_status s) {
  return (unsigned)s <= DX_RUN_LOST ? status_names[s] : "UNKNOWN";
}

dx_run_status dx_store_parse_status(const char *s) {
  for (int i = 0; i < 4; i++)
    if (s && strcmp(s, status_names[i]) == 0) return (dx_run_status)i;
  /* The CHECK constraint makes this unreachable for files we wrote. */
  return DX_RUN_FAILED;
}

const char *dx_store_errmsg(const dx_store *st) { return st ? st->err : "no store"; }

struct sqlite3 *dx_store_db(dx_store *st) {
  return st->db;
}
