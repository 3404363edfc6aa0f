/* Every plugin on the search path, good or refused, for `ddpmx plugins`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/internal.h"
#include "plugin/loader.h"
#include "util/err.h"

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Loading takes the first file of a name on the path, broken or not, so a
 * later file of the same name is never used: say which one hides it. */
static const char *shadowed_by(const dx_plugin_list *l, const char *path) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(base_name(l->items[i].path), base_name(path)) == 0) return l->items[i].path;
  return NULL;
}

static bool add(dx_plugin_list *l, const char *dir, const char *file) {
  dx_plugin_found *grown = realloc(l->items, (l->n + 1) * sizeof *grown);
  if (!grown) return false;
  l->items = grown;
  dx_plugin_found *f = &l->items[l->n];
  *f = (dx_plugin_found){0};
  size_t len = strlen(dir) + strlen(file) + 2;
  f->path = malloc(len);
  if (!f->path) return false;
  snprintf(f->path, len, "%s/%s", dir, file);
  char why[DX_ERRMSG_MAX];
  const char *first = shadowed_by(l, f->path);
  bool refused = dx_plugin_open(f->path, &f->plugin, why, sizeof why) != DX_OK;
  if (!refused && first) snprintf(why, sizeof why, "shadowed by %s", first);
  if (refused || first) f->error = strdup(why);
  l->n++;
  return true;
}

dx_status dx_plugin_scan(const dx_plugin_path *sp, dx_plugin_list *out, char *err, size_t errlen) {
  *out = (dx_plugin_list){0};
  bool ok = true;
  for (size_t i = 0; ok && i < dx_plugin_path_count(sp); i++) {
    const char *dir = dx_plugin_path_dir(sp, i);
    char **files;
    size_t n = dx_dir_plugins(dir, &files);
    for (size_t j = 0; ok && j < n; j++)
      ok = add(out, dir, files[j]);
    dx_free_names(files, n);
  }
  if (ok) return DX_OK;
  dx_plugin_list_free(out);
  return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory listing plugins");
}

void dx_plugin_list_free(dx_plugin_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    dx_plugin_close(l->items[i].plugin);
    free(l->items[i].path);
    free(l->items[i].error);
  }
  free(l->items);
  *l = (dx_plugin_list){0};
}
