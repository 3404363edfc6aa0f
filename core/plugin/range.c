/* Intervals of a parameter spec: "[a, b]", "(a, b)", mixed brackets, with
 * "inf" / "-inf" for an open end. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "plugin/internal.h"

static const char *skip_space(const char *s) {
  while (isspace((unsigned char)*s))
    s++;
  return s;
}

/* One end of the interval, up to `stop`: a number as a parameter value
 * would be written, or an infinity. */
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
  dx_value val;
  if (strcmp(tok, "inf") == 0 || strcmp(tok, "+inf") == 0)
    *v = INFINITY;
  else if (strcmp(tok, "-inf") == 0)
    *v = -INFINITY;
  else if (dx_value_parse(DX_PARAM_FLOAT, tok, &val))
    *v = val.f;
  else
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
  /* An interval holding no finite number would refuse every value. */
  return r->lo <= r->hi && r->lo < INFINITY && r->hi > -INFINITY;
}

bool dx_range_contains(const dx_range *r, double v) {
  bool above = r->lo_open ? v > r->lo : v >= r->lo;
  bool below = r->hi_open ? v < r->hi : v <= r->hi;
  return above && below;
}
