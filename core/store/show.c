/* One run in full for `ddpmx show`: its row, params, last metrics, plugins,
 * checkpoints and sample list, each part one query handed row by row to the
 * visitor's callback for that part. */
#include "store/internal.h"

/* Decodes the current row and calls the visitor; nonzero stops the part. */
typedef int (*row_fn)(sqlite3_stmt *q, const dx_run_visitor *v, void *user);

static int run_row(sqlite3_stmt *q, const dx_run_visitor *v, void *user) {
  dx_run_row r = {
      .id = sqlite3_column_int64(q, 0),
      .name = dx_store_col_str(q, 1),
      .status = dx_store_parse_status(dx_store_col_text(q, 2)),
      .error = dx_store_col_text(q, 3),
      .started_at = dx_store_col_str(q, 4),
      .ended_at = dx_store_col_text(q, 5),
      .seed = sqlite3_column_int64(q, 6),
      .experiment_yaml = dx_store_col_text(q, 7),
      .experiment_json = dx_store_col_text(q, 8),
      .ddpmx_version = dx_store_col_str(q, 9),
      .host = dx_store_col_text(q, 10),
      .command_line = dx_store_col_text(q, 11),
      .pid = sqlite3_column_int64(q, 12),
      .heartbeat_at = dx_store_col_text(q, 14),
      .world_size = sqlite3_column_int64(q, 15),
      .hosts = dx_store_col_text(q, 16),
  };
  if (r.status == DX_RUN_RUNNING) {
    r.process = dx_store_process_state(r.host, r.pid, dx_store_col_text(q, 13));
    if (r.process == DX_PROCESS_GONE) r.status = DX_RUN_LOST;
  }
  return v->run(&r, user);
}

static int param_row(sqlite3_stmt *q, const dx_run_visitor *v, void *user) {
  return v->param(dx_store_col_str(q, 0), dx_store_col_text(q, 1), user);
}

static int metric_row(sqlite3_stmt *q, const dx_run_visitor *v, void *user) {
  dx_metric_row m = {.name = dx_store_col_str(q, 0),
                     .step = sqlite3_column_int64(q, 1),
                     .is_null = sqlite3_column_type(q, 2) == SQLITE_NULL,
                     .value = sqlite3_column_double(q, 2)};
  return v->metric(&m, user);
}

static int plugin_row(sqlite3_stmt *q, const dx_run_visitor *v, void *user) {
  dx_store_plugin p = {.kind = dx_store_col_str(q, 0),
                       .name = dx_store_col_str(q, 1),
                       .version = dx_store_col_text(q, 2),
                       .path = dx_store_col_text(q, 3),
                       .sha256 = dx_store_col_text(q, 4)};
  return v->plugin(&p, user);
}

static int checkpoint_row(sqlite3_stmt *q, const dx_run_visitor *v, void *user) {
  dx_checkpoint_row c = {.step = sqlite3_column_int64(q, 0),
                         .path = dx_store_col_str(q, 1),
                         .sha256 = dx_store_col_text(q, 2),
                         .created_at = dx_store_col_text(q, 3)};
  return v->checkpoint(&c, user);
}

static int sample_row(sqlite3_stmt *q, const dx_run_visitor *v, void *user) {
  dx_sample_row s = {.step = sqlite3_column_int64(q, 0),
                     .tag = dx_store_col_str(q, 1),
                     .width = sqlite3_column_int64(q, 2),
                     .height = sqlite3_column_int64(q, 3),
                     .count = sqlite3_column_int64(q, 4),
                     .bytes = sqlite3_column_int64(q, 5)};
  return v->sample(&s, user);
}

typedef struct part {
  const char *sql; /* one parameter: the run id */
  row_fn row;
  bool wanted;
} part;

static dx_status each_row(dx_store *st, const part *p, int64_t run_id, const dx_run_visitor *v,
                          void *user) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st, p->sql, &q, "cannot read the run");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW)
    if (p->row(q, v, user) != 0) break;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = dx_store_db_fail(st, "cannot read the run");
  sqlite3_finalize(q);
  return s;
}

dx_status dx_store_show_run(dx_store *st, int64_t run_id, const dx_run_visitor *v, void *user) {
  const part parts[] = {
      {"SELECT id, name, status, error, started_at, ended_at, seed, experiment_yaml,"
       " experiment_json, ddpmx_version, host, command_line, pid, process_start, heartbeat_at,"
       " world_size, hosts FROM runs WHERE id = ?",
       run_row, v->run != NULL},
      {"SELECT key, value FROM params WHERE run_id = ? ORDER BY key", param_row, v->param != NULL},
      {"SELECT metric, step, value FROM last_metrics WHERE run_id = ? ORDER BY metric", metric_row,
       v->metric != NULL},
      {"SELECT kind, name, version, path, sha256 FROM plugins WHERE run_id = ?"
       " ORDER BY kind, name",
       plugin_row, v->plugin != NULL},
      {"SELECT step, path, sha256, created_at FROM checkpoints WHERE run_id = ? ORDER BY step",
       checkpoint_row, v->checkpoint != NULL},
      {"SELECT step, tag, width, height, count, length(png) FROM samples WHERE run_id = ?"
       " ORDER BY step, tag",
       sample_row, v->sample != NULL},
  };
  dx_status s = dx_store_check_run(st, run_id);
  for (size_t i = 0; s == DX_OK && i < sizeof parts / sizeof parts[0]; i++)
    if (parts[i].wanted) s = each_row(st, &parts[i], run_id, v, user);
  return s;
}
