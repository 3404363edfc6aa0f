/* The four kinds of plugin and their names. */
#include <string.h>

#include "plugin/loader.h"

static const char *const names[] = {NULL, "schedule", "block", "loss", "sampler"};
#define N_NAMES (sizeof names / sizeof names[0])

const char *dx_plugin_kind_name(dx_plugin_kind kind) {
  if ((size_t)kind < 1 || (size_t)kind >= N_NAMES) return NULL;
  return names[kind];
}

dx_plugin_kind dx_plugin_kind_parse(const char *word) {
  for (size_t k = 1; k < N_NAMES; k++)
    if (word && strcmp(word, names[k]) == 0) return (dx_plugin_kind)k;
  return 0;
}
