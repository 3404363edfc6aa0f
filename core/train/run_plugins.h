/* Every plugin an experiment names, found, loaded and given its validated
 * parameters: what `ddpmx run` (and --dry-run) needs before any work. */
#ifndef DX_TRAIN_RUN_PLUGINS_H
#define DX_TRAIN_RUN_PLUGINS_H

#include "config/experiment.h"
#include "plugin/loader.h"

typedef struct dx_bound_plugin {
  const char *role; /* "diffusion.schedule", "model.attention", ... */
  int level;        /* model.attention: the level; -1 elsewhere */
  dx_plugin *plugin;
  dx_params *params;
} dx_bound_plugin;

typedef struct dx_run_plugins {
  dx_plugin_path *path;
  dx_bound_plugin items[DX_EXP_MAX_PLUGIN_SLOTS];
  int n;
} dx_run_plugins;

/* Resolves each slot on the search path (build tree, install, then
 * $DDPMX_PLUGIN_PATH, then the experiment's plugin_path) and writes the
 * plugins' defaults back into the experiment's references, so that the
 * resolved experiment shows every value in force. On failure err holds the
 * first problem as FILE:LINE:COL: ... and out is emptied. */
dx_status dx_run_plugins_resolve(dx_experiment *e, dx_run_plugins *out, char *err, size_t errlen);
void dx_run_plugins_free(dx_run_plugins *rp);

/* Opens (and closes) the data the experiment trains and evaluates on, so a
 * missing or corrupt file stops the run before it starts (check_data.c). */
dx_status dx_experiment_check_data(const dx_experiment *e, char *err, size_t errlen);
/* The slot for (role, level), or NULL when the experiment has none there. */
const dx_bound_plugin *dx_run_plugins_get(const dx_run_plugins *rp, const char *role, int level);

#endif
