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
  return dx_param_spec_check_value(p, err, errlen);
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
