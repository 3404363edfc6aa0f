/* What the store's files share: the store object and SQLite helpers. */
#ifndef DX_STORE_INTERNAL_H
#define DX_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdarg.h>

#include "store/store.h"

/* ISO-8601 UTC with milliseconds, as SQL, so the database clock stamps rows. */
#define DX_STORE_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

typedef struct pending_metric {
  int64_t run_id, step;
  double value, wall_time;
  char name[DX_STORE_METRIC_NAME_MAX];
} pending_metric;

struct dx_store {
  sqlite3 *db;
  char *path;
  char err[DX_ERRMSG_MAX];
  pending_metric *rows; /* buffered metrics, oldest first */
  size_t n_rows, cap_rows, batch;
  int64_t known_run; /* the run last checked to exist; 0: none */
};

/* Sets the store's message (dx_errf, util/err.h) and returns s. */
dx_status dx_store_fail(dx_store *st, dx_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* DX_ERR_DB with "what: SQLite's message (path)". */
dx_status dx_store_db_fail(dx_store *st, const char *what);

dx_status dx_store_exec(dx_store *st, const char *sql, const char *what);
/* BEGIN IMMEDIATE: takes the write lock up front, so a busy database makes us
 * wait (busy_timeout) instead of failing half-way through a transaction. */
dx_status dx_store_begin(dx_store *st, const char *what);
dx_status dx_store_commit(dx_store *st, const char *what);
/* Keeps the first error's message. */
void dx_store_rollback(dx_store *st);

dx_status dx_store_prepare(dx_store *st, const char *sql, sqlite3_stmt **stmt, const char *what);
/* The first column of the first row of sql, an integer. */
dx_status dx_store_query_int(dx_store *st, const char *sql, int64_t *v, const char *what);
/* Steps a statement that returns no rows, then finalizes it. */
dx_status dx_store_run_stmt(dx_store *st, sqlite3_stmt *stmt, const char *what);
/* As dx_store_run_stmt, for the writes that must land even on a full disk
 * (a run's end): when the write fails for want of space, the WAL is
 * checkpointed into the database and truncated, and the write tried once
 * more in the room that frees. */
dx_status dx_store_run_reusing_wal(dx_store *st, sqlite3_stmt *stmt, const char *what);
/* Binds text, or NULL for a NULL pointer. */
int dx_store_bind_text(sqlite3_stmt *stmt, int i, const char *s);
/* Column text, NULL for SQL NULL. */
const char *dx_store_col_text(sqlite3_stmt *stmt, int i);
/* Column text, "" for SQL NULL: for columns the schema declares NOT NULL,
 * which only a damaged or hand-edited file leaves NULL, so that readers may
 * rely on the string. */
const char *dx_store_col_str(sqlite3_stmt *stmt, int i);

/* Checks that a run exists, with a message naming it if not. */
dx_status dx_store_check_run(dx_store *st, int64_t run_id);

dx_run_status dx_store_parse_status(const char *s);
/* A run or sweep id as written: decimal digits only, at least one. */
bool dx_store_all_digits(const char *s);

/* process.c: the token of a live process (false if there is none), and
 * whether the process a run recorded is still there. UNKNOWN: another host,
 * or a row from before schema 3. */
bool dx_store_process_token(int64_t pid, char *buf, size_t len);
dx_process_state dx_store_process_state(const char *host, int64_t pid, const char *token);

/* Applies migrations until the file is at `target` (schema.c). */
dx_status dx_store_migrate(dx_store *st, int target);

#endif
