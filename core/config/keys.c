#include <stdio.h>
#include <string.h>

#include "config/key_hint.h"
#include "config/schema.h"
#include "config/validate.h"
#include "util/err.h"

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
