/* The plan of a sweep: axes parsed from `key=a,b,c`, and the cells of their
 * Cartesian product. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"
#include "cli/sweep.h"
#include "util/json.h"

/* Splits a value at the commas that are not inside brackets, braces or
 * quotes, so that `[1,2],[1,2,4]` is two lists and `{plugin: huber, delta:
 * 2}` one mapping, the way the values read in YAML flow syntax. */
static bool split_values(const char *v, dx_sweep_axis *ax, char *err, size_t errlen) {
  int depth = 0;
  char quote = 0;
  const char *start = v;
  for (const char *c = v;; c++) {
    if (quote) {
      if (*c == '\0') return snprintf(err, errlen, "unterminated quote in '%s'", v), false;
      if (*c == quote) quote = 0;
      continue;
    }
    if (*c == '\'' || *c == '"')
      quote = *c;
    else if (*c == '[' || *c == '{')
      depth++;
    else if (*c == ']' || *c == '}')
      depth--;
    if (depth < 0) return snprintf(err, errlen, "unbalanced '%c' in '%s'", *c, v), false;
    if ((*c == ',' && depth == 0) || *c == '\0') {
      if (*c == '\0' && depth != 0)
        return snprintf(err, errlen, "unclosed bracket in '%s'", v), false;
      char **vals = realloc(ax->values, (size_t)(ax->n + 1) * sizeof *vals);
      if (!vals) return snprintf(err, errlen, "out of memory"), false;
      ax->values = vals;
      ax->values[ax->n] = strndup(start, (size_t)(c - start));
      if (!ax->values[ax->n++]) return snprintf(err, errlen, "out of memory"), false;
      if (*c == '\0') return true;
      start = c + 1;
    }
  }
}

bool dx_sweep_plan_add(dx_sweep_plan *p, const char *arg, char *err, size_t errlen) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg)
    return snprintf(err, errlen, "'%s' is not KEY=VALUE[,VALUE...]", arg), false;
  dx_sweep_axis ax = {.key = strndup(arg, (size_t)(eq - arg))};
  bool ok = ax.key && split_values(eq + 1, &ax, err, errlen);
  for (int i = 0; ok && i < p->n_axes; i++)
    if (strcmp(p->axes[i].key, ax.key) == 0)
      ok = (snprintf(err, errlen, "%s is swept twice; give its values in one list", ax.key), false);
  if (ok && ax.n == 1) { /* one value: an ordinary override */
    char **fixed = realloc(p->fixed, (size_t)(p->n_fixed + 1) * sizeof *fixed);
    ok = fixed && (fixed[p->n_fixed] = strdup(arg));
    if (fixed) p->fixed = fixed;
    if (ok) p->n_fixed++;
  } else if (ok) {
    dx_sweep_axis *axes = realloc(p->axes, (size_t)(p->n_axes + 1) * sizeof *axes);
    ok = axes != NULL;
    if (ok) p->axes = axes, p->axes[p->n_axes++] = ax, ax = (dx_sweep_axis){0};
  }
  if (!ok && !err[0]) snprintf(err, errlen, "out of memory");
  for (int i = 0; i < ax.n; i++)
    free(ax.values[i]);
  free(ax.values);
  free(ax.key);
  p->n_cells = 1;
  for (int i = 0; i < p->n_axes; i++)
    p->n_cells *= p->axes[i].n;
  return ok;
}

void dx_sweep_plan_free(dx_sweep_plan *p) {
  for (int a = 0; a < p->n_axes; a++) {
    for (int i = 0; i < p->axes[a].n; i++)
      free(p->axes[a].values[i]);
    free(p->axes[a].values);
    free(p->axes[a].key);
  }
  for (int i = 0; i < p->n_fixed; i++)
    free(p->fixed[i]);
  free(p->axes);
  free(p->fixed);
  *p = (dx_sweep_plan){0};
}

bool dx_sweep_plan_cell(const dx_sweep_plan *p, int64_t i, dx_sweep_cell *out) {
  *out = (dx_sweep_cell){.overrides = calloc((size_t)(p->n_fixed + p->n_axes) + 1, sizeof(char *))};
  dx_strbuf cell = {0};
  bool ok = out->overrides != NULL;
  for (int k = 0; ok && k < p->n_fixed; k++)
    ok = (out->overrides[out->n++] = strdup(p->fixed[k])) != NULL;
  int64_t stride = p->n_cells;
  for (int a = 0; ok && a < p->n_axes; a++) {
    stride /= p->axes[a].n;
    const char *v = p->axes[a].values[(i / stride) % p->axes[a].n];
    size_t len = strlen(p->axes[a].key) + strlen(v) + 2;
    ok = (out->overrides[out->n] = malloc(len)) != NULL;
    if (ok) snprintf(out->overrides[out->n++], len, "%s=%s", p->axes[a].key, v);
    dx_strbuf_printf(&cell, "%s%s=%s", a ? "," : "", p->axes[a].key, v);
  }
  dx_strbuf_puts(&cell, "");
  out->cell = dx_strbuf_take(&cell);
  if (ok && out->cell) return true;
  dx_sweep_cell_free(out);
  return false;
}

void dx_sweep_cell_free(dx_sweep_cell *c) {
  for (int k = 0; c->overrides && k < c->n; k++)
    free(c->overrides[k]);
  free(c->overrides);
  free(c->cell);
  *c = (dx_sweep_cell){0};
}

char *dx_sweep_plan_axes_json(const dx_sweep_plan *p) {
  dx_strbuf b = {0};
  dx_strbuf_puts(&b, "[");
  for (int a = 0; a < p->n_axes; a++) {
    dx_strbuf_puts(&b, a ? ", {\"key\": " : "{\"key\": ");
    dx_json_string(&b, p->axes[a].key);
    dx_strbuf_puts(&b, ", \"values\": [");
    for (int i = 0; i < p->axes[a].n; i++) {
      if (i) dx_strbuf_puts(&b, ", ");
      dx_json_string(&b, p->axes[a].values[i]);
    }
    dx_strbuf_puts(&b, "]}");
  }
  dx_strbuf_puts(&b, "]");
  return dx_strbuf_take(&b);
}

char *dx_sweep_plan_fixed_json(const dx_sweep_plan *p) {
  dx_strbuf b = {0};
  dx_strbuf_puts(&b, "[");
  for (int k = 0; k < p->n_fixed; k++) {
    if (k) dx_strbuf_puts(&b, ", ");
    dx_json_string(&b, p->fixed[k]);
  }
  dx_strbuf_puts(&b, "]");
  return dx_strbuf_take(&b);
}

char *dx_cli_cell_name(const char *name, const char *cell) {
  size_t len = strlen(name) + strlen(cell) + 3;
  char *s = malloc(len);
  if (s && cell[0])
    snprintf(s, len, "%s[%s]", name, cell);
  else if (s)
    snprintf(s, len, "%s", name);
  return s;
}
