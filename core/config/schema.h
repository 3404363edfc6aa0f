/* The experiment schema: one row per key, saying where its value lives in
 * dx_experiment, its type, default, range or choices, and what it means.
 * Loading, overrides, the writers and docs/experiment.md all follow it. */
#ifndef DX_CONFIG_SCHEMA_H
#define DX_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "config/experiment.h"
#include "config/ynode.h"

typedef enum dx_key_type {
  DX_KEY_SECTION,      /* a mapping of further keys */
  DX_KEY_STRING,       /* char * */
  DX_KEY_INT,          /* int64_t */
  DX_KEY_FLOAT,        /* double */
  DX_KEY_BOOL,         /* bool */
  DX_KEY_CHOICE,       /* an enum: the position of the word in `choices` */
  DX_KEY_INT_LIST,     /* int64_t[max_items], count in an int64_t at count_offset */
  DX_KEY_FLOAT_LIST,   /* double[max_items]; min_items == max_items */
  DX_KEY_PATH_LIST,    /* char **, count at count_offset; relative to the file */
  DX_KEY_PLUGIN,       /* dx_plugin_ref */
  DX_KEY_PLUGIN_LEVELS /* model.attention: see dx_exp_model */
} dx_key_type;

enum { DX_LO_OPEN = 1, DX_HI_OPEN = 2 };

/* An extra rule on a string value; false with the reason in why. */
typedef bool (*dx_key_check)(const char *value, char *why, size_t whylen);

typedef struct dx_key_spec {
  const char *path; /* dotted: "train.ema.decay" */
  dx_key_type type;
  const char *default_text; /* YAML; NULL: none (required, optional, or a rule decides) */
  bool required;
  const char *choices;      /* CHOICE: "eps|x0|v" */
  bool ranged;              /* INT, FLOAT and list items: lo..hi, see bounds */
  double lo, hi;            /* hi may be INFINITY */
  int bounds;               /* DX_LO_OPEN | DX_HI_OPEN */
  int min_items, max_items; /* lists */
  dx_plugin_kind kind;      /* PLUGIN, PLUGIN_LEVELS */
  size_t offset;            /* of the value in dx_experiment */
  size_t count_offset;      /* INT_LIST, PATH_LIST */
  dx_key_check check;
  const char *help; /* one line */
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
/* "[4, 1024]", "(0, 1]", "[0, inf)" into buf. */
const char *dx_schema_range_text(const dx_key_spec *k, char *buf, size_t len);
/* The i-th word of a CHOICE key into buf (NULL if out of range). */
const char *dx_schema_choice(const dx_key_spec *k, int i, char *buf, size_t len);

/* A tree holding every default of the schema (and every section, empty if it
 * has no defaults), placed at `<default>`: what a file is merged over. */
dx_status dx_cfg_defaults(dx_ynode **out, char *err, size_t errlen);

#endif
