#include "config/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/value.h"

static const dx_srcpos here = {"<resolved>", 0, 0};

static dx_ynode *plain(const char *text) { return dx_ynode_scalar(text, DX_SCALAR_PLAIN, here); }

static dx_ynode *quoted(const char *text) {
  return text ? dx_ynode_scalar(text, DX_SCALAR_QUOTED, here) : plain("null");
}

static dx_ynode *integer(int64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  return plain(buf);
}

/* 1.0, not 1: the text says the key is a float, in JSON and in SQL rows. */
static dx_ynode *number(double v) {
  char buf[32];
  dx_float_text(v, buf, sizeof buf - 2);
  if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
  return plain(buf);
}

static dx_ynode *plugin(const dx_plugin_ref *r) {
  if (!r->plugin) return plain("null");
  dx_ynode *map = dx_ynode_new(DX_YNODE_MAP, here);
  dx_ynode *name = quoted(r->plugin);
  if (!map || !name || dx_ynode_put(map, "plugin", here, name) != DX_OK) {
    dx_ynode_free(map);
    return NULL;
  }
  for (int i = 0; i < r->n_args; i++) {
    const dx_plugin_arg *a = &r->args[i];
    dx_ynode *v = dx_ynode_scalar(a->value, a->style, here);
    if (!v || dx_ynode_put(map, a->key, here, v) != DX_OK) {
      dx_ynode_free(map);
      return NULL;
    }
  }
  return map;
}

/* A list of n items made by item(at, i). */
static dx_ynode *list(const void *at, int64_t n, dx_ynode *(*item)(const void *, int64_t)) {
  dx_ynode *seq = dx_ynode_new(DX_YNODE_SEQ, here);
  for (int64_t i = 0; seq && i < n; i++) {
    dx_ynode *v = item(at, i);
    if (!v || dx_ynode_push(seq, v) != DX_OK) {
      dx_ynode_free(seq);
      return NULL;
    }
  }
  return seq;
}

static dx_ynode *int_item(const void *at, int64_t i) { return integer(((const int64_t *)at)[i]); }
static dx_ynode *float_item(const void *at, int64_t i) { return number(((const double *)at)[i]); }
static dx_ynode *path_item(const void *at, int64_t i) { return quoted(((char *const *)at)[i]); }
static dx_ynode *level_item(const void *at, int64_t i) {
  return plugin((const dx_plugin_ref *)at + i);
}

static dx_ynode *scalar(const dx_param_spec *s, const void *at) {
  char word[64];
  switch (s->type) {
  case DX_PARAM_STRING: return quoted(*(char *const *)at);
  case DX_PARAM_INT: return integer(*(const int64_t *)at);
  case DX_PARAM_FLOAT: return number(*(const double *)at);
  case DX_PARAM_BOOL: return plain(*(const bool *)at ? "true" : "false");
  case DX_PARAM_CHOICE: return quoted(dx_words_at(s->range, *(const int *)at, word, sizeof word));
  }
  return NULL;
}

static dx_ynode *value(const dx_key_spec *k, const dx_experiment *e) {
  const char *at = (const char *)e + k->offset;
  int64_t count =
      k->count_offset ? *(const int64_t *)((const char *)e + k->count_offset) : k->max_items;
  switch (k->shape) {
  case DX_KEY_SECTION: return dx_ynode_new(DX_YNODE_MAP, here);
  case DX_KEY_VALUE: return scalar(&k->spec, at);
  case DX_KEY_LIST: return list(at, count, k->spec.type == DX_PARAM_INT ? int_item : float_item);
  case DX_KEY_PATH_LIST: return list(*(char *const *)at, count, path_item);
  case DX_KEY_PLUGIN: return plugin((const dx_plugin_ref *)at);
  case DX_KEY_PLUGIN_LEVELS:
    if (e->model.attention_per_level) return list(at, e->model.n_levels, level_item);
    return plugin((const dx_plugin_ref *)at);
  }
  return NULL;
}

dx_ynode *dx_cfg_resolved(const dx_experiment *e) {
  dx_ynode *root = dx_ynode_new(DX_YNODE_MAP, here);
  size_t n;
  const dx_key_spec *keys = dx_schema_keys(&n);
  for (size_t i = 0; root && i < n; i++) {
    const dx_key_spec *k = &keys[i];
    if (strcmp(k->spec.name, "extends") == 0) continue;
    dx_ynode *parent = dx_ynode_parent(root, k->spec.name); /* sections come first */
    dx_ynode *v = value(k, e);
    if (!v || dx_ynode_put(parent, dx_schema_leaf(k), here, v) != DX_OK) {
      dx_ynode_free(root);
      root = NULL;
    }
  }
  return root;
}
