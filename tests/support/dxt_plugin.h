/* Loading the project's own plugins in tests: $DDPMX_PLUGIN_DIR/<name>.so
 * through the plugin loader, with parameters written as "key=value" the
 * way an experiment would set them. Any failure fails the test. */
#ifndef DXT_PLUGIN_H
#define DXT_PLUGIN_H

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

#endif
