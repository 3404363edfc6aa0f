#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/value.h"

static dx_status store(const dx_param_spec *s, const dx_ynode *n, const dx_value *v, void *at) {
  switch (s->type) {
  case DX_PARAM_INT: *(int64_t *)at = v->i; break;
  case DX_PARAM_FLOAT: *(double *)at = v->f; break;
  case DX_PARAM_BOOL: *(bool *)at = v->b; break;
  case DX_PARAM_CHOICE: *(int *)at = (int)v->i; break; /* the enums of experiment.h */
  case DX_PARAM_STRING: return (*(char **)at = strdup(n->text)) ? DX_OK : DX_ERR_NOMEM;
  }
  return DX_OK;
}

dx_status dx_cfg_value(const dx_key_spec *k, const char *where, const dx_ynode *n, void *at,
                       char *err, size_t errlen) {
  const dx_param_spec *s = &k->spec;
  char what[256], got[256], why[128];
  if (s->type == DX_PARAM_CHOICE)
    snprintf(what, sizeof what, "one of %s", dx_words_list(s->range, got, sizeof got));
  else
    snprintf(what, sizeof what, "%s", dx_param_type_phrase(s->type));
  bool scalar = n->kind == DX_YNODE_SCALAR, quoted = scalar && n->style == DX_SCALAR_QUOTED;
  dx_value v;
  dx_value_fault fault = scalar ? dx_value_read(s, n->text, quoted, &v) : DX_VALUE_NOT_TYPE;
  /* A quoted scalar is a string in YAML, so `batch: "64"` is refused rather
   * than guessed at. */
  if (fault == DX_VALUE_QUOTED)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                   "%s: expected %s, got the quoted string '%s'; remove the quotes", where, what,
                   n->text);
  if (!scalar || dx_ynode_is_null(n))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected %s, got %s", where, what,
                   dx_ynode_describe(n, got, sizeof got));
  switch (fault) {
  case DX_VALUE_OK: break;
  case DX_VALUE_TOO_LARGE:
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: %s is too large", where, n->text);
  case DX_VALUE_OUTSIDE:
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: %s is out of range %s", where, n->text,
                   s->range);
  case DX_VALUE_NOT_CHOICE:
    dx_words_list(s->range, what, sizeof what);
    if (dx_words_suggest(s->range, n->text, got, sizeof got))
      return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                     "%s: '%s' is not one of %s; did you mean '%s'?", where, n->text, what, got);
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: '%s' is not one of %s", where, n->text,
                   what);
  default:
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected %s, got '%s'", where, what,
                   n->text);
  }
  if (k->check && !k->check(n->text, why, sizeof why))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: '%s' %s", where, n->text, why);
  return store(s, n, &v, at);
}
