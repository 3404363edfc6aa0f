/* Values from their YAML text, checked against their spec's range. */
#include "util/value.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_int(const char *s, int64_t *v, bool *too_large) {
  const char *p = s;
  if (*p == '-' || *p == '+') p++;
  if (!isdigit((unsigned char)*p)) return false;
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (*end != '\0') return false;
  *too_large = errno == ERANGE;
  *v = (int64_t)x;
  return true;
}

/* strtod also reads "nan", "inf" and hex; a value is a plain finite decimal
 * number, so insist on a digit or a point after the sign. */
static bool parse_float(const char *s, double *v) {
  const char *p = s;
  if (*p == '-' || *p == '+') p++;
  if (!isdigit((unsigned char)*p) && *p != '.') return false;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) return false;
  char *end;
  double x = strtod(s, &end);
  if (end == s || *end != '\0' || !isfinite(x)) return false;
  *v = x;
  return true;
}

/* YAML 1.2's core schema: yes/no/on/off are strings, not bools. */
static bool parse_bool(const char *s, bool *v) {
  static const char *const words[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
  for (int i = 0; i < 6; i++) {
    if (strcmp(s, words[i]) == 0) {
      *v = i < 3;
      return true;
    }
  }
  return false;
}

static dx_value_fault in_range(const dx_param_spec *s, double v) {
  dx_range r;
  if (s->range && dx_range_parse(s->range, &r) && !dx_range_contains(&r, v))
    return DX_VALUE_OUTSIDE;
  return DX_VALUE_OK;
}

dx_value_fault dx_value_read(const dx_param_spec *s, const char *text, bool quoted, dx_value *v) {
  *v = (dx_value){0};
  bool typed = s->type == DX_PARAM_INT || s->type == DX_PARAM_FLOAT || s->type == DX_PARAM_BOOL;
  if (typed && quoted) return DX_VALUE_QUOTED;
  bool too_large = false;
  switch (s->type) {
  case DX_PARAM_INT:
    if (!parse_int(text, &v->i, &too_large)) return DX_VALUE_NOT_TYPE;
    if (too_large) return DX_VALUE_TOO_LARGE;
    v->f = (double)v->i;
    return in_range(s, v->f);
  case DX_PARAM_FLOAT:
    if (!parse_float(text, &v->f)) return DX_VALUE_NOT_TYPE;
    return in_range(s, v->f);
  case DX_PARAM_BOOL: return parse_bool(text, &v->b) ? DX_VALUE_OK : DX_VALUE_NOT_TYPE;
  case DX_PARAM_STRING: return DX_VALUE_OK;
  case DX_PARAM_CHOICE:
    v->i = dx_words_find(s->range, text);
    return v->i < 0 ? DX_VALUE_NOT_CHOICE : DX_VALUE_OK;
  }
  return DX_VALUE_NOT_TYPE;
}

const char *dx_param_type_phrase(dx_param_type type) {
  switch (type) {
  case DX_PARAM_INT: return "an integer";
  case DX_PARAM_FLOAT: return "a number";
  case DX_PARAM_BOOL: return "true or false";
  case DX_PARAM_STRING: return "a string";
  case DX_PARAM_CHOICE: return "one of";
  }
  return "";
}

const char *dx_param_type_name(dx_param_type type) {
  switch (type) {
  case DX_PARAM_INT: return "int";
  case DX_PARAM_FLOAT: return "float";
  case DX_PARAM_BOOL: return "bool";
  case DX_PARAM_STRING: return "string";
  case DX_PARAM_CHOICE: return "choice";
  }
  return NULL;
}

void dx_float_text(double f, char *buf, size_t len) {
  for (int digits = 1; digits <= 17; digits++) {
    snprintf(buf, len, "%.*g", digits, f);
    if (strtod(buf, NULL) == f) return;
  }
}

/* --- intervals ------------------------------------------------------------------------- */

static const char *skip_space(const char *s) {
  while (isspace((unsigned char)*s))
    s++;
  return s;
}

/* One end of the interval, up to `stop`: a number as a value would be
 * written, or an infinity. */
static bool parse_end(const char **s, char stop, double *v) {
  const char *p = skip_space(*s), *q = strchr(p, stop);
  if (!q) return false;
  size_t n = (size_t)(q - p);
  while (n > 0 && isspace((unsigned char)p[n - 1]))
    n--;
  char tok[64];
  if (n == 0 || n >= sizeof tok) return false;
  memcpy(tok, p, n);
  tok[n] = '\0';
  if (strcmp(tok, "inf") == 0 || strcmp(tok, "+inf") == 0)
    *v = INFINITY;
  else if (strcmp(tok, "-inf") == 0)
    *v = -INFINITY;
  else if (!parse_float(tok, v))
    return false;
  *s = q + 1;
  return true;
}

bool dx_range_parse(const char *text, dx_range *r) {
  if (!text) return false;
  const char *s = skip_space(text);
  if (*s != '[' && *s != '(') return false;
  r->lo_open = *s == '(';
  s++;
  if (!parse_end(&s, ',', &r->lo)) return false;
  const char *close = s;
  while (*close && *close != ']' && *close != ')')
    close++;
  if (!*close) return false;
  r->hi_open = *close == ')';
  if (!parse_end(&s, *close, &r->hi)) return false;
  if (*skip_space(s) != '\0') return false;
  /* An interval holding no finite number would refuse every value: so
   * would (1, 1), [1, 1) and (1, 1]; only [1, 1] is a point. */
  bool point = r->lo == r->hi && !r->lo_open && !r->hi_open;
  return (r->lo < r->hi || point) && r->lo < INFINITY && r->hi > -INFINITY;
}

bool dx_range_contains(const dx_range *r, double v) {
  bool above = r->lo_open ? v > r->lo : v >= r->lo;
  bool below = r->hi_open ? v < r->hi : v <= r->hi;
  return above && below;
}

/* --- specs ----------------------------------------------------------------------------- */

/* Every word between bars must be non-empty: "a||b" and "a|" are typos. */
static bool valid_choices(const char *s) {
  if (!s || !*s) return false;
  for (const char *p = s; *p; p++)
    if (*p == '|' && (p == s || p[1] == '|' || p[1] == '\0')) return false;
  return true;
}

static bool check_range(const dx_param_spec *p, char *err, size_t errlen) {
  dx_range r;
  bool numeric = p->type == DX_PARAM_INT || p->type == DX_PARAM_FLOAT;
  if (numeric && p->range && !dx_range_parse(p->range, &r)) {
    snprintf(err, errlen, "parameter '%s': malformed range '%s' (write it like [0, 1) or (0, inf))",
             p->name, p->range);
    return false;
  }
  if (p->type == DX_PARAM_CHOICE && !valid_choices(p->range)) {
    snprintf(err, errlen, "parameter '%s': empty choice list '%s' (write the words as a|b|c)",
             p->name, p->range ? p->range : "");
    return false;
  }
  if (!numeric && p->type != DX_PARAM_CHOICE && p->range) {
    snprintf(err, errlen, "parameter '%s': a %s takes no range, but '%s' is given", p->name,
             dx_param_type_name(p->type), p->range);
    return false;
  }
  return true;
}

static bool check_default(const dx_param_spec *p, char *err, size_t errlen) {
  dx_value v;
  const char *d = p->default_value;
  switch (d ? dx_value_read(p, d, false, &v) : DX_VALUE_OK) {
  case DX_VALUE_OK: return true;
  case DX_VALUE_OUTSIDE:
    snprintf(err, errlen, "parameter '%s': default %s is outside its range %s", p->name, d,
             p->range);
    return false;
  case DX_VALUE_NOT_CHOICE:
    snprintf(err, errlen, "parameter '%s': default '%s' is not one of its choices %s", p->name, d,
             p->range);
    return false;
  default:
    snprintf(err, errlen, "parameter '%s': default '%s' is not %s", p->name, d,
             dx_param_type_phrase(p->type));
    return false;
  }
}

bool dx_param_spec_check_value(const dx_param_spec *s, char *err, size_t errlen) {
  return check_range(s, err, errlen) && check_default(s, err, errlen);
}
