/* Helpers of `ddpmx run` (cmd_run.c), each in the file named for it. */
#ifndef DX_CLI_RUN_H
#define DX_CLI_RUN_H

#include "cli/cli.h"
#include "config/experiment.h"
#include "store/store.h"
#include "train/run_plugins.h"
#include "train/trainer.h"

/* The resolved experiment as key/value rows (run_record.c). */
typedef struct dx_cli_params {
  char **keys, **values;
  size_t n;
} dx_cli_params;
dx_status dx_cli_params_collect(const dx_experiment *e, dx_cli_params *out);
void dx_cli_params_free(dx_cli_params *p);

/* "ddpmx run exp.yaml 'name=a b'": argv[0..argc) after "ddpmx", quoted for a
 * shell where needed. Malloc'ed; NULL when out of memory. */
char *dx_cli_command_line(int argc, char **argv);

/* Records every plugin of the run with its file's checksum. */
dx_status dx_cli_record_plugins(dx_store *st, int64_t run_id, const dx_run_plugins *rp);

/* Trains run `id` (from its start, or from the checkpoint resume_from),
 * catching SIGINT/SIGTERM, and records FINISHED, FAILED or KILLED; prints the
 * outcome and returns the exit code (train_run.c). */
int dx_cli_train(const dx_cli_command *c, dx_experiment *e, const dx_run_plugins *rp, dx_store *store,
                 int64_t id, const char *resume_from);

/* The trainer's progress reports as lines on stderr (progress.c). */
void dx_cli_progress(const dx_train_progress *p, void *user);

/* --dry-run: the resolved experiment as YAML on stdout, then the plugins it
 * resolved as YAML comments (dry_run.c). */
int dx_cli_dry_run(const dx_experiment *e, const dx_run_plugins *rp);

#endif
