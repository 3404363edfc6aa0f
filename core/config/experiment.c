/* dx_experiment_load: file(s), then the schema's defaults under them, then
 * the overrides over them, then the checks. Merging the defaults into the
 * tree before the overrides is what lets `diffusion.schedule.s=0.01` add a
 * parameter to the default schedule. */
#include "config/experiment.h"

#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "config/schema.h"
#include "util/err.h"

static void free_value(const dx_key_spec *k, dx_experiment *e) {
  char *at = (char *)e + k->offset;
  if (k->shape == DX_KEY_VALUE && k->spec.type == DX_PARAM_STRING) free(*(char **)at);
  if (k->shape == DX_KEY_PLUGIN) dx_plugin_ref_clear((dx_plugin_ref *)at);
  if (k->shape == DX_KEY_PLUGIN_LEVELS)
    for (int l = 0; l < DX_EXP_MAX_LEVELS; l++)
      dx_plugin_ref_clear((dx_plugin_ref *)at + l);
  if (k->shape == DX_KEY_PATH_LIST) {
    char **items = *(char ***)at;
    int64_t n = *(int64_t *)((char *)e + k->count_offset);
    for (int64_t i = 0; i < n; i++)
      free(items[i]);
    free(items);
  }
}

void dx_experiment_free(dx_experiment *e) {
  if (!e) return;
  size_t n;
  const dx_key_spec *keys = dx_schema_keys(&n);
  for (size_t i = 0; i < n; i++)
    free_value(&keys[i], e);
  for (int64_t i = 0; i < e->n_sources; i++) {
    free(e->sources[i].path);
    free(e->sources[i].text);
  }
  free(e->sources);
  for (int64_t i = 0; i < e->n_overrides; i++)
    free(e->overrides[i]);
  free(e->overrides);
  free(e);
}

static dx_status keep_overrides(dx_experiment *e, const char *const *overrides, int n) {
  if (n <= 0) return DX_OK;
  e->overrides = calloc((size_t)n, sizeof *e->overrides);
  if (!e->overrides) return DX_ERR_NOMEM;
  for (int i = 0; i < n; i++) {
    e->overrides[i] = strdup(overrides[i]);
    if (!e->overrides[i]) return DX_ERR_NOMEM;
    e->n_overrides++;
  }
  return DX_OK;
}

/* The whole tree, checked, into e. */
static dx_status build(dx_experiment *e, const char *path, int n_overrides, char *err,
                       size_t errlen) {
  dx_ynode *tree = NULL, *defaults = NULL;
  dx_status st = dx_cfg_load_file(e, path, &tree, err, errlen);
  if (st != DX_OK) return st;
  e->path = e->sources[0].path;
  e->source = e->sources[0].text;
  st = dx_cfg_defaults(&defaults, err, errlen);
  /* The file's keys are checked on their own first, so that its mistakes
   * are reported before an override's; then again, for what overrides set. */
  if (st == DX_OK) st = dx_cfg_check_keys(tree, err, errlen);
  if (st == DX_OK) {
    tree = dx_ynode_merge(defaults, tree);
    defaults = NULL;
    st = tree ? DX_OK : DX_ERR_NOMEM;
  }
  for (int i = 0; i < n_overrides && st == DX_OK; i++)
    st = dx_cfg_override(tree, e->overrides[i], i + 1, err, errlen);
  if (st == DX_OK && n_overrides > 0) st = dx_cfg_check_keys(tree, err, errlen);
  if (st == DX_OK) st = dx_cfg_fill(tree, e, err, errlen);
  dx_ynode_free(defaults);
  dx_ynode_free(tree);
  return st;
}

dx_status dx_experiment_load(const char *path, const char *const *overrides, int n_overrides,
                             dx_experiment **out, char *err, size_t errlen) {
  *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (!path || (n_overrides > 0 && !overrides))
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL, "dx_experiment_load: no path given");
  dx_experiment *e = calloc(1, sizeof *e);
  dx_status st = e ? keep_overrides(e, overrides, n_overrides) : DX_ERR_NOMEM;
  if (st == DX_OK) st = build(e, path, n_overrides, err, errlen);
  if (st == DX_ERR_NOMEM && err && errlen && !err[0])
    dx_errf(err, errlen, st, NULL, "%s: out of memory loading the experiment", path);
  if (st != DX_OK) {
    dx_experiment_free(e);
    return st;
  }
  *out = e;
  return DX_OK;
}

int dx_experiment_plugin_slots(dx_experiment *e, dx_exp_plugin_slot *out) {
  size_t n;
  const dx_key_spec *keys = dx_schema_keys(&n);
  int count = 0;
  for (size_t i = 0; i < n; i++) {
    const dx_key_spec *k = &keys[i];
    dx_plugin_ref *ref = (dx_plugin_ref *)((char *)e + k->offset);
    if (k->shape == DX_KEY_PLUGIN)
      out[count++] = (dx_exp_plugin_slot){k->spec.name, -1, k->kind, ref};
    if (k->shape != DX_KEY_PLUGIN_LEVELS) continue;
    for (int l = 0; l < e->model.n_levels; l++)
      if (ref[l].plugin) out[count++] = (dx_exp_plugin_slot){k->spec.name, l, k->kind, &ref[l]};
  }
  return count;
}
