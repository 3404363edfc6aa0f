#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/paths.h"
#include "config/pluginref.h"
#include "config/rules.h"
#include "config/schema.h"
#include "config/validate.h"
#include "config/values.h"
#include "util/err.h"

static dx_status list_shape(const dx_key_spec *k, const dx_ynode *n, char *err, size_t errlen) {
  char got[256];
  if (n->kind != DX_YNODE_SEQ)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected a list, got %s", k->path,
                   dx_ynode_describe(n, got, sizeof got));
  if (k->max_items == 0 || (n->n >= k->min_items && n->n <= k->max_items)) return DX_OK;
  char takes[64];
  if (k->min_items == k->max_items)
    snprintf(takes, sizeof takes, "exactly %d", k->min_items);
  else
    snprintf(takes, sizeof takes, "%d to %d", k->min_items, k->max_items);
  return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s has %lld %s; it takes %s", k->path,
                 (long long)n->n, n->n == 1 ? "entry" : "entries", takes);
}

/* Folders in plugin_path are relative to the file that names them, so that an
 * experiment and its plugins can move together; made absolute so that the
 * resolved experiment means the same from any working directory. */
static dx_status path_item(const dx_ynode *item, const char *where, char **out, char *err,
                           size_t errlen) {
  static const dx_key_spec any = {.type = DX_KEY_STRING};
  char *text;
  dx_status st = dx_cfg_string(&any, where, item, &text, err, errlen);
  if (st != DX_OK) return st;
  *out = dx_cfg_path_absolute(item->pos.file, text, item->pos.line > 0);
  free(text);
  return *out ? DX_OK : DX_ERR_NOMEM;
}

static dx_status set_list(const dx_key_spec *k, const dx_ynode *n, dx_experiment *e, char *err,
                          size_t errlen) {
  dx_status st = list_shape(k, n, err, errlen);
  if (st != DX_OK) return st;
  char *at = (char *)e + k->offset;
  if (k->type == DX_KEY_PATH_LIST) {
    char **items = n->n ? calloc((size_t)n->n, sizeof *items) : NULL;
    if (n->n && !items) return DX_ERR_NOMEM;
    *(char ***)at = items;
    *(int64_t *)((char *)e + k->count_offset) = n->n;
  } else if (k->type == DX_KEY_INT_LIST) {
    *(int64_t *)((char *)e + k->count_offset) = n->n;
  }
  for (int64_t i = 0; i < n->n && st == DX_OK; i++) {
    char where[160];
    snprintf(where, sizeof where, "%s[%lld]", k->path, (long long)i);
    const dx_ynode *item = n->items[i];
    if (k->type == DX_KEY_INT_LIST)
      st = dx_cfg_int(k, where, item, (int64_t *)at + i, err, errlen);
    else if (k->type == DX_KEY_FLOAT_LIST)
      st = dx_cfg_float(k, where, item, (double *)at + i, err, errlen);
    else
      st = path_item(item, where, *(char ***)at + i, err, errlen);
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
    dx_status st = dx_cfg_plugin_ref(k->path, k->default_text, n, &m->attention[0], err, errlen);
    for (int64_t l = 1; l < m->n_levels && st == DX_OK; l++)
      st = dx_plugin_ref_copy(&m->attention[0], &m->attention[l]);
    return st;
  }
  if (n->kind != DX_YNODE_SEQ)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                   "%s: expected a plugin such as %s, a list with one per level, or null; "
                   "got %s",
                   k->path, k->default_text, dx_ynode_describe(n, got, sizeof got));
  m->attention_per_level = true;
  if (n->n != m->n_levels)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                   "%s has %lld entries but model.dim_mults has %lld levels; give one per "
                   "level (null for none)",
                   k->path, (long long)n->n, (long long)m->n_levels);
  dx_status st = DX_OK;
  for (int64_t l = 0; l < n->n && st == DX_OK; l++) {
    char where[160];
    snprintf(where, sizeof where, "%s[%lld]", k->path, (long long)l);
    if (!dx_ynode_is_null(n->items[l]))
      st = dx_cfg_plugin_ref(where, k->default_text, n->items[l], &m->attention[l], err, errlen);
  }
  return st;
}

static dx_status set_value(const dx_key_spec *k, const dx_ynode *n, dx_experiment *e, char *err,
                           size_t errlen) {
  void *at = (char *)e + k->offset;
  int choice = 0;
  dx_status st;
  switch (k->type) {
  case DX_KEY_STRING: return dx_cfg_string(k, k->path, n, at, err, errlen);
  case DX_KEY_INT: return dx_cfg_int(k, k->path, n, at, err, errlen);
  case DX_KEY_FLOAT: return dx_cfg_float(k, k->path, n, at, err, errlen);
  case DX_KEY_BOOL: return dx_cfg_bool(k->path, n, at, err, errlen);
  case DX_KEY_CHOICE:
    st = dx_cfg_choice(k, k->path, n, &choice, err, errlen);
    *(int *)at = choice; /* the enums of experiment.h are int-sized */
    return st;
  case DX_KEY_INT_LIST:
  case DX_KEY_FLOAT_LIST:
  case DX_KEY_PATH_LIST: return set_list(k, n, e, err, errlen);
  case DX_KEY_PLUGIN: return dx_cfg_plugin_ref(k->path, k->default_text, n, at, err, errlen);
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
    const dx_ynode *v = dx_ynode_at(root, k->path);
    /* Null leaves an optional key without a default unset (description:). */
    bool unset = !v || (dx_ynode_is_null(v) && !k->default_text && !k->required);
    const dx_ynode *parent = dx_ynode_parent(root, k->path);
    if (unset && k->required)
      return dx_errf(err, errlen, DX_ERR_CONFIG, parent ? &parent->pos : &root->pos,
                     "missing required key '%s' (%s); add it", k->path, k->help);
    if (unset) continue;
    dx_status st = set_value(k, v, e, err, errlen);
    if (st != DX_OK) return st;
  }
  return dx_cfg_rules(e, root, err, errlen);
}
