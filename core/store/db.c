/* SQLite helpers shared by the store's files: errors, transactions, binding. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include "store/internal.h"
#include "util/err.h"

dx_status dx_store_fail(dx_store *st, dx_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dx_verrf(st->err, sizeof st->err, s, NULL, fmt, ap);
  va_end(ap);
  return s;
}

/* Why a write may have failed, when SQLite does not say (it reports a
 * failed write as "disk I/O error" and often keeps no errno): a file-size
 * limit, or a disk with no room left. "" when neither holds. */
static void write_hint(const char *path, char *buf, size_t len) {
  struct rlimit rl;
  struct statvfs fs;
  char dir[4096];
  const char *slash = strrchr(path, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
  buf[0] = '\0';
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    snprintf(buf, len, "; files may not grow past %llu bytes here, see ulimit -f",
             (unsigned long long)rl.rlim_cur);
  else if (statvfs(dir[0] ? dir : "/", &fs) == 0 &&
           (unsigned long long)fs.f_bavail * fs.f_frsize < (1u << 20))
    snprintf(buf, len, "; the disk is full (%llu bytes free)",
             (unsigned long long)fs.f_bavail * fs.f_frsize);
}

dx_status dx_store_db_fail(dx_store *st, const char *what) {
  int code = sqlite3_errcode(st->db) & 0xff, sys = sqlite3_system_errno(st->db);
  char hint[160] = "";
  if (code == SQLITE_IOERR || code == SQLITE_FULL) {
    if (sys)
      snprintf(hint, sizeof hint, ": %s", strerror(sys));
    else
      write_hint(st->path, hint, sizeof hint);
  }
  return dx_store_fail(st, DX_ERR_DB, "%s: %s (%s%s)", what, sqlite3_errmsg(st->db), st->path,
                       hint);
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

dx_status dx_store_run_reusing_wal(dx_store *st, sqlite3_stmt *stmt, const char *what) {
  int rc = sqlite3_step(stmt);
  if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL) {
    sqlite3_reset(stmt);
    sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    rc = sqlite3_step(stmt);
  }
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

const char *dx_store_col_str(sqlite3_stmt *stmt, int i) {
  const char *s = dx_store_col_text(stmt, i);
  return s ? s : "";
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
