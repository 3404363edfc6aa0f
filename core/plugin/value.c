/* Parameter values from their YAML text, and the words used to name types. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/internal.h"

static bool parse_int(const char *s, int64_t *v) {
  const char *p = s;
  if (*p == '-' || *p == '+') p++;
  if (!isdigit((unsigned char)*p)) return false;
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (*end != '\0' || errno == ERANGE) return false;
  *v = (int64_t)x;
  return true;
}

/* strtod also reads "nan", "inf" and hex; a parameter is a plain finite
 * decimal number, so insist on a digit or a point after the sign. */
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
  static const char *const yes[] = {"true", "True", "TRUE"};
  static const char *const no[] = {"false", "False", "FALSE"};
  for (size_t i = 0; i < 3; i++) {
    if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
      *v = strcmp(s, yes[i]) == 0;
      return true;
    }
  }
  return false;
}

bool dx_value_parse(dx_param_type type, const char *text, dx_value *v) {
  *v = (dx_value){0};
  if (!text) return false;
  switch (type) {
  case DX_PARAM_INT:
    if (!parse_int(text, &v->i)) return false;
    v->f = (double)v->i;
    return true;
  case DX_PARAM_FLOAT: return parse_float(text, &v->f);
  case DX_PARAM_BOOL: return parse_bool(text, &v->b);
  case DX_PARAM_STRING:
  case DX_PARAM_CHOICE: return true;
  }
  return false;
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

bool dx_choice_has(const char *choices, const char *word) {
  size_t n = strlen(word);
  for (const char *p = choices; p && *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, word, n) == 0) return true;
    p = bar ? bar + 1 : NULL;
  }
  return false;
}
