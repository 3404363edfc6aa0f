#include "config/key_hint.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/schema.h"
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
