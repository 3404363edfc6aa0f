/* --sampler NAME[:KEY=VALUE,...] of sample, eval and the image-to-image
 * commands: another sampler than the run's, with parameters as its YAML
 * block would give them, checked against its spec the same way. */
#include <stdlib.h>
#include <string.h>

#include "cli/stored_run.h"
#include "util/err.h"

#define MAX_ARGS 16

/* Splits spec (modified in place) into the name and its KEY=VALUE list. */
static dx_status parse(char *spec, dx_plugin_ref *ref, dx_plugin_arg *args, char *err,
                       size_t errlen) {
  static const dx_srcpos at = {"--sampler", 0, 0};
  char *list = strchr(spec, ':');
  *ref = (dx_plugin_ref){spec, at, args, 0};
  if (!list) return DX_OK;
  *list++ = '\0';
  char *save = NULL;
  for (char *kv = strtok_r(list, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq || eq == kv || !eq[1])
      return dx_errf(err, errlen, DX_ERR_CONFIG, &at,
                     "'%s' is not KEY=VALUE; write NAME:KEY=VALUE,KEY=VALUE (e.g. ddim:eta=1)", kv);
    if (ref->n_args == MAX_ARGS)
      return dx_errf(err, errlen, DX_ERR_CONFIG, &at, "more than %d parameters", MAX_ARGS);
    *eq = '\0';
    args[ref->n_args++] = (dx_plugin_arg){kv, eq + 1, DX_SCALAR_PLAIN, at, at};
  }
  return DX_OK;
}

int dx_cli_load_sampler(const dx_cli_command *c, const dx_stored_run *r, const char *spec,
                        dx_plugin **p, dx_params **pp) {
  char err[DX_ERRMSG_MAX];
  char *text = strdup(spec);
  dx_plugin_arg args[MAX_ARGS];
  dx_plugin_ref ref;
  dx_status st = text ? parse(text, &ref, args, err, sizeof err)
                      : dx_errf(err, sizeof err, DX_ERR_NOMEM, NULL, "out of memory");
  if (st == DX_OK)
    st = dx_plugin_load(r->plugins.path, ref.plugin, DX_KIND_SAMPLER, "--sampler", p, err,
                        sizeof err);
  if (st == DX_OK && (st = dx_params_create((*p)->desc, &ref, pp, err, sizeof err)) != DX_OK)
    dx_plugin_close(*p), *p = NULL;
  free(text);
  return st == DX_OK ? DX_EXIT_OK : dx_cli_fail(c, st, "%s", err);
}
