/* Helpers of `ddpmx run` (cmd_run.c), each in the file named for it. */
#ifndef DX_CLI_RUN_H
#define DX_CLI_RUN_H

#include "cli/cli.h"
#include "comm/comm.h"
#include "config/experiment.h"
#include "store/store.h"
#include "train/run_plugins.h"
#include "train/trainer.h"

typedef struct dx_cli_world dx_cli_world;

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
int dx_cli_train(const dx_cli_command *c, dx_experiment *e, const dx_run_plugins *rp,
                 dx_store *store, int64_t id, const char *resume_from, dx_cli_world *w);

/* --- ranks (ranks.c): `mpirun -np N ddpmx run|resume` ------------------------------
 * Rank 0 does what one process does: it checks the experiment, opens the
 * store, records the run. Then it releases the other ranks: it sends them the
 * run's id and its resolved experiment (JSON), or tells them to exit with its
 * exit code; they train without a store (dx_train_env). */
struct dx_cli_world {
  dx_comm *comm;
  bool released;
  /* For the watchdog's last word (dx_cli_world_watch). */
  const dx_cli_command *c;
  dx_store *store;
  int64_t id;
};
/* The world of ranks (one without a launcher). Returns an exit code. */
int dx_cli_world_open(const dx_cli_command *c, dx_cli_world *w);
bool dx_cli_world_leader(const dx_cli_world *w);
/* Rank 0: start the others on run id with the experiment json, or, json
 * NULL, let them exit with rc. Once only; nothing with one rank. */
void dx_cli_world_release(dx_cli_world *w, int64_t id, const char *json, int rc);
/* Ranks 1..N-1: wait for rank 0's word, then train. Returns an exit code. */
int dx_cli_world_follow(const dx_cli_command *c, dx_cli_world *w);
/* Rank 0 not yet released: lets the others go with rc; then MPI_Finalize. */
void dx_cli_world_close(dx_cli_world *w, int rc);
/* The watchdog (comm.h) for a training run: on rank 0 it records the run
 * FAILED (or KILLED) with its line before the process ends. */
void dx_cli_world_watch(const dx_cli_command *c, dx_cli_world *w, dx_store *store, int64_t id,
                        volatile sig_atomic_t *stop);

/* The trainer's progress reports as lines on stderr (progress.c). */
void dx_cli_progress(const dx_train_progress *p, void *user);

/* The run name of a sweep's cell: the experiment's name and the cell's
 * axis values, quickstart[diffusion.loss.plugin=huber]; the name alone for
 * a sweep without axes. Malloc'ed; NULL when out of memory (sweep_plan.c).
 * Only the run row carries it: the recorded experiment keeps its own name,
 * which must load again on resume. */
char *dx_cli_cell_name(const char *name, const char *cell);

/* --dry-run: the resolved experiment as YAML on stdout, then the plugins it
 * resolved as YAML comments (dry_run.c). */
int dx_cli_dry_run(const dx_experiment *e, const dx_run_plugins *rp);

#endif
