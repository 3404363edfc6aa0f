/* Checking a plugin's YAML arguments against its parameter spec: every
 * message starts with the FILE:LINE:COL of the offending key or value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/internal.h"
#include "plugin/loader.h"
#include "util/err.h"
#include "util/suggest.h"

static void list_words(char *err, size_t errlen, const char *const *words, size_t n) {
  for (size_t i = 0; i < n; i++)
    dx_appendf(err, errlen, "%s%s", i ? ", " : "", words[i]);
}

static dx_status unknown_param(const dx_plugin_desc *d, const dx_plugin_arg *a, char *err,
                               size_t errlen) {
  char pos[512];
  const char **names = malloc((d->n_params + 1) * sizeof *names);
  if (!names) {
    snprintf(err, errlen, "out of memory");
    return DX_ERR_NOMEM;
  }
  for (size_t i = 0; i < d->n_params; i++)
    names[i] = d->params[i].name;
  snprintf(err, errlen, "%s: plugin '%s' ", dx_srcpos_format(&a->key_pos, pos, sizeof pos),
           d->name);
  if (d->n_params == 0) {
    dx_appendf(err, errlen, "takes no parameters, but '%s' is given", a->key);
  } else {
    const char *hint = dx_suggest(a->key, names, d->n_params);
    dx_appendf(err, errlen, "has no parameter '%s'", a->key);
    if (hint) dx_appendf(err, errlen, " (did you mean '%s'?)", hint);
    dx_appendf(err, errlen, "; its parameters are: ");
    list_words(err, errlen, names, d->n_params);
  }
  free(names);
  return DX_ERR_CONFIG;
}

static dx_status bad_choice(const dx_plugin_desc *d, const dx_param_spec *s, const dx_plugin_arg *a,
                            char *err, size_t errlen) {
  char pos[512];
  char *words = strdup(s->range);
  const char *list[64];
  size_t n = 0;
  char *save = NULL;
  for (char *w = words ? strtok_r(words, "|", &save) : NULL; w && n < 64;
       w = strtok_r(NULL, "|", &save))
    list[n++] = w;
  snprintf(err, errlen, "%s: parameter '%s' of plugin '%s' must be one of ",
           dx_srcpos_format(&a->value_pos, pos, sizeof pos), s->name, d->name);
  list_words(err, errlen, list, n);
  dx_appendf(err, errlen, ", not '%s'", a->value);
  const char *hint = dx_suggest(a->value, list, n);
  if (hint) dx_appendf(err, errlen, " (did you mean '%s'?)", hint);
  free(words);
  return DX_ERR_CONFIG;
}

/* Type, range and choice of one argument. A quoted scalar is a string in
 * YAML, so `s: "0.1"` is refused for a float rather than silently taken. */
static dx_status check_arg(const dx_plugin_desc *d, const dx_param_spec *s, const dx_plugin_arg *a,
                           char *err, size_t errlen) {
  char pos[512];
  dx_value v;
  bool typed = s->type != DX_PARAM_STRING && s->type != DX_PARAM_CHOICE;
  bool quoted = a->style == DX_SCALAR_QUOTED;
  if (!dx_value_parse(s->type, a->value, &v) || (typed && quoted)) {
    snprintf(err, errlen, "%s: parameter '%s' of plugin '%s' must be %s, not %s'%s'",
             dx_srcpos_format(&a->value_pos, pos, sizeof pos), s->name, d->name,
             dx_param_type_phrase(s->type), quoted ? "the quoted string " : "", a->value);
    return DX_ERR_CONFIG;
  }
  dx_range r;
  bool numeric = s->type == DX_PARAM_INT || s->type == DX_PARAM_FLOAT;
  if (numeric && dx_range_parse(s->range, &r) && !dx_range_contains(&r, v.f)) {
    snprintf(err, errlen, "%s: parameter '%s' of plugin '%s' is %s, outside %s",
             dx_srcpos_format(&a->value_pos, pos, sizeof pos), s->name, d->name, a->value,
             s->range);
    return DX_ERR_CONFIG;
  }
  if (s->type == DX_PARAM_CHOICE && !dx_choice_has(s->range, a->value))
    return bad_choice(d, s, a, err, errlen);
  return DX_OK;
}

static dx_status missing(const dx_plugin_desc *d, const dx_param_spec *s, dx_srcpos at, char *err,
                         size_t errlen) {
  char pos[512];
  snprintf(err, errlen, "%s: plugin '%s' needs parameter '%s' (%s",
           dx_srcpos_format(&at, pos, sizeof pos), d->name, s->name, dx_param_type_name(s->type));
  if (s->range) dx_appendf(err, errlen, " in %s", s->range);
  dx_appendf(err, errlen, ")");
  return DX_ERR_CONFIG;
}

static bool is_given(const dx_plugin_ref *ref, const char *name) {
  for (int i = 0; ref && i < ref->n_args; i++)
    if (strcmp(ref->args[i].key, name) == 0) return true;
  return false;
}

dx_status dx_params_check(const dx_plugin_desc *d, const dx_plugin_ref *ref, char *err,
                          size_t errlen) {
  for (int i = 0; ref && i < ref->n_args; i++) {
    const dx_plugin_arg *a = &ref->args[i];
    const dx_param_spec *s = NULL;
    for (size_t j = 0; j < d->n_params && !s; j++)
      if (strcmp(d->params[j].name, a->key) == 0) s = &d->params[j];
    dx_status st = s ? check_arg(d, s, a, err, errlen) : unknown_param(d, a, err, errlen);
    if (st != DX_OK) return st;
  }
  dx_srcpos at = ref ? ref->pos : (dx_srcpos){DX_POS_DEFAULT, 0, 0};
  for (size_t i = 0; i < d->n_params; i++)
    if (!is_given(ref, d->params[i].name) && !d->params[i].default_value)
      return missing(d, &d->params[i], at, err, errlen);
  return DX_OK;
}
