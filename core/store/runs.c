/* A run's life in the store: begin (RUNNING, with its params), the plugins
 * and checkpoints it records, and its end. Each call is one transaction,
 * committed before it returns, so the status a user sees is never stale by
 * more than the metrics still buffered. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/internal.h"
#include "util/sha256.h"

#ifndef DDPMX_VERSION
#define DDPMX_VERSION "unknown"
#endif

/* Binds this process as the run's: host, pid and start token at i, i+1, i+2. */
static void bind_process(sqlite3_stmt *q, int i, const char *host) {
  char here[256] = "", token[128];
  if (!host && gethostname(here, sizeof here - 1) != 0) here[0] = '\0';
  dx_store_bind_text(q, i, host ? host : here);
  sqlite3_bind_int64(q, i + 1, (sqlite3_int64)getpid());
  dx_store_bind_text(q, i + 2,
                     dx_store_process_token(getpid(), token, sizeof token) ? token : NULL);
}

static dx_status insert_run(dx_store *st, const dx_run_info *in, int64_t *run_id) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st,
                                 "INSERT INTO runs (name, seed, experiment_yaml, experiment_json,"
                                 " ddpmx_version, command_line, host, pid, process_start,"
                                 " heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?," DX_STORE_NOW ")",
                                 &q, "cannot record the run");
  if (s != DX_OK) return s;
  dx_store_bind_text(q, 1, in->name);
  sqlite3_bind_int64(q, 2, in->seed);
  dx_store_bind_text(q, 3, in->experiment_yaml);
  dx_store_bind_text(q, 4, in->experiment_json);
  dx_store_bind_text(q, 5, in->ddpmx_version ? in->ddpmx_version : DDPMX_VERSION);
  dx_store_bind_text(q, 6, in->command_line);
  bind_process(q, 7, in->host);
  s = dx_store_run_stmt(st, q, "cannot record the run");
  *run_id = sqlite3_last_insert_rowid(st->db);
  return s;
}

/* A sweep's cell says so in the same transaction as the run's row. */
static dx_status mark_cell(dx_store *st, const dx_run_info *in, int64_t run_id) {
  if (in->sweep_id <= 0 && !in->cell) return DX_OK;
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, "UPDATE runs SET sweep_id = ?, cell = ? WHERE id = ?", &q,
                                 "cannot record the run's sweep");
  if (s != DX_OK) return s;
  if (in->sweep_id > 0) sqlite3_bind_int64(q, 1, in->sweep_id);
  dx_store_bind_text(q, 2, in->cell);
  sqlite3_bind_int64(q, 3, run_id);
  return dx_store_run_stmt(st, q, "cannot record the run's sweep");
}

static dx_status insert_params(dx_store *st, const dx_run_info *in, int64_t run_id) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)", &q,
                                 "cannot record the run's parameters");
  for (size_t i = 0; s == DX_OK && i < in->n_params; i++) {
    sqlite3_bind_int64(q, 1, run_id);
    dx_store_bind_text(q, 2, in->param_keys[i]);
    dx_store_bind_text(q, 3, in->param_values[i]);
    if (sqlite3_step(q) != SQLITE_DONE) {
      char what[160];
      snprintf(what, sizeof what, "cannot record parameter '%s'",
               in->param_keys[i] ? in->param_keys[i] : "(null)");
      s = dx_store_db_fail(st, what);
    }
    sqlite3_reset(q);
  }
  sqlite3_finalize(q);
  return s;
}

dx_status dx_store_run_begin(dx_store *st, const dx_run_info *info, int64_t *run_id) {
  if (!info->name || !info->name[0]) return dx_store_fail(st, DX_ERR_INVALID, "a run needs a name");
  if (info->n_params && (!info->param_keys || !info->param_values))
    return dx_store_fail(st, DX_ERR_INVALID, "%zu parameters given without keys or values",
                         info->n_params);
  int64_t id = 0;
  dx_status s = dx_store_begin(st, "cannot record the run");
  if (s == DX_OK) s = insert_run(st, info, &id);
  if (s == DX_OK) s = mark_cell(st, info, id);
  if (s == DX_OK) s = insert_params(st, info, id);
  if (s == DX_OK)
    s = dx_store_commit(st, "cannot commit the run");
  else
    dx_store_rollback(st);
  if (s == DX_OK) *run_id = id;
  return s;
}

dx_status dx_store_set_param(dx_store *st, int64_t run_id, const char *key, const char *value) {
  sqlite3_stmt *q;
  dx_status s =
      dx_store_prepare(st, "INSERT OR REPLACE INTO params (run_id, key, value) VALUES (?, ?, ?)",
                       &q, "cannot record a parameter");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  dx_store_bind_text(q, 2, key);
  dx_store_bind_text(q, 3, value);
  int rc = sqlite3_step(q);
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) {
    char what[160];
    snprintf(what, sizeof what, "cannot record parameter '%s'", key);
    return dx_store_db_fail(st, what);
  }
  return DX_OK;
}

/* One UPDATE of one run, committed on its own; fails if the run is missing. */
static dx_status update_run(dx_store *st, sqlite3_stmt *q, int64_t run_id, const char *what);

dx_status dx_store_set_ranks(dx_store *st, int64_t run_id, int64_t world_size, const char *hosts) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, "UPDATE runs SET world_size = ?, hosts = ? WHERE id = ?", &q,
                                 "cannot record the ranks");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, world_size);
  dx_store_bind_text(q, 2, hosts);
  sqlite3_bind_int64(q, 3, run_id);
  return update_run(st, q, run_id, "cannot record the ranks");
}

static dx_status update_run(dx_store *st, sqlite3_stmt *q, int64_t run_id, const char *what) {
  int rc = sqlite3_step(q);
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) return dx_store_db_fail(st, what);
  if (sqlite3_changes(st->db) == 0)
    return dx_store_fail(st, DX_ERR_INVALID, "%s: no run with id %lld in %s", what,
                         (long long)run_id, st->path);
  return DX_OK;
}

dx_status dx_store_run_end(dx_store *st, int64_t run_id, dx_run_status status, const char *error) {
  if (status == DX_RUN_RUNNING || (unsigned)status > DX_RUN_KILLED)
    return dx_store_fail(st, DX_ERR_INVALID, "a run cannot end with status %s",
                         dx_run_status_str(status));
  /* The end is recorded even when the flush fails: a run must never stay
   * RUNNING because its last metrics could not be written. */
  dx_store_flush(st);
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(
      st, "UPDATE runs SET status = ?, error = ?, ended_at = " DX_STORE_NOW " WHERE id = ?", &q,
      "cannot record the end of the run");
  if (s == DX_OK) {
    dx_store_bind_text(q, 1, dx_run_status_str(status));
    dx_store_bind_text(q, 2, error);
    sqlite3_bind_int64(q, 3, run_id);
    s = dx_store_run_reusing_wal(st, q, "cannot record the end of the run");
    if (s == DX_OK && sqlite3_changes(st->db) == 0)
      s = dx_store_fail(st, DX_ERR_INVALID,
                        "cannot record the end of the run: no run with id %lld in %s",
                        (long long)run_id, st->path);
  }
  return s;
}

static dx_status delete_after(dx_store *st, const char *sql, int64_t run_id, int64_t step) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, sql, &q, "cannot reopen the run");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  sqlite3_bind_int64(q, 2, step);
  return dx_store_run_stmt(st, q, "cannot reopen the run");
}

dx_status dx_store_run_reopen(dx_store *st, int64_t run_id, int64_t from_step) {
  dx_status s = dx_store_flush(st);
  if (s == DX_OK) s = dx_store_begin(st, "cannot reopen the run");
  if (s != DX_OK) return s;
  sqlite3_stmt *q;
  s = dx_store_prepare(st,
                       "UPDATE runs SET status = 'RUNNING', error = NULL, ended_at = NULL,"
                       " host = ?, pid = ?, process_start = ?, heartbeat_at = " DX_STORE_NOW
                       " WHERE id = ?",
                       &q, "cannot reopen the run");
  if (s == DX_OK) {
    bind_process(q, 1, NULL);
    sqlite3_bind_int64(q, 4, run_id);
    s = update_run(st, q, run_id, "cannot reopen the run");
  }
  if (s == DX_OK)
    s = delete_after(st, "DELETE FROM metrics WHERE run_id = ? AND step > ?", run_id, from_step);
  if (s == DX_OK)
    s = delete_after(st, "DELETE FROM samples WHERE run_id = ? AND step > ?", run_id, from_step);
  if (s == DX_OK) return dx_store_commit(st, "cannot commit the reopened run");
  dx_store_rollback(st);
  return s;
}

/* The given checksum, or the file's own; "" when neither is to be had. */
static dx_status checksum(dx_store *st, const char *given, const char *path, char hex[65]) {
  hex[0] = '\0';
  if (given) {
    snprintf(hex, 65, "%s", given);
    return DX_OK;
  }
  if (!path) return DX_OK;
  return dx_sha256_file(path, hex, st->err, sizeof st->err);
}

/* The checksum first: hashing a missing file fails before any SQL runs. */
static dx_status prepare_record(dx_store *st, const char *sql, const char *given, const char *path,
                                char hex[65], sqlite3_stmt **q, const char *what) {
  dx_status s = checksum(st, given, path, hex);
  return s == DX_OK ? dx_store_prepare(st, sql, q, what) : s;
}

dx_status dx_store_add_plugin(dx_store *st, int64_t run_id, const dx_store_plugin *p) {
  if (!p->kind || !p->name)
    return dx_store_fail(st, DX_ERR_INVALID, "a plugin record needs a kind and a name");
  char hex[65];
  sqlite3_stmt *q;
  dx_status s = prepare_record(st,
                               "INSERT OR IGNORE INTO plugins"
                               " (run_id, kind, name, version, path, sha256)"
                               " VALUES (?, ?, ?, ?, ?, ?)",
                               p->sha256, p->path, hex, &q, "cannot record a plugin");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  dx_store_bind_text(q, 2, p->kind);
  dx_store_bind_text(q, 3, p->name);
  dx_store_bind_text(q, 4, p->version);
  dx_store_bind_text(q, 5, p->path);
  dx_store_bind_text(q, 6, hex[0] ? hex : NULL);
  return dx_store_run_stmt(st, q, "cannot record a plugin");
}

dx_status dx_store_add_checkpoint(dx_store *st, int64_t run_id, int64_t step, const char *path,
                                  const char *sha256) {
  if (!path) return dx_store_fail(st, DX_ERR_INVALID, "a checkpoint record needs a path");
  char hex[65];
  sqlite3_stmt *q;
  dx_status s = prepare_record(st,
                               "INSERT OR REPLACE INTO checkpoints (run_id, step, path, sha256)"
                               " VALUES (?, ?, ?, ?)",
                               sha256, path, hex, &q, "cannot record a checkpoint");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  sqlite3_bind_int64(q, 2, step);
  dx_store_bind_text(q, 3, path);
  dx_store_bind_text(q, 4, hex);
  return dx_store_run_stmt(st, q, "cannot record a checkpoint");
}
