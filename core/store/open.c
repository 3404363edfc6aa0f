/* Opening a store: check whose file it is, set the connection up, migrate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#include "store/internal.h"

/* Long enough to ride out another run's batch or a checkpoint of the WAL. */
#define BUSY_TIMEOUT_MS 10000

/* The three facts that say whose file this is, read in one statement so that
 * they come from one snapshot: read one by one, they could straddle another
 * process's first migration and describe a file that never existed. */
static dx_status read_header(dx_store *st, int64_t *app, int64_t *version, int64_t *objects) {
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(st->db,
                         "SELECT a.application_id, v.user_version,"
                         " (SELECT count(*) FROM sqlite_master)"
                         " FROM pragma_application_id AS a, pragma_user_version AS v",
                         -1, &q, NULL) != SQLITE_OK) {
    if (sqlite3_errcode(st->db) == SQLITE_NOTADB)
      return dx_store_fail(st, DX_ERR_DB, "%s is not an SQLite database", st->path);
    return dx_store_db_fail(st, "cannot read the file header");
  }
  int rc = sqlite3_step(q);
  *app = sqlite3_column_int64(q, 0);
  *version = sqlite3_column_int64(q, 1);
  *objects = sqlite3_column_int64(q, 2);
  sqlite3_finalize(q);
  return rc == SQLITE_ROW ? DX_OK : dx_store_db_fail(st, "cannot read the file header");
}

/* Refuses, before writing anything, a file that some other program owns or
 * that a newer ddpmx has migrated past what this code understands. */
static dx_status check_identity(dx_store *st) {
  int64_t app = 0, version = 0, objects = 0;
  dx_status s = read_header(st, &app, &version, &objects);
  if (s != DX_OK) return s;
  if (app != DX_STORE_APPLICATION_ID && (app != 0 || version != 0 || objects != 0))
    return dx_store_fail(st, DX_ERR_DB,
                         "%s is an SQLite database of another program (application_id 0x%08llx), "
                         "not a ddpmx run store; choose another file with --db",
                         st->path, (unsigned long long)app);
  if (version > DX_STORE_SCHEMA_VERSION)
    return dx_store_fail(st, DX_ERR_DB,
                         "%s has schema version %lld, newer than this ddpmx knows (%d); "
                         "use a newer ddpmx",
                         st->path, (long long)version, DX_STORE_SCHEMA_VERSION);
  if (version < 0)
    return dx_store_fail(st, DX_ERR_DB, "%s has schema version %lld, which no ddpmx writes",
                         st->path, (long long)version);
  return DX_OK;
}

/* On a new file that two processes open at once, the switch to WAL (which
 * needs an exclusive lock) can fail BUSY without SQLite's busy handler being
 * asked, so wait for it here, as long as the busy timeout would. */
static dx_status switch_to_wal(dx_store *st) {
  for (int waited = 0;; waited += 10) {
    sqlite3_stmt *q;
    dx_status s = dx_store_prepare(st, "PRAGMA journal_mode = WAL", &q, "cannot switch to WAL");
    if (s != DX_OK) return s;
    int rc = sqlite3_step(q);
    const char *mode = rc == SQLITE_ROW ? dx_store_col_text(q, 0) : NULL;
    if (mode && strcmp(mode, "wal") != 0)
      s = dx_store_fail(st, DX_ERR_DB,
                        "cannot switch %s to WAL mode (it stays in %s mode); is it on a network"
                        " file system?",
                        st->path, mode);
    else if (!mode && (rc != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS))
      s = dx_store_db_fail(st, "cannot switch to WAL mode");
    sqlite3_finalize(q);
    if (mode || s != DX_OK) return s;
    sqlite3_sleep(10);
  }
}

/* WAL lets readers and one writer work at once; synchronous=FULL makes each
 * commit reach the disk before it returns, so a status change is durable. */
static dx_status configure(dx_store *st) {
  dx_status s = switch_to_wal(st);
  if (s != DX_OK) return s;
  return dx_store_exec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
                       "cannot configure the connection");
}

static dx_status open_connection(dx_store *st, const char *path, int version) {
  st->path = strdup(path);
  if (!st->path) return dx_store_fail(st, DX_ERR_NOMEM, "out of memory opening %s", path);
  if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
    return dx_store_fail(st, DX_ERR_IO, "cannot open %s: %s", path,
                         st->db ? sqlite3_errmsg(st->db) : "out of memory");
  sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
  dx_status s = check_identity(st);
  if (s == DX_OK) s = configure(st);
  if (s == DX_OK) s = dx_store_migrate(st, version);
  return s;
}

dx_status dx_store_open_at_version(const char *path, int version, dx_store **out, char *err,
                                   size_t errlen) {
  *out = NULL;
  dx_store *st = calloc(1, sizeof *st);
  if (!st) {
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory opening %s", path);
  }
  st->batch = DX_STORE_DEFAULT_BATCH;
  dx_status s = DX_OK;
  if (version < 1 || version > DX_STORE_SCHEMA_VERSION)
    s = dx_store_fail(st, DX_ERR_INVALID, "schema version %d is not in 1..%d", version,
                      DX_STORE_SCHEMA_VERSION);
  if (s == DX_OK) s = open_connection(st, path, version);
  if (s != DX_OK) {
    if (err && errlen) snprintf(err, errlen, "%s", st->err);
    dx_store_close(st, NULL, 0);
    return s;
  }
  *out = st;
  return DX_OK;
}

dx_status dx_store_open(const char *path, dx_store **out, char *err, size_t errlen) {
  return dx_store_open_at_version(path, DX_STORE_SCHEMA_VERSION, out, err, errlen);
}

dx_status dx_store_close(dx_store *st, char *err, size_t errlen) {
  if (!st) return DX_OK;
  dx_status s = st->db && st->n_rows ? dx_store_flush(st) : DX_OK;
  if (s != DX_OK && err && errlen) snprintf(err, errlen, "%s", st->err);
  /* close_v2: any statement a bug left open cannot keep the file locked. */
  sqlite3_close_v2(st->db);
  free(st->rows);
  free(st->path);
  free(st);
  return s;
}
