/* Validation of a plugin's parameter spec: the host trusts a spec only after
 * this, so that a mistake in a plugin is reported when it is loaded rather
 * than as a puzzling message about a user's YAML. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "plugin/internal.h"

static bool valid_name(const char *s) {
  if (!s || !(islower((unsigned char)*s) || *s == '_')) return false;
  for (s++; *s; s++)
    if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_')) return false;
  return true;
}

/* Every word between bars must be non-empty: "a||b" and "a|" are typos. */
static bool valid_choices(const char *s) {
  if (!s || !*s) return false;
  for (const char *p = s; *p; p++)
    if (*p == '|' && (p == s || p[1] == '|' || p[1] == '\0')) return false;
  return true;
}

static bool check_range(const dx_param_spec *p, char *err, size_t errlen) {
  dx_range r;
  switch (p->type) {
  case DX_PARAM_INT:
  case DX_PARAM_FLOAT:
    if (p->range && !dx_range_parse(p->range, &r)) {
      snprintf(err, errlen,
               "parameter '%s': malformed range '%s' (write it like [0, 1) or (0, inf))", p->name,
               p->range);
      return false;
    }
    return true;
  case DX_PARAM_CHOICE:
    if (!valid_choices(p->range)) {
      snprintf(err, errlen, "parameter '%s': empty choice list '%s' (write the words as a|b|c)",
               p->name, p->range ? p->range : "");
      return false;
    }
    return true;
  default:
    if (p->range) {
      snprintf(err, errlen, "parameter '%s': a %s takes no range, but '%s' is given", p->name,
               dx_param_type_name(p->type), p->range);
      return false;
    }
    return true;
  }
}

static bool check_default(const dx_param_spec *p, char *err, size_t errlen) {
  dx_value v;
  dx_range r;
  const char *d = p->default_value;
  if (!d) return true;
  if (!dx_value_parse(p->type, d, &v)) {
    snprintf(err, errlen, "parameter '%s': default '%s' is not %s", p->name, d,
             dx_param_type_phrase(p->type));
    return false;
  }
  bool numeric = p->type == DX_PARAM_INT || p->type == DX_PARAM_FLOAT;
  if (numeric && p->range && dx_range_parse(p->range, &r) && !dx_range_contains(&r, v.f)) {
    snprintf(err, errlen, "parameter '%s': default %s is outside its range %s", p->name, d,
             p->range);
    return false;
  }
  if (p->type == DX_PARAM_CHOICE && !dx_choice_has(p->range, d)) {
    snprintf(err, errlen, "parameter '%s': default '%s' is not one of its choices %s", p->name, d,
             p->range);
    return false;
  }
  return true;
}

static bool check_param(const dx_param_spec *ps, size_t i, char *err, size_t errlen) {
  const dx_param_spec *p = &ps[i];
  if (!valid_name(p->name) || strcmp(p->name, "plugin") == 0) {
    snprintf(err, errlen,
             "parameter %zu has an invalid name '%s' (lowercase letters, digits and _; "
             "not 'plugin')",
             i + 1, p->name ? p->name : "(null)");
    return false;
  }
  for (size_t j = 0; j < i; j++) {
    if (strcmp(ps[j].name, p->name) == 0) {
      snprintf(err, errlen, "parameter '%s' is declared twice", p->name);
      return false;
    }
  }
  if (!dx_param_type_name(p->type)) {
    snprintf(err, errlen, "parameter '%s': unknown type %d", p->name, (int)p->type);
    return false;
  }
  return check_range(p, err, errlen) && check_default(p, err, errlen);
}

bool dx_plugin_spec_check(const dx_plugin_desc *d, char *err, size_t errlen) {
  if (d->n_params > 0 && !d->params) {
    snprintf(err, errlen, "descriptor declares %zu parameters but its params table is NULL",
             d->n_params);
    return false;
  }
  for (size_t i = 0; i < d->n_params; i++)
    if (!check_param(d->params, i, err, errlen)) return false;
  return true;
}
