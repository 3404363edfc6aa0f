/* The experiment schema: one row per key. A key's value is described as a
 * plugin's parameter is (ddpmx/param.h: name, type, default, range, help) and
 * read by the same parser and range checker (util/value.h); the row adds the
 * key's shape and where its value lives in dx_experiment. Loading,
 * overrides, the writers and docs/experiment.md all follow it. */
#ifndef DX_CONFIG_SCHEMA_H
#define DX_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "config/experiment.h"
#include "config/ynode.h"
#include "ddpmx/param.h"

typedef enum dx_key_shape {
  DX_KEY_SECTION,      /* a mapping of further keys */
  DX_KEY_VALUE,        /* one value: char *, int64_t, double, bool, or an enum for CHOICE */
  DX_KEY_LIST,         /* int64_t or double [max_items]; the count at count_offset if set */
  DX_KEY_PATH_LIST,    /* char **, count at count_offset; relative to the file */
  DX_KEY_PLUGIN,       /* dx_plugin_ref */
  DX_KEY_PLUGIN_LEVELS /* model.attention: see dx_exp_model */
} dx_key_shape;

/* An extra rule on a string value; false with the reason in why. */
typedef bool (*dx_key_check)(const char *value, char *why, size_t whylen);

typedef struct dx_key_spec {
  /* name: the dotted path ("train.ema.decay"). default_value: YAML; NULL for
   * none (required, optional, or a rule decides). A list's type and range
   * are its items'. Sections and plugins have no type. */
  dx_param_spec spec;
  dx_key_shape shape;
  bool required;
  int min_items, max_items; /* lists */
  dx_plugin_kind kind;      /* PLUGIN, PLUGIN_LEVELS */
  size_t offset;            /* of the value in dx_experiment */
  size_t count_offset;      /* an int64_t; 0: none (the list has max_items) */
  dx_key_check check;
} dx_key_spec;

/* Every key, a section before its keys, in the order of docs/experiment.md. */
DX_API const dx_key_spec *dx_schema_keys(size_t *n);
/* The key at this dotted path, or NULL. */
const dx_key_spec *dx_schema_find(const char *path);
/* The keys directly under `section` ("" for the top level), up to max;
 * returns how many there are. */
size_t dx_schema_children(const char *section, const dx_key_spec **out, size_t max);
/* The last component of a key's path. */
const char *dx_schema_leaf(const dx_key_spec *k);

/* A tree holding every default of the schema (and every section, empty if it
 * has no defaults), placed at `<default>`: what a file is merged over. */
dx_status dx_cfg_defaults(dx_ynode **out, char *err, size_t errlen);

#endif
