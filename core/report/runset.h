/* A set of runs to compare, named as a user names them (run ids, run names,
 * sweeps), loaded with their parameters and last metrics, and the
 * parameters that differ between them: what `ddpmx compare` prints and the
 * report's tables show. */
#ifndef DX_REPORT_RUNSET_H
#define DX_REPORT_RUNSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/export.h"
#include "ddpmx/status.h"
#include "store/store.h"

typedef struct dx_rs_metric {
  char *name;
  int64_t step;
  double value; /* NaN: NaN was logged */
} dx_rs_metric;

typedef struct dx_rs_run {
  int64_t id;
  char *name, *error, *started_at, *ended_at;
  dx_run_status status;
  int64_t seed;
  char **keys, **values; /* parameters, sorted by key */
  size_t n_params;
  dx_rs_metric *metrics; /* last value of each, sorted by name */
  size_t n_metrics;
  int64_t grid_bytes, ckpt_count; /* for the size column */
} dx_rs_run;

typedef struct dx_runset {
  dx_rs_run *runs;
  size_t n;
  char **diff; /* keys whose value is not the same in every run, sorted */
  size_t n_diff;
  bool has_seed_axis; /* "seed" is among diff */
  size_t hidden;      /* parameters of a differing plugin left out of diff */
} dx_runset;

/* Adds the runs that ref names: "sweep:N" or a sweep's name (its cells, by
 * id), else a run's id or name. A run named twice is kept once. */
DX_API dx_status dx_runset_add(dx_runset *rs, dx_store *st, const char *ref);
/* Adds every run of a sweep, by id; sweep_id 0: every run in the store. */
DX_API dx_status dx_runset_add_sweep(dx_runset *rs, dx_store *st, int64_t sweep_id);
/* Loads what was added and finds the differing parameters. */
DX_API dx_status dx_runset_load(dx_runset *rs, dx_store *st);
DX_API void dx_runset_free(dx_runset *rs);

/* The run's value of key, or NULL. */
DX_API const char *dx_rs_param(const dx_rs_run *r, const char *key);
/* The run's last value of metric, or NULL. */
DX_API const dx_rs_metric *dx_rs_metric_of(const dx_rs_run *r, const char *name);

/* Which way is better for a metric: -1 lower (loss..., bpd...), +1 higher
 * (images_per_s), 0 neither (lr, grad_norm, unknown names). */
DX_API int dx_rs_metric_sense(const char *name);

/* Every metric name any run logged, sorted (malloc'ed array of borrowed
 * strings; caller frees the array). */
DX_API const char **dx_runset_metric_names(const dx_runset *rs, size_t *n);

#endif
