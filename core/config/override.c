/* Command-line overrides: `key.path=value`, the value in YAML flow syntax. */
#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml_read.h"
#include "util/err.h"

#define MAX_DEPTH 8

typedef struct override {
  char key[256];          /* as written */
  char split[256];        /* key with its dots made into NULs */
  char *parts[MAX_DEPTH]; /* point into split */
  int n;
  const char *value;
  dx_srcpos pos;
} override;

static dx_status malformed(const char *text, const dx_srcpos *pos, char *err, size_t errlen) {
  return dx_errf(err, errlen, DX_ERR_CONFIG, pos,
                 "malformed override '%s'; write KEY=VALUE, e.g. train.lr=1e-4", text);
}

static dx_status split(const char *text, override *o, char *err, size_t errlen) {
  const char *eq = strchr(text, '=');
  size_t len = eq ? (size_t)(eq - text) : 0;
  if (!eq || len == 0 || len >= sizeof o->key) return malformed(text, &o->pos, err, errlen);
  memcpy(o->key, text, len);
  o->key[len] = '\0';
  memcpy(o->split, o->key, len + 1);
  o->value = eq + 1;
  o->n = 0;
  for (char *p = o->split; p; o->n++) {
    if (o->n == MAX_DEPTH) return malformed(text, &o->pos, err, errlen);
    o->parts[o->n] = p;
    p = strchr(p, '.');
    if (p) *p++ = '\0';
    if (!*o->parts[o->n]) return malformed(text, &o->pos, err, errlen);
  }
  return DX_OK;
}

static dx_status unknown(const override *o, int upto, char *err, size_t errlen) {
  char section[256] = "", hint[512];
  for (int i = 0; i < upto; i++) {
    size_t used = strlen(section);
    snprintf(section + used, sizeof section - used, "%s%s", i ? "." : "", o->parts[i]);
  }
  dx_cfg_key_hint(section, o->parts[upto], true, hint, sizeof hint);
  return dx_errf(err, errlen, DX_ERR_CONFIG, &o->pos, "unknown key '%s%s%s'%s", section,
                 *section ? "." : "", o->parts[upto], hint);
}

/* The key must be one the schema knows, or one parameter of a plugin. */
static dx_status check_key(const override *o, char *err, size_t errlen) {
  char path[256] = "";
  for (int i = 0; i < o->n; i++) {
    size_t used = strlen(path);
    snprintf(path + used, sizeof path - used, "%s%s", i ? "." : "", o->parts[i]);
    const dx_key_spec *k = dx_schema_find(path);
    if (!k) return unknown(o, i, err, errlen);
    if (!strcmp(k->spec.name, "extends"))
      return dx_errf(err, errlen, DX_ERR_CONFIG, &o->pos,
                     "extends cannot be overridden; edit the experiment file instead");
    bool plugin = k->shape == DX_KEY_PLUGIN || k->shape == DX_KEY_PLUGIN_LEVELS;
    if (plugin && i + 2 == o->n) return DX_OK; /* the plugin's name or one parameter */
    if (k->shape != DX_KEY_SECTION && i + 1 < o->n)
      return dx_errf(err, errlen, DX_ERR_CONFIG, &o->pos, "unknown key '%s'; %s%s", o->key, path,
                     plugin ? " takes 'plugin' and the plugin's parameters, which have no "
                              "keys under them"
                            : " takes a value and has no keys under it");
  }
  return DX_OK;
}

/* The mapping the last key goes into, made where missing. */
static dx_status parent_map(dx_ynode *root, const override *o, dx_ynode **out, char *err,
                            size_t errlen) {
  dx_ynode *cur = root;
  for (int i = 0; i + 1 < o->n; i++) {
    dx_ynode_entry *en = dx_ynode_find(cur, o->parts[i]);
    if (en && !dx_ynode_is_null(en->value) && en->value->kind != DX_YNODE_MAP) {
      char got[256];
      int upto = (int)(o->parts[i] - o->split) + (int)strlen(o->parts[i]);
      return dx_errf(err, errlen, DX_ERR_CONFIG, &o->pos,
                     "cannot set '%s': %.*s holds %s, not a mapping; set %.*s as a whole", o->key,
                     upto, o->key, dx_ynode_describe(en->value, got, sizeof got), upto, o->key);
    }
    if (!en || en->value->kind != DX_YNODE_MAP) {
      dx_ynode *map = dx_ynode_new(DX_YNODE_MAP, o->pos);
      if (!map) return DX_ERR_NOMEM;
      if (en) {
        dx_ynode_free(en->value);
        en->value = map;
      } else if (dx_ynode_put(cur, o->parts[i], o->pos, map) != DX_OK) {
        return DX_ERR_NOMEM;
      }
    }
    cur = dx_ynode_get(cur, o->parts[i]);
  }
  *out = cur;
  return DX_OK;
}

/* `...plugin=NAME` naming another plugin drops the old plugin's parameters,
 * which would mean nothing to the new one. */
static void drop_other_args(dx_ynode *ref, const dx_ynode *name) {
  const dx_ynode *old = dx_ynode_get(ref, "plugin");
  if (!old || (old->kind == DX_YNODE_SCALAR && name->kind == DX_YNODE_SCALAR &&
               !strcmp(old->text, name->text)))
    return;
  while (ref->n > 0)
    dx_ynode_remove(ref, ref->entries[0].key);
}

static dx_status set(dx_ynode *root, const override *o, dx_ynode *value, char *err, size_t errlen) {
  dx_ynode *map = NULL;
  dx_status st = parent_map(root, o, &map, err, errlen);
  if (st != DX_OK) {
    dx_ynode_free(value);
    return st;
  }
  const char *last = o->parts[o->n - 1];
  if (o->n > 1 && !strcmp(last, "plugin")) drop_other_args(map, value);
  dx_ynode_entry *en = dx_ynode_find(map, last);
  if (!en) return dx_ynode_put(map, last, o->pos, value);
  /* As with extends: `train={lr: 0.1}` keeps the other train keys. */
  en->value = dx_ynode_merge(en->value, value);
  en->key_pos = o->pos;
  return en->value ? DX_OK : DX_ERR_NOMEM;
}

dx_status dx_cfg_override(dx_ynode *root, const char *text, int index, char *err, size_t errlen) {
  override o = {.pos = dx_srcpos_override(index)};
  dx_status st = split(text, &o, err, errlen);
  if (st == DX_OK) st = check_key(&o, err, errlen);
  if (st != DX_OK) return st;
  dx_ynode *value;
  st = dx_yaml_parse(o.value, strlen(o.value), o.pos.file, &o.pos, &value, err, errlen);
  if (st != DX_OK) return st;
  if (!value) value = dx_ynode_scalar("", DX_SCALAR_PLAIN, o.pos); /* key= means null */
  if (!value) return DX_ERR_NOMEM;
  return set(root, &o, value, err, errlen);
}
