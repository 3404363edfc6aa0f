/* What `ddpmx run` records about a run before it starts: the resolved
 * experiment flattened to key/value rows, the command line, the plugins. */
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"

static dx_status collect(void *user, const char *key, const char *value) {
  dx_cli_params *p = user;
  char **keys = realloc(p->keys, (p->n + 1) * sizeof *keys);
  if (keys) p->keys = keys;
  char **values = keys ? realloc(p->values, (p->n + 1) * sizeof *values) : NULL;
  if (values) p->values = values;
  if (!keys || !values) return DX_ERR_NOMEM;
  p->keys[p->n] = strdup(key);
  p->values[p->n] = strdup(value ? value : "null");
  p->n++;
  return p->keys[p->n - 1] && p->values[p->n - 1] ? DX_OK : DX_ERR_NOMEM;
}

dx_status dx_cli_params_collect(const dx_experiment *e, dx_cli_params *out) {
  *out = (dx_cli_params){0};
  return dx_experiment_flatten(e, collect, out);
}

void dx_cli_params_free(dx_cli_params *p) {
  for (size_t i = 0; i < p->n; i++) {
    free(p->keys[i]);
    free(p->values[i]);
  }
  free(p->keys);
  free(p->values);
  *p = (dx_cli_params){0};
}

/* Safe to paste back into a shell as it is. */
static bool plain_word(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-@%", *s))
      return false;
  return true;
}

char *dx_cli_command_line(int argc, char **argv) {
  size_t len = strlen("ddpmx") + 1;
  for (int i = 0; i < argc; i++)
    len += 4 * strlen(argv[i]) + 3;
  char *s = malloc(len), *w = s;
  if (!s) return NULL;
  w += sprintf(w, "ddpmx");
  for (int i = 0; i < argc; i++) {
    *w++ = ' ';
    if (plain_word(argv[i])) {
      w += sprintf(w, "%s", argv[i]);
      continue;
    }
    *w++ = '\'';
    for (const char *c = argv[i]; *c; c++)
      w += *c == '\'' ? sprintf(w, "'\\''") : sprintf(w, "%c", *c);
    *w++ = '\'';
  }
  *w = '\0';
  return s;
}

dx_status dx_cli_record_plugins(dx_store *st, int64_t run_id, const dx_run_plugins *rp) {
  for (int i = 0; i < rp->n; i++) {
    const dx_plugin *p = rp->items[i].plugin;
    dx_store_plugin sp = {dx_plugin_kind_name(p->desc->kind), p->desc->name, p->desc->version,
                          p->path, p->sha256[0] ? p->sha256 : NULL};
    dx_status s = dx_store_add_plugin(st, run_id, &sp);
    if (s != DX_OK) return s;
  }
  return DX_OK;
}
