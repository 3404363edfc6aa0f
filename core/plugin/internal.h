/* Helpers shared by the files of core/plugin/ and nothing else. */
#ifndef DX_PLUGIN_INTERNAL_H
#define DX_PLUGIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/plugin.h"
#include "util/plugin_ref.h"

/* An interval such as "[0, 1)" or "(0, inf)". */
typedef struct dx_range {
  double lo, hi;
  bool lo_open, hi_open;
} dx_range;

/* False if text is not "<[|(> number , number <]|)>" with lo <= hi; the
 * ends may be "inf" / "-inf". */
bool dx_range_parse(const char *text, dx_range *r);
bool dx_range_contains(const dx_range *r, double v);

/* One parameter value, parsed from its YAML text. */
typedef struct dx_value {
  int64_t i; /* DX_PARAM_INT */
  double f;  /* DX_PARAM_FLOAT (and INT, converted) */
  bool b;    /* DX_PARAM_BOOL */
} dx_value;

/* Parses text as a value of `type` (STRING and CHOICE accept any text).
 * False if it is not one: an integer is decimal digits with an optional
 * sign, a float is any finite strtod number, a bool is true or false. */
bool dx_value_parse(dx_param_type type, const char *text, dx_value *v);

/* "an integer", "a float", ... for messages; "" for an unknown type. */
const char *dx_param_type_phrase(dx_param_type type);
/* "int", "float", ... for tables; NULL for an unknown type. */
const char *dx_param_type_name(dx_param_type type);

/* Whether `word` is one of the '|'-separated words of `choices`. */
bool dx_choice_has(const char *choices, const char *word);

/* Checks ref's arguments against the spec (unknown, wrong type, out of
 * range, not a choice) and that every required parameter is given. ref may
 * be NULL. Messages start with the source position. */
dx_status dx_params_check(const dx_plugin_desc *d, const dx_plugin_ref *ref, char *err,
                          size_t errlen);

/* The *.so file names in dir, sorted; 0 if it cannot be read. Free with
 * dx_free_names. */
size_t dx_dir_plugins(const char *dir, char ***names);
void dx_free_names(char **names, size_t n);

#endif
