/* What the experiment loader hands the plugin loader: a plugin named in YAML
 * with its parameters as written, each with its source position so that the
 * plugin loader can report `FILE:LINE:COL: ...` when a value does not fit the
 * plugin's spec. config writes it and plugin reads it; it lives here, below
 * both, so that neither part includes the other. */
#ifndef DX_UTIL_PLUGIN_REF_H
#define DX_UTIL_PLUGIN_REF_H

#include "util/srcpos.h"

typedef enum dx_scalar_style {
  DX_SCALAR_PLAIN, /* unquoted: may be a number, bool or null */
  DX_SCALAR_QUOTED /* '...' or "...": always a string */
} dx_scalar_style;

typedef struct dx_plugin_arg {
  char *key;
  char *value; /* the scalar's text */
  dx_scalar_style style;
  dx_srcpos key_pos, value_pos;
} dx_plugin_arg;

typedef struct dx_plugin_ref {
  char *plugin;  /* name, or a path containing '/' */
  dx_srcpos pos; /* of the plugin: value */
  dx_plugin_arg *args;
  int n_args;
} dx_plugin_ref;

#endif
