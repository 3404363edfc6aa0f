/* Every key of the experiment is one the schema knows; the hint when it is not. */
#include <stdio.h>
#include <string.h>

#include "config/internal.h"
#include "util/err.h"
#include "util/suggest.h"

#define MAX_KEYS 64

void dx_cfg_key_hint(const char *section, const char *key, bool full, char *buf, size_t len) {
  const dx_key_spec *kids[MAX_KEYS];
  size_t n = dx_schema_children(section, kids, MAX_KEYS);
  const char *names[MAX_KEYS];
  for (size_t i = 0; i < n; i++)
    names[i] = dx_schema_leaf(kids[i]);
  const char *near = dx_suggest(key, names, n);
  if (near) {
    snprintf(buf, len, "; did you mean '%s%s%s'?", full ? section : "", full && *section ? "." : "",
             near);
    return;
  }
  size_t all;
  const dx_key_spec *keys = dx_schema_keys(&all);
  for (size_t i = 0; i < all; i++) {
    if (keys[i].shape != DX_KEY_SECTION && strcmp(dx_schema_leaf(&keys[i]), key) == 0) {
      snprintf(buf, len, "; did you mean '%s'?", keys[i].spec.name);
      return;
    }
  }
  int w = snprintf(buf, len, "; valid keys here: ");
  for (size_t i = 0; i < n && w >= 0 && (size_t)w < len; i++)
    w += snprintf(buf + w, len - (size_t)w, "%s%s", i ? ", " : "", names[i]);
}

static dx_status unknown_key(const char *section, const dx_ynode_entry *en, char *err,
                             size_t errlen) {
  char hint[512];
  dx_cfg_key_hint(section, en->key, false, hint, sizeof hint);
  if (!*section)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &en->key_pos, "unknown top-level key '%s'%s",
                   en->key, hint);
  return dx_errf(err, errlen, DX_ERR_CONFIG, &en->key_pos, "unknown key '%s' in %s%s", en->key,
                 section, hint);
}

static dx_status check_section(const dx_ynode *map, const char *section, char *err, size_t errlen) {
  for (int64_t i = 0; i < map->n; i++) {
    const dx_ynode_entry *en = &map->entries[i];
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", section, *section ? "." : "", en->key);
    const dx_key_spec *k = dx_schema_find(path);
    if (!k) return unknown_key(section, en, err, errlen);
    if (k->shape != DX_KEY_SECTION || dx_ynode_is_null(en->value)) continue;
    char got[256];
    if (en->value->kind != DX_YNODE_MAP)
      return dx_errf(err, errlen, DX_ERR_CONFIG, &en->value->pos,
                     "%s: expected a mapping of keys (%s), got %s", path, k->spec.help,
                     dx_ynode_describe(en->value, got, sizeof got));
    dx_status st = check_section(en->value, path, err, errlen);
    if (st != DX_OK) return st;
  }
  return DX_OK;
}

dx_status dx_cfg_check_keys(const dx_ynode *root, char *err, size_t errlen) {
  return check_section(root, "", err, errlen);
}
