#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "util/err.h"

static dx_status list_shape(const dx_key_spec *k, const dx_ynode *n, char *err, size_t errlen) {
  char got[256];
  if (n->kind != DX_YNODE_SEQ)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected a list, got %s", k->spec.name,
                   dx_ynode_describe(n, got, sizeof got));
  if (k->max_items == 0 || (n->n >= k->min_items && n->n <= k->max_items)) return DX_OK;
  char takes[64];
  if (k->min_items == k->max_items)
    snprintf(takes, sizeof takes, "exactly %d", k->min_items);
  else
    snprintf(takes, sizeof takes, "%d to %d", k->min_items, k->max_items);
  return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s has %lld %s; it takes %s", k->spec.name,
                 (long long)n->n, n->n == 1 ? "entry" : "entries", takes);
}

/* Folders in plugin_path are relative to the file that names them, so that an
 * experiment and its plugins can move together; made absolute so that the
 * resolved experiment means the same from any working directory. */
static dx_status make_absolute(char **path, const dx_ynode *item) {
  char *abs = dx_cfg_path_absolute(item->pos.file, *path, item->pos.line > 0);
  free(*path);
  *path = abs;
  return abs ? DX_OK : DX_ERR_NOMEM;
}

static dx_status set_list(const dx_key_spec *k, const dx_ynode *n, dx_experiment *e, char *err,
                          size_t errlen) {
  dx_status st = list_shape(k, n, err, errlen);
  if (st != DX_OK) return st;
  char *at = (char *)e + k->offset;
  bool paths = k->shape == DX_KEY_PATH_LIST;
  size_t size = paths                          ? sizeof(char *)
                : k->spec.type == DX_PARAM_INT ? sizeof(int64_t)
                                               : sizeof(double);
  if (paths) {
    char **items = n->n ? calloc((size_t)n->n, sizeof *items) : NULL;
    if (n->n && !items) return DX_ERR_NOMEM;
    *(char ***)at = items;
    at = (char *)items;
  }
  if (k->count_offset) *(int64_t *)((char *)e + k->count_offset) = n->n;
  for (int64_t i = 0; i < n->n && st == DX_OK; i++) {
    char where[160];
    snprintf(where, sizeof where, "%s[%lld]", k->spec.name, (long long)i);
    st = dx_cfg_value(k, where, n->items[i], at + (size_t)i * size, err, errlen);
    if (st == DX_OK && paths) st = make_absolute((char **)at + i, n->items[i]);
  }
  return st;
}

/* model.attention: one plugin for every level, a list with one plugin or
 * null per level, or null for none at all. */
static dx_status set_levels(const dx_key_spec *k, const dx_ynode *n, dx_experiment *e, char *err,
                            size_t errlen) {
  dx_exp_model *m = &e->model;
  char got[256];
  if (dx_ynode_is_null(n)) return DX_OK;
  if (n->kind == DX_YNODE_MAP) {
    dx_status st =
        dx_cfg_plugin_ref(k->spec.name, k->spec.default_value, n, &m->attention[0], err, errlen);
    for (int64_t l = 1; l < m->n_levels && st == DX_OK; l++)
      st = dx_plugin_ref_copy(&m->attention[0], &m->attention[l]);
    return st;
  }
  if (n->kind != DX_YNODE_SEQ)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                   "%s: expected a plugin such as %s, a list with one per level, or null; "
                   "got %s",
                   k->spec.name, k->spec.default_value, dx_ynode_describe(n, got, sizeof got));
  m->attention_per_level = true;
  if (n->n != m->n_levels)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                   "%s has %lld entries but model.dim_mults has %lld levels; give one per "
                   "level (null for none)",
                   k->spec.name, (long long)n->n, (long long)m->n_levels);
  dx_status st = DX_OK;
  for (int64_t l = 0; l < n->n && st == DX_OK; l++) {
    char where[160];
    snprintf(where, sizeof where, "%s[%lld]", k->spec.name, (long long)l);
    if (!dx_ynode_is_null(n->items[l]))
      st = dx_cfg_plugin_ref(where, k->spec.default_value, n->items[l], &m->attention[l], err,
                             errlen);
  }
  return st;
}

static dx_status set_value(const dx_key_spec *k, const dx_ynode *n, dx_experiment *e, char *err,
                           size_t errlen) {
  void *at = (char *)e + k->offset;
  const char *path = k->spec.name, *example = k->spec.default_value;
  switch (k->shape) {
  case DX_KEY_VALUE: return dx_cfg_value(k, path, n, at, err, errlen);
  case DX_KEY_LIST:
  case DX_KEY_PATH_LIST: return set_list(k, n, e, err, errlen);
  case DX_KEY_PLUGIN: return dx_cfg_plugin_ref(path, example, n, at, err, errlen);
  case DX_KEY_PLUGIN_LEVELS: return set_levels(k, n, e, err, errlen);
  case DX_KEY_SECTION: return DX_OK;
  }
  return DX_ERR_INTERNAL;
}

dx_status dx_cfg_fill(const dx_ynode *root, dx_experiment *e, char *err, size_t errlen) {
  size_t n;
  const dx_key_spec *keys = dx_schema_keys(&n);
  for (size_t i = 0; i < n; i++) {
    const dx_key_spec *k = &keys[i];
    const dx_ynode *v = dx_ynode_at(root, k->spec.name);
    /* Null leaves an optional key without a default unset (description:). */
    bool unset = !v || (dx_ynode_is_null(v) && !k->spec.default_value && !k->required);
    const dx_ynode *parent = dx_ynode_parent(root, k->spec.name);
    if (unset && k->required)
      return dx_errf(err, errlen, DX_ERR_CONFIG, parent ? &parent->pos : &root->pos,
                     "missing required key '%s' (%s); add it", k->spec.name, k->spec.help);
    if (unset) continue;
    dx_status st = set_value(k, v, e, err, errlen);
    if (st != DX_OK) return st;
  }
  return dx_cfg_rules(e, root, err, errlen);
}
