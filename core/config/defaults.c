#include <stdio.h>
#include <string.h>

#include "config/schema.h"
#include "config/yaml_read.h"
#include "util/err.h"

static dx_status default_value(const dx_key_spec *k, dx_ynode **out, char *err, size_t errlen) {
  static const dx_srcpos pos = {DX_POS_DEFAULT, 0, 0};
  if (k->shape == DX_KEY_SECTION) {
    *out = dx_ynode_new(DX_YNODE_MAP, pos);
    return *out ? DX_OK : DX_ERR_NOMEM;
  }
  return dx_yaml_parse(k->spec.default_value, strlen(k->spec.default_value), pos.file, &pos, out,
                       err, errlen);
}

dx_status dx_cfg_defaults(dx_ynode **out, char *err, size_t errlen) {
  static const dx_srcpos pos = {DX_POS_DEFAULT, 0, 0};
  dx_ynode *root = dx_ynode_new(DX_YNODE_MAP, pos);
  size_t n;
  const dx_key_spec *keys = dx_schema_keys(&n);
  dx_status st = root ? DX_OK : DX_ERR_NOMEM;
  for (size_t i = 0; i < n && st == DX_OK; i++) {
    const dx_key_spec *k = &keys[i];
    if (k->shape != DX_KEY_SECTION && !k->spec.default_value) continue;
    /* Sections come before their keys in the schema, so the parent exists. */
    dx_ynode *parent = dx_ynode_parent(root, k->spec.name);
    dx_ynode *value = NULL;
    st = default_value(k, &value, err, errlen);
    if (st == DX_OK) st = dx_ynode_put(parent, dx_schema_leaf(k), pos, value);
  }
  if (st != DX_OK) {
    dx_ynode_free(root);
    root = NULL;
  }
  *out = root;
  return st;
}
