/* A recorded run brought back to life for resume, sample and eval: its
 * resolved experiment (stored as JSON, which is also YAML) loaded again, its
 * plugins resolved, its latest checkpoint found. */
#ifndef DX_CLI_STORED_RUN_H
#define DX_CLI_STORED_RUN_H

#include "cli/cli.h"
#include "config/experiment.h"
#include "store/store.h"
#include "train/run_plugins.h"

typedef struct dx_stored_run {
  int64_t id;
  dx_experiment *e;
  dx_run_plugins plugins;
  dx_store_checkpoint checkpoint; /* the latest; step 0 and path "" if none */
  bool has_checkpoint;
} dx_stored_run;

/* Finds run `ref` (an id or a name) in st and loads it. Returns an exit code
 * (after printing why) or DX_EXIT_OK. */
int dx_cli_load_run(const dx_cli_command *c, dx_store *st, const char *ref, dx_stored_run *out);
void dx_cli_stored_run_free(dx_stored_run *r);
/* A recorded experiment (JSON) loaded back, as resume does. */
dx_status dx_cli_experiment_from_json(const char *json, dx_experiment **e, char *err,
                                      size_t errlen);

/* The sampler of `spec`, NAME[:KEY=VALUE,...], from the run's plugin path,
 * its parameters checked and the rest at their defaults (--sampler of
 * sample, eval and the image-to-image commands).
 * Returns an exit code (after printing why) or DX_EXIT_OK. */
int dx_cli_load_sampler(const dx_cli_command *c, const dx_stored_run *r, const char *spec,
                        dx_plugin **p, dx_params **pp);
/* Stores x (shape: n, C, H, W) with run r at its checkpoint's step under
 * tag, and with out also writes the grid (nrow images a row) there as a
 * PNG, printing a line for each. Returns an exit code. */
int dx_cli_save_grid(const dx_cli_command *c, dx_store *st, const dx_stored_run *r, const char *tag,
                     const float *x, const int64_t *shape, int64_t nrow, const char *out);

#endif
