/* `ddpmx sweep`: the plan (sweep_plan.c) and running its cells as child
 * processes (sweep_jobs.c), for cmd_sweep.c. */
#ifndef DX_CLI_SWEEP_H
#define DX_CLI_SWEEP_H

#include "cli/cli.h"
#include "store/store.h"

/* One axis: a key and the values it takes, from `key=a,b,c`. */
typedef struct dx_sweep_axis {
  char *key;
  char **values; /* each a YAML flow value as written: cosine, 1e-4, [1,2] */
  int n;
} dx_sweep_axis;

/* The Cartesian product of the axes; the fixed overrides (`key=v`, one
 * value) apply to every cell. Cell i takes axis a's value
 * (i / stride_a) % n_a, the last axis varying fastest. */
typedef struct dx_sweep_plan {
  dx_sweep_axis *axes;
  int n_axes;
  char **fixed; /* "key=value" as given */
  int n_fixed;
  int64_t n_cells;
} dx_sweep_plan;

/* Adds `key=v1,v2,...` (commas inside [], {} or quotes do not split) as an
 * axis, or as a fixed override when it has one value. Returns false with a
 * message in err for a malformed argument. */
bool dx_sweep_plan_add(dx_sweep_plan *p, const char *arg, char *err, size_t errlen);
void dx_sweep_plan_free(dx_sweep_plan *p);

/* Cell i's overrides: the fixed ones, then one "key=value" per axis, into
 * out (n_fixed + n_axes entries, malloc'ed strings; free with
 * dx_sweep_cell_free). *cell is "key=value,key=value" over the axes. */
typedef struct dx_sweep_cell {
  char **overrides;
  int n;
  char *cell;
} dx_sweep_cell;
bool dx_sweep_plan_cell(const dx_sweep_plan *p, int64_t i, dx_sweep_cell *out);
void dx_sweep_cell_free(dx_sweep_cell *c);

/* The axes and the fixed overrides as JSON, for the sweeps table. NULL when
 * out of memory (caller frees). */
char *dx_sweep_plan_axes_json(const dx_sweep_plan *p);
char *dx_sweep_plan_fixed_json(const dx_sweep_plan *p);

/* What to do with a cell, and how it went. */
typedef enum dx_sweep_action { DX_SWEEP_SKIP, DX_SWEEP_START, DX_SWEEP_RESUME } dx_sweep_action;

typedef struct dx_sweep_job {
  int64_t index;      /* the cell's number, 0-based */
  dx_sweep_cell cell; /* overrides and cell text */
  dx_sweep_action action;
  int64_t run_id; /* the run to resume, then the run it made (0: unknown) */
  int exit_code;  /* the child's, once ended; -1 while not started */
  double seconds; /* wall time of the child */
} dx_sweep_job;

typedef struct dx_sweep_env {
  const char *self; /* this program, for exec */
  const char *file; /* the experiment */
  const char *db;
  int64_t sweep_id;
  int jobs;        /* cells at once */
  int threads;     /* DDPMX_THREADS for each child */
  int64_t n_cells; /* for "[3/4]" prefixes */
  volatile sig_atomic_t *stop;
} dx_sweep_env;

/* Runs the jobs not marked SKIP, env->jobs at a time, each as `ddpmx run
 * FILE ... --sweep ID --cell C` or `ddpmx resume RUN`, with its stderr
 * prefixed by its cell number. On a signal, passes it on to the children,
 * starts no more, waits for them, and returns the signal's number (else 0). */
int dx_sweep_run_jobs(const dx_sweep_env *env, dx_sweep_job *jobs, int64_t n);

#endif
