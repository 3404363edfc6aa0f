/* Checking a plugin's YAML arguments against its parameter spec: every
 * message starts with the FILE:LINE:COL of the offending key or value. */
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
  const char **names = malloc((d->n_params + 1) * sizeof *names);
  if (!names) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  for (size_t i = 0; i < d->n_params; i++)
    names[i] = d->params[i].name;
  dx_errf(err, errlen, DX_ERR_CONFIG, &a->key_pos, "plugin '%s' ", d->name);
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

/* Type, range and choice of one argument, as the experiment's own keys are
 * checked (util/value.h); only the wording is the plugin's. */
static dx_status check_arg(const dx_plugin_desc *d, const dx_param_spec *s, const dx_plugin_arg *a,
                           char *err, size_t errlen) {
  char list[256], near[64];
  bool quoted = a->style == DX_SCALAR_QUOTED;
  dx_value v;
  dx_value_fault fault = dx_value_read(s, a->value, quoted, &v);
  if (fault == DX_VALUE_OK) return DX_OK;
  dx_errf(err, errlen, DX_ERR_CONFIG, &a->value_pos, "parameter '%s' of plugin '%s' ", s->name,
          d->name);
  if (fault == DX_VALUE_OUTSIDE) {
    dx_appendf(err, errlen, "is %s, outside %s", a->value, s->range);
  } else if (fault == DX_VALUE_NOT_CHOICE) {
    dx_appendf(err, errlen, "must be one of %s, not '%s'",
               dx_words_list(s->range, list, sizeof list), a->value);
    if (dx_words_suggest(s->range, a->value, near, sizeof near))
      dx_appendf(err, errlen, " (did you mean '%s'?)", near);
  } else {
    dx_appendf(err, errlen, "must be %s, not %s'%s'", dx_param_type_phrase(s->type),
               quoted ? "the quoted string " : "", a->value);
  }
  return DX_ERR_CONFIG;
}

static dx_status missing(const dx_plugin_desc *d, const dx_param_spec *s, dx_srcpos at, char *err,
                         size_t errlen) {
  dx_errf(err, errlen, DX_ERR_CONFIG, &at, "plugin '%s' needs parameter '%s' (%s", d->name, s->name,
          dx_param_type_name(s->type));
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
