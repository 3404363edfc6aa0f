/* dx_params: the validated values of a plugin's parameters, defaults filled
 * in, as its functions read them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/internal.h"
#include "plugin/loader.h"

typedef struct entry {
  char *name;
  dx_param_type type;
  dx_value v;
  char *text; /* the canonical text; the value itself for strings */
} entry;

struct dx_params {
  size_t n;
  entry *e;
};

static bool fill(entry *e, const dx_param_spec *s, const char *text) {
  char buf[64];
  e->type = s->type;
  dx_value_read(s, text, false, &e->v); /* checked already */
  if (s->type == DX_PARAM_INT) snprintf(buf, sizeof buf, "%" PRId64, e->v.i);
  if (s->type == DX_PARAM_FLOAT) dx_float_text(e->v.f, buf, sizeof buf);
  if (s->type == DX_PARAM_BOOL) snprintf(buf, sizeof buf, "%s", e->v.b ? "true" : "false");
  bool typed = s->type != DX_PARAM_STRING && s->type != DX_PARAM_CHOICE;
  e->name = strdup(s->name);
  e->text = strdup(typed ? buf : text);
  return e->name && e->text;
}

static const dx_plugin_arg *given(const dx_plugin_ref *ref, const char *name) {
  const dx_plugin_arg *last = NULL;
  for (int i = 0; ref && i < ref->n_args; i++)
    if (strcmp(ref->args[i].key, name) == 0) last = &ref->args[i];
  return last;
}

dx_status dx_params_create(const dx_plugin_desc *d, const dx_plugin_ref *ref, dx_params **out,
                           char *err, size_t errlen) {
  *out = NULL;
  dx_status st = dx_params_check(d, ref, err, errlen);
  if (st != DX_OK) return st;
  dx_params *p = calloc(1, sizeof *p);
  p->e = p ? calloc(d->n_params + 1, sizeof *p->e) : NULL;
  bool ok = p && p->e;
  for (size_t i = 0; ok && i < d->n_params; i++, p->n++) {
    const dx_plugin_arg *a = given(ref, d->params[i].name);
    ok = fill(&p->e[i], &d->params[i], a ? a->value : d->params[i].default_value);
  }
  if (!ok) {
    dx_params_free(p);
    snprintf(err, errlen, "out of memory");
    return DX_ERR_NOMEM;
  }
  *out = p;
  return DX_OK;
}

void dx_params_free(dx_params *p) {
  if (!p) return;
  for (size_t i = 0; p->e && i < p->n; i++) {
    free(p->e[i].name);
    free(p->e[i].text);
  }
  free(p->e);
  free(p);
}

static const entry *lookup(const dx_params *p, const char *name) {
  for (size_t i = 0; p && name && i < p->n; i++)
    if (strcmp(p->e[i].name, name) == 0) return &p->e[i];
  return NULL;
}

/* A name the spec does not declare, or one of another type, is a bug in
 * the plugin; the accessors then return zero rather than crash the host. */
int64_t dx_params_int(const dx_params *p, const char *name) {
  const entry *e = lookup(p, name);
  return e && e->type == DX_PARAM_INT ? e->v.i : 0;
}

/* Integers read as floats too: a plugin may declare "steps" an int and
 * compute with it. */
double dx_params_float(const dx_params *p, const char *name) {
  const entry *e = lookup(p, name);
  return e && (e->type == DX_PARAM_FLOAT || e->type == DX_PARAM_INT) ? e->v.f : 0.0;
}

bool dx_params_bool(const dx_params *p, const char *name) {
  const entry *e = lookup(p, name);
  return e && e->type == DX_PARAM_BOOL ? e->v.b : false;
}

const char *dx_params_string(const dx_params *p, const char *name) {
  const entry *e = lookup(p, name);
  return e && (e->type == DX_PARAM_STRING || e->type == DX_PARAM_CHOICE) ? e->text : NULL;
}

size_t dx_params_count(const dx_params *p) { return p ? p->n : 0; }
const char *dx_params_name(const dx_params *p, size_t i) { return i < p->n ? p->e[i].name : NULL; }
dx_param_type dx_params_type(const dx_params *p, size_t i) { return i < p->n ? p->e[i].type : 0; }
const char *dx_params_text(const dx_params *p, size_t i) { return i < p->n ? p->e[i].text : NULL; }
