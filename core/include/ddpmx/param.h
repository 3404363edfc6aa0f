/* A typed value as data: its name, type, default, range and help. A plugin
 * declares its parameters with it (ddpmx/plugin.h), and the host describes the
 * experiment's own keys with it too, so that one parser and one range checker
 * serve both. */
#ifndef DDPMX_PARAM_H
#define DDPMX_PARAM_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dx_param_type {
  DX_PARAM_INT = 1,
  DX_PARAM_FLOAT = 2,
  DX_PARAM_BOOL = 3,
  DX_PARAM_STRING = 4,
  DX_PARAM_CHOICE = 5 /* one of the words in `range`, separated by '|' */
} dx_param_type;

/* One parameter a plugin takes. Every field is text or an enum so the host
 * can print it as documentation. */
typedef struct dx_param_spec {
  const char *name; /* [a-z_][a-z0-9_]*, unique within the plugin */
  dx_param_type type;
  const char *default_value; /* as it would be written in YAML; NULL = required */
  const char *range;         /* INT/FLOAT: interval such as "[0, 1)", "(0, inf)",
                                "[1, 64]"; CHOICE: "erf|tanh"; NULL = any */
  const char *unit;          /* optional, for documentation ("steps", "pixels") */
  const char *help;          /* one sentence */
} dx_param_spec;

#ifdef __cplusplus
}
#endif
#endif
