/* Loading the project's own plugins in tests: $DDPMX_PLUGIN_DIR/<name>.so
 * through the plugin loader, with parameters written as "key=value" the
 * way an experiment would set them. Any failure fails the test. */
#ifndef DXT_PLUGIN_H
#define DXT_PLUGIN_H

#include "ddpmx/sampler.h"
#include "plugin/loader.h"

typedef struct dxt_plugin {
  dx_plugin *plugin;
  dx_params *params;
  const void *ops; /* plugin->desc->ops */
} dxt_plugin;

/* kv: n strings "key=value" (values as YAML would hold them), or NULL. */
dxt_plugin dxt_plugin_load(const char *name, dx_plugin_kind kind, const char *const *kv, int n);
void dxt_plugin_free(dxt_plugin *p);
/* Checks what `ddpmx plugins NAME` shows: the name, a one-line formula and
 * help for every parameter. */
void dxt_plugin_check_docs(const char *name, dx_plugin_kind kind);

/* A sampler plugin loaded as above and initialised in ctx. */
typedef struct dxt_sampler {
  dxt_plugin p;
  dx_sampler s;
} dxt_sampler;

void dxt_sampler_open(dx_ctx *ctx, dxt_sampler *o, const char *name, const char *const *kv, int n);
void dxt_sampler_close(dxt_sampler *o);

/* A stand-in model for the sampling loops: eps = 0.3 x_t, counting its
 * calls and the first and last model timestep it was asked at. */
typedef struct dxt_counter {
  int calls;
  double first_t, last_t;
} dxt_counter;

dx_tensor *dxt_shrink_model(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t);

#endif
