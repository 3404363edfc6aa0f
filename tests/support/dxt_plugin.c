#include "dxt_plugin.h"

#include "dx_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dxt_plugin dxt_plugin_load(const char *name, dx_plugin_kind kind, const char *const *kv, int n) {
  const char *dir = getenv("DDPMX_PLUGIN_DIR");
  ck_assert_msg(dir != NULL, "DDPMX_PLUGIN_DIR is not set (run the tests with ctest)");
  char path[1024], err[512] = "";
  snprintf(path, sizeof path, "%s/%s.so", dir, name);
  dxt_plugin p = {0};
  ck_assert_msg(dx_plugin_open(path, &p.plugin, err, sizeof err) == DX_OK, "%s", err);
  ck_assert_msg(p.plugin->desc->kind == kind, "%s is not a %s", name, dx_plugin_kind_name(kind));
  dx_plugin_arg args[16];
  ck_assert_int_le(n, 16);
  for (int i = 0; i < n; i++) {
    const char *eq = strchr(kv[i], '=');
    ck_assert_msg(eq != NULL, "argument '%s' is not key=value", kv[i]);
    args[i] = (dx_plugin_arg){.key = strndup(kv[i], (size_t)(eq - kv[i])),
                              .value = strdup(eq + 1),
                              .style = DX_SCALAR_PLAIN,
                              .key_pos = {"<test>", 0, i + 1},
                              .value_pos = {"<test>", 0, i + 1}};
  }
  dx_plugin_ref ref = {.plugin = (char *)name, .pos = {"<test>", 0, 0}, .args = args, .n_args = n};
  dx_status st = dx_params_create(p.plugin->desc, &ref, &p.params, err, sizeof err);
  for (int i = 0; i < n; i++)
    free(args[i].key), free(args[i].value);
  ck_assert_msg(st == DX_OK, "%s: %s", name, err);
  p.ops = p.plugin->desc->ops;
  return p;
}

void dxt_plugin_free(dxt_plugin *p) {
  dx_params_free(p->params);
  dx_plugin_close(p->plugin);
  *p = (dxt_plugin){0};
}

void dxt_plugin_check_docs(const char *name, dx_plugin_kind kind) {
  dxt_plugin p = dxt_plugin_load(name, kind, NULL, 0);
  const dx_plugin_desc *d = p.plugin->desc;
  ck_assert_str_eq(d->name, name);
  ck_assert_msg(d->formula && strlen(d->formula) > 10 && !strchr(d->formula, '\n'),
                "%s: the formula should be one line", name);
  for (size_t i = 0; i < d->n_params; i++)
    ck_assert_msg(d->params[i].help && *d->params[i].help, "%s: parameter %s has no help", name,
                  d->params[i].name);
  dxt_plugin_free(&p);
}

void dxt_sampler_open(dx_ctx *ctx, dxt_sampler *o, const char *name, const char *const *kv, int n) {
  o->p = dxt_plugin_load(name, DX_KIND_SAMPLER, kv, n);
  ck_assert_int_eq(dx_sampler_init(ctx, &o->s, o->p.plugin->desc, o->p.params), DX_OK);
}

void dxt_sampler_close(dxt_sampler *o) {
  dx_sampler_release(&o->s);
  dxt_plugin_free(&o->p);
}

dx_tensor *dxt_shrink_model(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t) {
  dxt_counter *c = user;
  double *tv = dxt_values(ctx, t);
  if (c->calls++ == 0) c->first_t = tv[0];
  c->last_t = tv[0];
  free(tv);
  return dx_scale(ctx, x_t, 0.3);
}
