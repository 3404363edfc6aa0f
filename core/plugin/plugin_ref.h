/* What the experiment loader hands the plugin loader: a plugin named in YAML
 * with its parameters as written, each with its source position so that the
 * plugin loader can report `FILE:LINE:COL: ...` when a value does not fit the
 * plugin's spec. Owned by the experiment (core/config/). */
#ifndef DX_PLUGIN_REF_H
#define DX_PLUGIN_REF_H

#include <stdbool.h>

typedef struct dx_srcpos {
  const char *file; /* the YAML file, or "<command line>" for overrides */
  int line, col;    /* 1-based; for overrides, line = 0 and col = argument index */
} dx_srcpos;

typedef enum dx_scalar_style {
  DX_SCALAR_PLAIN,  /* unquoted: may be a number, bool or null */
  DX_SCALAR_QUOTED  /* '...' or "...": always a string */
} dx_scalar_style;

typedef struct dx_plugin_arg {
  char *key;
  char *value; /* the scalar's text */
  dx_scalar_style style;
  dx_srcpos key_pos, value_pos;
} dx_plugin_arg;

typedef struct dx_plugin_ref {
  char *plugin;     /* name, or a path containing '/' */
  dx_srcpos pos;    /* of the plugin: value */
  dx_plugin_arg *args;
  int n_args;
} dx_plugin_ref;

#endif
