#include "config/values.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/suggest.h"

/* Checks that n is a scalar that may be read as a `what`. A quoted scalar is
 * a string in YAML, so `batch: "64"` is refused rather than guessed at. */
static dx_status want_plain(const char *what, const char *where, const dx_ynode *n, char *err,
                            size_t errlen) {
  char buf[256];
  if (n->kind == DX_YNODE_SCALAR && n->style == DX_SCALAR_QUOTED)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                   "%s: expected %s, got the quoted string '%s'; remove the quotes", where, what,
                   n->text);
  if (n->kind != DX_YNODE_SCALAR || dx_ynode_is_null(n))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected %s, got %s", where, what,
                   dx_ynode_describe(n, buf, sizeof buf));
  return DX_OK;
}

static dx_status check_range(const dx_key_spec *k, const char *where, const dx_ynode *n, double v,
                             char *err, size_t errlen) {
  if (!k->ranged) return DX_OK;
  bool lo_ok = k->bounds & DX_LO_OPEN ? v > k->lo : v >= k->lo;
  bool hi_ok = k->bounds & DX_HI_OPEN ? v < k->hi : v <= k->hi;
  if (lo_ok && hi_ok) return DX_OK;
  char range[64];
  return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: %s is out of range %s", where, n->text,
                 dx_schema_range_text(k, range, sizeof range));
}

dx_status dx_cfg_int(const dx_key_spec *k, const char *where, const dx_ynode *n, int64_t *out,
                     char *err, size_t errlen) {
  dx_status st = want_plain("an integer", where, n, err, errlen);
  if (st != DX_OK) return st;
  const char *t = n->text;
  char *end;
  errno = 0;
  long long v = strtoll(t, &end, 10);
  bool digits = strspn(t + (*t == '-' || *t == '+'), "0123456789") > 0;
  if (!digits || *end)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected an integer, got '%s'", where,
                   t);
  if (errno == ERANGE)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: %s is too large", where, t);
  *out = v;
  return check_range(k, where, n, (double)v, err, errlen);
}

dx_status dx_cfg_float(const dx_key_spec *k, const char *where, const dx_ynode *n, double *out,
                       char *err, size_t errlen) {
  dx_status st = want_plain("a number", where, n, err, errlen);
  if (st != DX_OK) return st;
  char *end;
  double v = strtod(n->text, &end);
  if (end == n->text || *end || !isfinite(v))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected a number, got '%s'", where,
                   n->text);
  *out = v;
  return check_range(k, where, n, v, err, errlen);
}

dx_status dx_cfg_bool(const char *where, const dx_ynode *n, bool *out, char *err, size_t errlen) {
  dx_status st = want_plain("true or false", where, n, err, errlen);
  if (st != DX_OK) return st;
  /* YAML 1.2's core schema: yes/no/on/off are strings, not booleans. */
  static const char *const words[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
  for (int i = 0; i < 6; i++) {
    if (strcmp(n->text, words[i]) == 0) {
      *out = i < 3;
      return DX_OK;
    }
  }
  return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected true or false, got '%s'", where,
                 n->text);
}

#define MAX_CHOICES 16

dx_status dx_cfg_choice(const dx_key_spec *k, const char *where, const dx_ynode *n, int *out,
                        char *err, size_t errlen) {
  char words[MAX_CHOICES][32], list[256] = "";
  const char *names[MAX_CHOICES];
  int count = 0;
  while (count < MAX_CHOICES && dx_schema_choice(k, count, words[count], sizeof words[0])) {
    names[count] = words[count];
    size_t used = strlen(list);
    snprintf(list + used, sizeof list - used, "%s%s", count ? ", " : "", words[count]);
    count++;
  }
  char buf[256];
  if (n->kind != DX_YNODE_SCALAR || dx_ynode_is_null(n))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected one of %s, got %s", where,
                   list, dx_ynode_describe(n, buf, sizeof buf));
  for (int i = 0; i < count; i++) {
    if (strcmp(n->text, names[i]) == 0) {
      *out = i;
      return DX_OK;
    }
  }
  const char *near = dx_suggest(n->text, names, (size_t)count);
  if (near)
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos,
                   "%s: '%s' is not one of %s; did you mean '%s'?", where, n->text, list, near);
  return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: '%s' is not one of %s", where, n->text,
                 list);
}

dx_status dx_cfg_string(const dx_key_spec *k, const char *where, const dx_ynode *n, char **out,
                        char *err, size_t errlen) {
  char buf[256], why[128];
  if (n->kind != DX_YNODE_SCALAR || dx_ynode_is_null(n))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: expected a string, got %s", where,
                   dx_ynode_describe(n, buf, sizeof buf));
  if (k->check && !k->check(n->text, why, sizeof why))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &n->pos, "%s: '%s' %s", where, n->text, why);
  *out = strdup(n->text);
  return *out ? DX_OK : DX_ERR_NOMEM;
}
