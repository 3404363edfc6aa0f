/* The schema as a list of forward migrations. Step i takes a file from
 * user_version i to i + 1 inside one transaction, so a file is always at
 * exactly one version, whatever crashes. Never edit a step that has shipped:
 * add one. docs/store.md describes the result for users. */
#include <stdio.h>

#include "store/internal.h"

static const char *const migrations[DX_STORE_SCHEMA_VERSION] = {
    /* 1: the tables. */
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reuse an id: files name runs by it */
    "  name TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'RUNNING'"
    "    CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED', 'KILLED')),"
    "  error TEXT,"
    "  started_at TEXT NOT NULL DEFAULT (" DX_STORE_NOW "),"
    "  ended_at TEXT,"
    "  seed INTEGER NOT NULL,"
    "  experiment_yaml TEXT,"
    "  experiment_json TEXT,"
    "  ddpmx_version TEXT NOT NULL,"
    "  host TEXT,"
    "  command_line TEXT);"
    "CREATE TABLE params ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT,"
    "  PRIMARY KEY (run_id, key));"
    "CREATE TABLE metrics ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  value REAL,"
    "  wall_time REAL NOT NULL);"
    "CREATE TABLE samples ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step INTEGER NOT NULL,"
    "  tag TEXT NOT NULL,"
    "  png BLOB NOT NULL,"
    "  width INTEGER NOT NULL,"
    "  height INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  UNIQUE (run_id, step, tag));"
    "CREATE TABLE plugins ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  version TEXT,"
    "  path TEXT,"
    "  sha256 TEXT,"
    "  UNIQUE (run_id, kind, name, path));"
    "CREATE TABLE checkpoints ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step INTEGER NOT NULL,"
    "  path TEXT NOT NULL,"
    "  sha256 TEXT,"
    "  created_at TEXT NOT NULL DEFAULT (" DX_STORE_NOW "),"
    "  UNIQUE (run_id, step));",

    /* 2: an index for per-run metric curves, and the comparison views. */
    "CREATE INDEX metrics_by_run_name_step ON metrics (run_id, name, step);"
    /* SQLite takes the bare columns of a max() aggregate from the row that
     * holds the max, which gives each metric's last row in one indexed pass. */
    "CREATE VIEW last_metrics AS"
    "  SELECT m.run_id, r.name AS run_name, m.name AS metric, max(m.step) AS step, m.value"
    "  FROM metrics m JOIN runs r ON r.id = m.run_id"
    "  GROUP BY m.run_id, m.name;"
    "CREATE VIEW runs_overview AS"
    "  SELECT r.id, r.name, r.status,"
    "    (SELECT value FROM params WHERE run_id = r.id"
    "       AND key = 'diffusion.schedule.plugin') AS schedule,"
    "    (SELECT value FROM params WHERE run_id = r.id AND key = 'diffusion.loss.plugin') AS loss,"
    "    (SELECT value FROM params WHERE run_id = r.id"
    "       AND key = 'diffusion.sampler.plugin') AS sampler,"
    "    (SELECT value FROM params WHERE run_id = r.id AND key = 'model.block.plugin') AS block,"
    "    (SELECT CAST(value AS INTEGER) FROM params WHERE run_id = r.id"
    "       AND key = 'diffusion.T') AS T,"
    "    (SELECT CAST(value AS REAL) FROM params WHERE run_id = r.id AND key = 'train.lr') AS lr,"
    "    (SELECT CAST(value AS INTEGER) FROM params WHERE run_id = r.id"
    "       AND key = 'train.batch') AS batch,"
    "    (SELECT CAST(value AS INTEGER) FROM params WHERE run_id = r.id"
    "       AND key = 'train.steps') AS steps,"
    "    (SELECT value FROM metrics WHERE run_id = r.id AND name = 'loss'"
    "       ORDER BY step DESC, rowid DESC LIMIT 1) AS last_loss,"
    "    (SELECT min(value) FROM metrics WHERE run_id = r.id AND name = 'bpd') AS best_bpd,"
    "    r.started_at, r.ended_at"
    "  FROM runs r;",

    /* 3: the process behind a run, so that one whose process died is told
     * from one still training (process.c), and where an MPI run ran. */
    "ALTER TABLE runs ADD COLUMN pid INTEGER;"
    "ALTER TABLE runs ADD COLUMN process_start TEXT;"
    "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;"
    "ALTER TABLE runs ADD COLUMN world_size INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE runs ADD COLUMN hosts TEXT;",

    /* 4: sweeps. A sweep is the Cartesian product of a few override lists
     * over one experiment file; each cell is an ordinary run that points
     * back at its sweep and says which values it took. */
    "CREATE TABLE sweeps ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL,"
    "  file TEXT NOT NULL,"      /* the experiment file, as given */
    "  axes TEXT NOT NULL,"      /* JSON: [{\"key\": K, \"values\": [V, ...]}, ...] */
    "  overrides TEXT NOT NULL," /* JSON: the single-valued overrides, in order */
    "  created_at TEXT NOT NULL DEFAULT (" DX_STORE_NOW "),"
    "  UNIQUE (file, axes, overrides));"
    "ALTER TABLE runs ADD COLUMN sweep_id INTEGER REFERENCES sweeps(id) ON DELETE SET NULL;"
    "ALTER TABLE runs ADD COLUMN cell TEXT;" /* 'key=value,key=value' of the sweep's axes */
    "CREATE INDEX runs_by_sweep_cell ON runs (sweep_id, cell);",
};

/* One step in its own transaction. The version is read again under the
 * write lock: another process may have migrated the file meanwhile. */
static dx_status migrate_step(dx_store *st, int target, bool *done) {
  dx_status s = dx_store_begin(st, "cannot start a migration");
  int64_t v = 0;
  if (s == DX_OK)
    s = dx_store_query_int(st, "PRAGMA user_version", &v, "cannot read the schema version");
  if (s == DX_OK && (v < 0 || v > DX_STORE_SCHEMA_VERSION))
    s = dx_store_fail(st, DX_ERR_DB, "%s has schema version %lld; this ddpmx knows 0 to %d",
                      st->path, (long long)v, DX_STORE_SCHEMA_VERSION);
  *done = s == DX_OK && v >= target;
  if (s == DX_OK && !*done) {
    char what[64], pragma[96];
    snprintf(what, sizeof what, "cannot migrate the schema to version %lld", (long long)v + 1);
    snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = %lld",
             DX_STORE_APPLICATION_ID, (long long)v + 1);
    s = dx_store_exec(st, migrations[v], what);
    if (s == DX_OK) s = dx_store_exec(st, pragma, what);
  }
  if (s == DX_OK) return dx_store_commit(st, "cannot commit a migration");
  dx_store_rollback(st);
  return s;
}

dx_status dx_store_migrate(dx_store *st, int target) {
  bool done = false;
  while (!done) {
    dx_status s = migrate_step(st, target, &done);
    if (s != DX_OK) return s;
  }
  return DX_OK;
}
