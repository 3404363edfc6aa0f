/* Resolving an experiment's plugins. */
#include "train/run_plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/value.h"

static dx_status add_defaults(dx_plugin_ref *ref, const dx_plugin_desc *d, char *err,
                              size_t errlen) {
  for (size_t i = 0; i < d->n_params; i++) {
    const dx_param_spec *s = &d->params[i];
    if (!s->default_value) continue;
    dx_scalar_style style = s->type == DX_PARAM_STRING ? DX_SCALAR_QUOTED : DX_SCALAR_PLAIN;
    if (dx_plugin_ref_add_default(ref, s->name, s->default_value, style) != DX_OK) {
      return dx_errf(err, errlen, DX_ERR_NOMEM, NULL,
                     "out of memory recording the defaults of plugin '%s'", d->name);
    }
  }
  return DX_OK;
}

static bool has_arg(const dx_plugin_ref *ref, const char *key) {
  for (int i = 0; i < ref->n_args; i++)
    if (strcmp(ref->args[i].key, key) == 0) return true;
  return false;
}

/* model.dropout reaches the block through the block's own `dropout`
 * parameter, unless the block sets one itself. */
static dx_status block_dropout(dx_experiment *e, dx_bound_plugin *b, dx_plugin_ref *ref, char *err,
                               size_t errlen) {
  if (e->model.dropout <= 0 || has_arg(ref, "dropout")) return DX_OK;
  const dx_plugin_desc *d = b->plugin->desc;
  bool takes = false;
  for (size_t i = 0; i < d->n_params; i++)
    takes |= strcmp(d->params[i].name, "dropout") == 0;
  if (!takes)
    return dx_errf(
        err, errlen, DX_ERR_CONFIG, NULL,
        "model.dropout: block plugin '%s' takes no dropout parameter; remove model.dropout",
        d->name);
  char v[32];
  dx_float_text(e->model.dropout, v, sizeof v);
  if (dx_plugin_ref_add_default(ref, "dropout", v, DX_SCALAR_PLAIN) != DX_OK)
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  dx_params_free(b->params);
  b->params = NULL;
  return dx_params_create(d, ref, &b->params, err, errlen);
}

dx_status dx_run_plugins_resolve(dx_experiment *e, dx_run_plugins *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->path = dx_plugin_path_create((const char *const *)e->plugin_path, (size_t)e->n_plugin_path);
  if (!out->path) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  dx_exp_plugin_slot slots[DX_EXP_MAX_PLUGIN_SLOTS];
  int n = dx_experiment_plugin_slots(e, slots);
  for (int i = 0; i < n; i++) {
    dx_bound_plugin *b = &out->items[out->n];
    dx_status st = dx_plugin_resolve(out->path, slots[i].ref, slots[i].kind, slots[i].role,
                                     &b->plugin, &b->params, err, errlen);
    if (st == DX_OK && strcmp(slots[i].role, "model.block") == 0)
      st = block_dropout(e, b, slots[i].ref, err, errlen);
    if (st == DX_OK) st = add_defaults(slots[i].ref, b->plugin->desc, err, errlen);
    if (st != DX_OK) {
      if (b->plugin) out->n++;
      dx_run_plugins_free(out);
      return st;
    }
    b->role = slots[i].role;
    b->level = slots[i].level;
    out->n++;
  }
  return DX_OK;
}

void dx_run_plugins_free(dx_run_plugins *rp) {
  for (int i = 0; i < rp->n; i++) {
    if (!rp->items[i].plugin) continue;
    dx_params_free(rp->items[i].params);
    dx_plugin_close(rp->items[i].plugin);
  }
  dx_plugin_path_free(rp->path);
  memset(rp, 0, sizeof *rp);
}

const dx_bound_plugin *dx_run_plugins_get(const dx_run_plugins *rp, const char *role, int level) {
  for (int i = 0; i < rp->n; i++)
    if (strcmp(rp->items[i].role, role) == 0 && rp->items[i].level == level) return &rp->items[i];
  return NULL;
}
