/* The run store: one SQLite file holding many runs (DESIGN.md §5).
 *
 * A run is recorded as RUNNING when it begins and every status change is
 * committed at once; metrics are buffered and written in batched
 * transactions, so a crash loses at most the rows not yet flushed and never
 * corrupts the file. docs/store.md describes the schema for people who query
 * it with SQL.
 *
 * Errors: every function returns a dx_status and leaves one line in the
 * store's message (dx_store_errmsg); dx_store_open, which has no store yet,
 * writes into the caller's buffer. Strings handed to callbacks are valid only
 * during the call. A store serves one thread at a time, and never a signal
 * handler: let the handler set a flag and end the run from the main loop. */
#ifndef DX_STORE_H
#define DX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/export.h"
#include "ddpmx/status.h"

/* 'DDPX': marks a file as ours (PRAGMA application_id). */
#define DX_STORE_APPLICATION_ID 0x44445058
/* The schema version this code writes (PRAGMA user_version). */
#define DX_STORE_SCHEMA_VERSION 4
/* Metric rows buffered before a flush, unless dx_store_set_batch says otherwise. */
#define DX_STORE_DEFAULT_BATCH 256
/* Metric names are shorter than this: room for a sampler given with its
 * parameters in an eval metric (fid/dpmpp_2m:sde=true,spacing=uniform-20/...). */
#define DX_STORE_METRIC_NAME_MAX 128

typedef struct dx_store dx_store;
struct sqlite3;

typedef enum dx_run_status {
  DX_RUN_RUNNING,
  DX_RUN_FINISHED,
  DX_RUN_FAILED,
  DX_RUN_KILLED,
  /* Never stored: what listing and showing report for a RUNNING row whose
   * process is gone from this host (killed with -9, a crash, a reboot). */
  DX_RUN_LOST
} dx_run_status;

/* What this machine can tell about the process of a RUNNING run. */
typedef enum dx_process_state {
  DX_PROCESS_UNKNOWN, /* another host, or no process recorded */
  DX_PROCESS_ALIVE,
  DX_PROCESS_GONE
} dx_process_state;

/* "RUNNING", "FINISHED", ... as stored in runs.status ("LOST" is shown only). */
DX_API const char *dx_run_status_str(dx_run_status s);

/* ---- opening ---------------------------------------------------------- */

/* Opens path, creating the file (its folder must exist) or migrating it
 * forward to DX_STORE_SCHEMA_VERSION. Refuses a file that is not
 * SQLite, belongs to another program, or has a newer schema than this code. */
DX_API dx_status dx_store_open(const char *path, dx_store **out, char *err, size_t errlen);
/* As dx_store_open but stops migrating at `version` (1..latest): for tests
 * that need a file as an older ddpmx left it. */
DX_API dx_status dx_store_open_at_version(const char *path, int version, dx_store **out, char *err,
                                          size_t errlen);
/* Flushes buffered metrics and closes. Returns the flush's status; the store
 * is freed either way (a NULL store is a no-op). On failure the message goes
 * to err when given. */
DX_API dx_status dx_store_close(dx_store *st, char *err, size_t errlen);
DX_API const char *dx_store_errmsg(const dx_store *st);
/* The connection, for tests and callers that need raw SQL. */
DX_API struct sqlite3 *dx_store_db(dx_store *st);

/* ---- writing a run ---------------------------------------------------- */

typedef struct dx_run_info {
  const char *name;
  int64_t seed;
  const char *experiment_yaml; /* the file as written; may be NULL */
  const char *experiment_json; /* the resolved experiment; may be NULL */
  const char *ddpmx_version;   /* NULL: this library's version */
  const char *host;            /* NULL: gethostname() */
  const char *command_line;    /* may be NULL */
  /* The resolved experiment flattened: param_keys[i] = param_values[i]. */
  const char *const *param_keys;
  const char *const *param_values;
  size_t n_params;
  int64_t sweep_id; /* the sweep this run is a cell of; 0: none */
  const char *cell; /* the cell's axis values, "key=value,..."; NULL: none */
} dx_run_info;

/* Records a RUNNING run with its params, committed before returning, and
 * this process (host, pid, start) as the one running it. Every metrics
 * flush stamps runs.heartbeat_at. */
DX_API dx_status dx_store_run_begin(dx_store *st, const dx_run_info *info, int64_t *run_id);
/* Records (or replaces) one parameter of a run, committed at once: what
 * is known only once the run starts, such as the device it got. */
DX_API dx_status dx_store_set_param(dx_store *st, int64_t run_id, const char *key,
                                    const char *value);
/* Records the processes that train the run (its MPI ranks) and their hosts
 * (NULL for one process), committed at once; a resume on another number of
 * ranks records its own. */
DX_API dx_status dx_store_set_ranks(dx_store *st, int64_t run_id, int64_t world_size,
                                    const char *hosts);
/* Flushes metrics, then records the final status (and error text, or NULL)
 * and the end time, committed before returning. The status is recorded
 * even when the flush fails (a full disk): the rows stay buffered, and
 * dx_store_close tries them once more and reports them if they still fail. */
DX_API dx_status dx_store_run_end(dx_store *st, int64_t run_id, dx_run_status status,
                                  const char *error);
/* Makes a run RUNNING again to resume it from a checkpoint at from_step:
 * clears its end time and error, records this process as its own, and
 * deletes metrics and samples logged after from_step, which the resumed run
 * will log again. */
DX_API dx_status dx_store_run_reopen(dx_store *st, int64_t run_id, int64_t from_step);

typedef struct dx_store_plugin {
  const char *kind; /* schedule, block, loss, sampler */
  const char *name;
  const char *version;
  const char *path;
  const char *sha256; /* 64 hex digits; NULL: computed from path */
} dx_store_plugin;

/* Records a plugin a run uses; recording the same one twice is harmless. */
DX_API dx_status dx_store_add_plugin(dx_store *st, int64_t run_id, const dx_store_plugin *p);

/* Buffers one metric row, stamped with the wall-clock time now; flushes when
 * the buffer holds the batch size. A NaN value is stored as NULL. */
DX_API dx_status dx_store_log_metric(dx_store *st, int64_t run_id, int64_t step, const char *name,
                                     double value);
/* Writes every buffered metric row in one transaction. On failure the rows
 * stay buffered for a later try. */
DX_API dx_status dx_store_flush(dx_store *st);
/* Rows per batch (>= 1); flushes at once if the buffer already holds more. */
DX_API dx_status dx_store_set_batch(dx_store *st, size_t rows);
/* Rows buffered and not yet written. */
DX_API size_t dx_store_pending(const dx_store *st);

/* Stores an encoded PNG grid; replaces one with the same (run, step, tag). */
DX_API dx_status dx_store_add_sample(dx_store *st, int64_t run_id, int64_t step, const char *tag,
                                     const void *png, size_t len, int64_t width, int64_t height,
                                     int64_t count);
/* Lays out images (n, c, h, w) in [-1, 1] as a make_grid PNG (grid.h) with
 * nrow images a row, and stores it. */
DX_API dx_status dx_store_add_grid(dx_store *st, int64_t run_id, int64_t step, const char *tag,
                                   const float *images, int64_t n, int64_t c, int64_t h, int64_t w,
                                   int64_t nrow);

/* Records a checkpoint file; sha256 NULL: computed from path. */
DX_API dx_status dx_store_add_checkpoint(dx_store *st, int64_t run_id, int64_t step,
                                         const char *path, const char *sha256);

/* ---- reading ---------------------------------------------------------- */

/* A callback returns 0 to go on, anything else to stop early (not an error). */

/* A run named by its id ("12") or its name (the newest run of that name). */
DX_API dx_status dx_store_find_run(dx_store *st, const char *ref, int64_t *run_id);

typedef struct dx_run_summary {
  int64_t id;
  const char *name;
  dx_run_status status;   /* DX_RUN_LOST for a RUNNING run whose process is gone */
  const char *started_at; /* ISO-8601 UTC */
  const char *ended_at;   /* NULL while running */
  bool has_step;          /* any metric logged */
  int64_t last_step;      /* highest step with a metric */
  bool has_loss;
  double last_loss; /* the "loss" metric at its highest step */
} dx_run_summary;
typedef int (*dx_run_summary_fn)(const dx_run_summary *r, void *user);

/* Every run, oldest first. */
DX_API dx_status dx_store_list_runs(dx_store *st, dx_run_summary_fn fn, void *user);

/* Which runs dx_store_list_runs_where reports; zero/NULL fields match all. */
typedef struct dx_run_filter {
  int64_t sweep_id;      /* cells of this sweep */
  const char *status;    /* "FINISHED", ... as stored */
  const char *name_glob; /* SQLite GLOB: quickstart[[]*, *huber* */
} dx_run_filter;
DX_API dx_status dx_store_list_runs_where(dx_store *st, const dx_run_filter *f,
                                          dx_run_summary_fn fn, void *user);

/* Every (step, value) of one metric of a run, by step; NaN for a NaN. Steps
 * are doubles because every reader plots them (exact below 2^53). The arrays
 * belong to the caller: dx_metric_series_free. */
typedef struct dx_metric_series {
  double *step, *value;
  size_t n;
} dx_metric_series;
DX_API dx_status dx_store_metric_series(dx_store *st, int64_t run_id, const char *name,
                                        dx_metric_series *out);
DX_API void dx_metric_series_free(dx_metric_series *s);

/* ---- sweeps ----------------------------------------------------------- */

/* A sweep as recorded: axes and overrides are JSON (docs/store.md). */
typedef struct dx_sweep_info {
  const char *name, *file, *axes_json, *overrides_json;
} dx_sweep_info;

/* The sweep with the same file, axes and overrides, or a new one named
 * info->name (made unique with "-2", "-3"... if another sweep has it).
 * *created says which. */
DX_API dx_status dx_store_sweep_open(dx_store *st, const dx_sweep_info *info, int64_t *sweep_id,
                                     bool *created);
/* A sweep named by its id ("sweep:3" or "3") or its name (the newest). */
DX_API dx_status dx_store_find_sweep(dx_store *st, const char *ref, int64_t *sweep_id);
/* The newest run of a sweep's cell; *found false if the cell has none.
 * *status is DX_RUN_LOST for a RUNNING run whose process is gone. */
DX_API dx_status dx_store_sweep_cell(dx_store *st, int64_t sweep_id, const char *cell,
                                     int64_t *run_id, dx_run_status *status, bool *found);
/* The newest sweep; *found false when there is none. */
DX_API dx_status dx_store_latest_sweep(dx_store *st, int64_t *sweep_id, bool *found);

typedef struct dx_run_row {
  int64_t id;
  const char *name;
  dx_run_status status;     /* DX_RUN_LOST for a RUNNING run whose process is gone */
  dx_process_state process; /* of a RUNNING run; UNKNOWN otherwise */
  int64_t pid;              /* 0: not recorded */
  const char *heartbeat_at; /* the last metrics flush (UTC); NULL if none */
  int64_t world_size;       /* processes (MPI ranks) of the run */
  const char *hosts;        /* their hosts, NULL for one process */
  const char *error;        /* NULL unless FAILED/KILLED with a reason */
  const char *started_at;
  const char *ended_at; /* NULL while running */
  int64_t seed;
  const char *experiment_yaml;
  const char *experiment_json;
  const char *ddpmx_version;
  const char *host;
  const char *command_line;
} dx_run_row;

typedef struct dx_metric_row {
  const char *name;
  int64_t step;
  bool is_null; /* NaN was logged */
  double value;
} dx_metric_row;

typedef struct dx_checkpoint_row {
  int64_t step;
  const char *path;
  const char *sha256;
  const char *created_at;
} dx_checkpoint_row;

typedef struct dx_sample_row {
  int64_t step;
  const char *tag;
  int64_t width, height, count;
  int64_t bytes; /* size of the PNG */
} dx_sample_row;

/* What dx_store_show_run reports, each part in order; NULL callbacks skip
 * their part. */
typedef struct dx_run_visitor {
  int (*run)(const dx_run_row *r, void *user);
  int (*param)(const char *key, const char *value, void *user); /* sorted by key */
  int (*metric)(const dx_metric_row *m, void *user);            /* last of each, by name */
  int (*plugin)(const dx_store_plugin *p, void *user);          /* by kind, name */
  int (*checkpoint)(const dx_checkpoint_row *c, void *user);    /* by step */
  int (*sample)(const dx_sample_row *s, void *user);            /* by step, tag */
} dx_run_visitor;

DX_API dx_status dx_store_show_run(dx_store *st, int64_t run_id, const dx_run_visitor *v,
                                   void *user);

/* A stored grid, its strings and PNG malloc'ed: free with dx_store_sample_clear. */
typedef struct dx_store_sample {
  int64_t step;
  char *tag;
  int64_t width, height, count;
  uint8_t *png;
  size_t len;
} dx_store_sample;

/* The grid of a run at step (or the latest step if step < 0) with tag (or
 * any tag, the first by name, if tag is NULL). */
DX_API dx_status dx_store_get_sample(dx_store *st, int64_t run_id, int64_t step, const char *tag,
                                     dx_store_sample *out);
DX_API void dx_store_sample_clear(dx_store_sample *s);

/* What a resume needs: the run's checkpoint with the highest step. *found is
 * false (and out untouched) when it has none. path/sha256 are copied. */
typedef struct dx_store_checkpoint {
  int64_t step;
  char path[4096];
  char sha256[65];
} dx_store_checkpoint;
DX_API dx_status dx_store_latest_checkpoint(dx_store *st, int64_t run_id, dx_store_checkpoint *out,
                                            bool *found);
/* As dx_store_latest_checkpoint, but the newest checkpoint whose file still
 * has the SHA-256 recorded for it (a row without one is taken as it is).
 * Each newer one refused, missing or changed since it was written, goes to
 * `refused` (may be NULL) with a one-line reason, newest first. */
typedef void (*dx_checkpoint_refused_fn)(const dx_store_checkpoint *c, const char *why, void *user);
DX_API dx_status dx_store_good_checkpoint(dx_store *st, int64_t run_id, dx_store_checkpoint *out,
                                          bool *found, dx_checkpoint_refused_fn refused,
                                          void *user);

#endif
