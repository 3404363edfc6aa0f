/* The four kinds of plugin and their names. */
#include "plugin/loader.h"

static const char *const names[] = {
    [DX_KIND_SCHEDULE] = "schedule",
    [DX_KIND_BLOCK] = "block",
    [DX_KIND_LOSS] = "loss",
    [DX_KIND_SAMPLER] = "sampler",
};
#define N_NAMES (sizeof names / sizeof names[0])

const char *dx_plugin_kind_name(dx_plugin_kind kind) {
  return (size_t)kind < N_NAMES ? names[kind] : NULL;
}
