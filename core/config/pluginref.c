#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

void dx_plugin_ref_clear(dx_plugin_ref *ref) {
  free(ref->plugin);
  for (int i = 0; i < ref->n_args; i++) {
    free(ref->args[i].key);
    free(ref->args[i].value);
  }
  free(ref->args);
  *ref = (dx_plugin_ref){0};
}

static dx_status push_arg(dx_plugin_ref *ref, const char *key, const char *value,
                          dx_scalar_style style, dx_srcpos key_pos, dx_srcpos value_pos) {
  dx_plugin_arg *args = realloc(ref->args, (size_t)(ref->n_args + 1) * sizeof *args);
  if (!args) return DX_ERR_NOMEM;
  ref->args = args;
  dx_plugin_arg a = {strdup(key), strdup(value), style, key_pos, value_pos};
  if (!a.key || !a.value) {
    free(a.key);
    free(a.value);
    return DX_ERR_NOMEM;
  }
  ref->args[ref->n_args++] = a;
  return DX_OK;
}

dx_status dx_plugin_ref_copy(const dx_plugin_ref *src, dx_plugin_ref *dst) {
  *dst = (dx_plugin_ref){.pos = src->pos};
  dst->plugin = src->plugin ? strdup(src->plugin) : NULL;
  dx_status st = src->plugin && !dst->plugin ? DX_ERR_NOMEM : DX_OK;
  for (int i = 0; i < src->n_args && st == DX_OK; i++) {
    const dx_plugin_arg *a = &src->args[i];
    st = push_arg(dst, a->key, a->value, a->style, a->key_pos, a->value_pos);
  }
  if (st != DX_OK) dx_plugin_ref_clear(dst);
  return st;
}

dx_status dx_plugin_ref_add_default(dx_plugin_ref *ref, const char *key, const char *value,
                                    dx_scalar_style style) {
  if (!key || !value || strcmp(key, "plugin") == 0) return DX_ERR_INVALID;
  for (int i = 0; i < ref->n_args; i++)
    if (strcmp(ref->args[i].key, key) == 0) return DX_OK;
  dx_srcpos pos = {DX_POS_DEFAULT, 0, 0};
  return push_arg(ref, key, value, style, pos, pos);
}

static dx_status name_of(const char *where, const dx_ynode *n, dx_plugin_ref *out, char *err,
                         size_t errlen) {
  const dx_ynode *name = dx_ynode_get(n, "plugin");
  char buf[256];
  if (!name)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                   "%s: missing 'plugin: NAME'; say which plugin to use", where);
  if (name->kind != DX_YNODE_SCALAR || dx_ynode_is_null(name))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &name->pos,
                   "%s.plugin: expected a plugin name, got %s", where,
                   dx_ynode_describe(name, buf, sizeof buf));
  out->plugin = strdup(name->text);
  out->pos = name->pos;
  return out->plugin ? DX_OK : DX_ERR_NOMEM;
}

dx_status dx_cfg_plugin_ref(const char *where, const char *example, const dx_ynode *n,
                            dx_plugin_ref *out, char *err, size_t errlen) {
  char buf[256];
  *out = (dx_plugin_ref){0};
  if (n->kind != DX_YNODE_MAP)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected a plugin such as %s, got %s",
                   where, example, dx_ynode_describe(n, buf, sizeof buf));
  dx_status st = name_of(where, n, out, err, errlen);
  for (int64_t i = 0; i < n->n && st == DX_OK; i++) {
    const dx_ynode_entry *en = &n->entries[i];
    if (strcmp(en->key, "plugin") == 0) continue;
    if (en->value->kind != DX_YNODE_SCALAR)
      st = dx_errf(err, errlen, DX_ERR_CONFIG, &en->value->pos,
                   "%s.%s: a plugin parameter takes a single value, got %s", where, en->key,
                   dx_ynode_describe(en->value, buf, sizeof buf));
    else
      st = push_arg(out, en->key, en->value->text, en->value->style, en->key_pos, en->value->pos);
  }
  if (st != DX_OK) dx_plugin_ref_clear(out);
  return st;
}
