/* The reads the CLI and a resume need: find a run, list runs, the latest
 * checkpoint. The CLI formats; nothing here prints. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/sha256.h"

bool dx_store_all_digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return false;
  return true;
}

dx_status dx_store_find_run(dx_store *st, const char *ref, int64_t *run_id) {
  if (!ref || !ref[0]) return dx_store_fail(st, DX_ERR_INVALID, "no run named");
  if (dx_store_all_digits(ref)) {
    errno = 0;
    long long id = strtoll(ref, NULL, 10);
    dx_status s = errno ? dx_store_fail(st, DX_ERR_INVALID, "no run with id %s", ref)
                        : dx_store_check_run(st, id);
    if (s == DX_OK) *run_id = id;
    return s;
  }
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, "SELECT id FROM runs WHERE name = ? ORDER BY id DESC LIMIT 1",
                                 &q, "cannot look up a run");
  if (s != DX_OK) return s;
  dx_store_bind_text(q, 1, ref);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW)
    *run_id = sqlite3_column_int64(q, 0);
  else if (rc == SQLITE_DONE)
    s = dx_store_fail(st, DX_ERR_INVALID, "no run named '%s' in %s (see ddpmx runs)", ref,
                      st->path);
  else
    s = dx_store_db_fail(st, "cannot look up a run");
  sqlite3_finalize(q);
  return s;
}

/* The last loss row is joined by rowid so that a NaN loss (stored as NULL)
 * still shows as a row rather than as "no loss". */
static const char list_sql[] =
    "SELECT r.id, r.name, r.status, r.started_at, r.ended_at,"
    "  (SELECT max(step) FROM metrics WHERE run_id = r.id), m.rowid IS NOT NULL, m.value,"
    "  r.host, r.pid, r.process_start"
    " FROM runs r LEFT JOIN metrics m ON m.rowid = (SELECT rowid FROM metrics"
    "   WHERE run_id = r.id AND name = 'loss' ORDER BY step DESC, rowid DESC LIMIT 1)"
    " WHERE (?1 = 0 OR r.sweep_id = ?1) AND (?2 IS NULL OR r.status = ?2)"
    "   AND (?3 IS NULL OR r.name GLOB ?3)"
    " ORDER BY r.id";

static void read_summary(sqlite3_stmt *q, dx_run_summary *r) {
  r->id = sqlite3_column_int64(q, 0);
  r->name = dx_store_col_str(q, 1);
  r->status = dx_store_parse_status(dx_store_col_text(q, 2));
  r->started_at = dx_store_col_str(q, 3);
  r->ended_at = dx_store_col_text(q, 4);
  r->has_step = sqlite3_column_type(q, 5) != SQLITE_NULL;
  r->last_step = sqlite3_column_int64(q, 5);
  r->has_loss = sqlite3_column_int(q, 6) != 0;
  r->last_loss = sqlite3_column_type(q, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 7);
  if (r->status == DX_RUN_RUNNING &&
      dx_store_process_state(dx_store_col_text(q, 8), sqlite3_column_int64(q, 9),
                             dx_store_col_text(q, 10)) == DX_PROCESS_GONE)
    r->status = DX_RUN_LOST;
}

dx_status dx_store_list_runs(dx_store *st, dx_run_summary_fn fn, void *user) {
  return dx_store_list_runs_where(st, &(dx_run_filter){0}, fn, user);
}

dx_status dx_store_list_runs_where(dx_store *st, const dx_run_filter *f, dx_run_summary_fn fn,
                                   void *user) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, list_sql, &q, "cannot list runs");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, f->sweep_id);
  /* LOST is never stored: it is a RUNNING row whose process is gone. */
  bool lost = f->status && strcmp(f->status, "LOST") == 0;
  dx_store_bind_text(q, 2, lost ? "RUNNING" : f->status);
  dx_store_bind_text(q, 3, f->name_glob);
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    dx_run_summary r;
    read_summary(q, &r);
    if (f->status && strcmp(dx_run_status_str(r.status), f->status) != 0) continue;
    if (fn(&r, user) != 0) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = dx_store_db_fail(st, "cannot list runs");
  sqlite3_finalize(q);
  return s;
}

static dx_status copy_checkpoint(dx_store *st, sqlite3_stmt *q, dx_store_checkpoint *out) {
  const char *path = dx_store_col_text(q, 1);
  const char *sha = dx_store_col_text(q, 2);
  if (snprintf(out->path, sizeof out->path, "%s", path ? path : "") >= (int)sizeof out->path)
    return dx_store_fail(st, DX_ERR_INVALID, "checkpoint path longer than %zu bytes: %.64s...",
                         sizeof out->path - 1, path);
  snprintf(out->sha256, sizeof out->sha256, "%s", sha ? sha : "");
  out->step = sqlite3_column_int64(q, 0);
  return DX_OK;
}

/* Why c cannot be resumed from, or "" when it can. */
static void check_file(const dx_store_checkpoint *c, char *why, size_t len) {
  char hex[65], err[DX_ERRMSG_MAX];
  why[0] = '\0';
  if (dx_sha256_file(c->path, hex, err, sizeof err) != DX_OK)
    snprintf(why, len, "%s", err);
  else if (c->sha256[0] && strcmp(hex, c->sha256) != 0)
    snprintf(why, len, "%s: its SHA-256 is %.12s..., not the %.12s... recorded when it was written",
             c->path, hex, c->sha256);
}

/* The newest checkpoint of run_id, or with verify the newest whose file
 * checks out, each one passed over going to refused. */
static dx_status newest(dx_store *st, int64_t run_id, bool verify, dx_store_checkpoint *out,
                        bool *found, dx_checkpoint_refused_fn refused, void *user) {
  *found = false;
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st,
                                 "SELECT step, path, sha256 FROM checkpoints WHERE run_id = ?"
                                 " ORDER BY step DESC",
                                 &q, "cannot read checkpoints");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  int rc = SQLITE_DONE;
  char why[8192] = "";
  while (!*found && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    dx_store_checkpoint c;
    if ((s = copy_checkpoint(st, q, &c)) != DX_OK) break;
    if (verify) check_file(&c, why, sizeof why);
    if (!why[0])
      *out = c, *found = true;
    else if (refused)
      refused(&c, why, user);
  }
  if (s == DX_OK && !*found && rc != SQLITE_DONE)
    s = dx_store_db_fail(st, "cannot read checkpoints");
  sqlite3_finalize(q);
  return s;
}

dx_status dx_store_latest_checkpoint(dx_store *st, int64_t run_id, dx_store_checkpoint *out,
                                     bool *found) {
  return newest(st, run_id, false, out, found, NULL, NULL);
}

dx_status dx_store_good_checkpoint(dx_store *st, int64_t run_id, dx_store_checkpoint *out,
                                   bool *found, dx_checkpoint_refused_fn refused, void *user) {
  return newest(st, run_id, true, out, found, refused, user);
}
