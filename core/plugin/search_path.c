/* The plugin search path (DESIGN 4): build tree, install, $DDPMX_PLUGIN_PATH,
 * then the experiment's plugin_path, first match winning. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin/internal.h"
#include "plugin/loader.h"
#include "util/err.h"
#include "util/suggest.h"

struct dx_plugin_path {
  char **dirs;
  char **real; /* realpath of each folder, NULL if it does not exist */
  size_t n;
};

static bool seen(const dx_plugin_path *sp, const char *dir, const char *real) {
  for (size_t i = 0; i < sp->n; i++) {
    if (strcmp(sp->dirs[i], dir) == 0) return true;
    if (real && sp->real[i] && strcmp(sp->real[i], real) == 0) return true;
  }
  return false;
}

/* Adds dir[0..len) unless it is empty or names a folder already on the path
 * (listing one folder twice would show every plugin in it as shadowed). */
static bool push(dx_plugin_path *sp, const char *dir, size_t len) {
  while (len > 1 && dir[len - 1] == '/')
    len--;
  if (len == 0) return true;
  char *d = strndup(dir, len);
  if (!d) return false;
  char *real = realpath(d, NULL);
  if (seen(sp, d, real)) {
    free(d);
    free(real);
    return true;
  }
  char **dirs = realloc(sp->dirs, (sp->n + 1) * sizeof *dirs);
  if (dirs) sp->dirs = dirs;
  char **reals = dirs ? realloc(sp->real, (sp->n + 1) * sizeof *reals) : NULL;
  if (reals) sp->real = reals;
  if (!dirs || !reals) {
    free(d);
    free(real);
    return false;
  }
  sp->dirs[sp->n] = d;
  sp->real[sp->n++] = real;
  return true;
}

static bool push_list(dx_plugin_path *sp, const char *list) {
  while (list && *list) {
    const char *colon = strchr(list, ':');
    size_t len = colon ? (size_t)(colon - list) : strlen(list);
    if (!push(sp, list, len)) return false;
    list = colon ? colon + 1 : NULL;
  }
  return true;
}

/* The plugins installed beside this very library, <libdir>/ddpmx/plugins,
 * found from where it was loaded: an install that was moved, or made with
 * `cmake --install --prefix`, still finds its own plugins. Only added when
 * the folder exists (the build tree has none there). */
static bool push_beside_library(dx_plugin_path *sp) {
  Dl_info info;
  if (!dladdr((void *)dx_plugin_path_create, &info) || !info.dli_fname) return true;
  const char *lib = info.dli_fname, *slash = strrchr(lib, '/');
  char dir[PATH_MAX];
  if (!slash ||
      snprintf(dir, sizeof dir, "%.*s/ddpmx/plugins", (int)(slash - lib), lib) >= (int)sizeof dir)
    return true;
  /* The loader may have reached the library through "bin/../lib". */
  char *real = realpath(dir, NULL);
  struct stat st;
  bool ok = !real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode) || push(sp, real, strlen(real));
  free(real);
  return ok;
}

dx_plugin_path *dx_plugin_path_create(const char *const *extra, size_t n_extra) {
  dx_plugin_path *sp = calloc(1, sizeof *sp);
  if (!sp) return NULL;
  bool ok = true;
#ifdef DDPMX_BUILD_PLUGIN_DIR
  ok = ok && push(sp, DDPMX_BUILD_PLUGIN_DIR, strlen(DDPMX_BUILD_PLUGIN_DIR));
#endif
#ifdef DDPMX_INSTALL_PLUGIN_DIR
  ok = ok && push(sp, DDPMX_INSTALL_PLUGIN_DIR, strlen(DDPMX_INSTALL_PLUGIN_DIR));
#endif
  ok = ok && push_beside_library(sp);
  ok = ok && push_list(sp, getenv("DDPMX_PLUGIN_PATH"));
  for (size_t i = 0; ok && i < n_extra; i++)
    ok = extra[i] && push(sp, extra[i], strlen(extra[i]));
  if (!ok) {
    dx_plugin_path_free(sp);
    return NULL;
  }
  return sp;
}

void dx_plugin_path_free(dx_plugin_path *sp) {
  if (!sp) return;
  for (size_t i = 0; i < sp->n; i++) {
    free(sp->dirs[i]);
    free(sp->real[i]);
  }
  free(sp->dirs);
  free(sp->real);
  free(sp);
}

size_t dx_plugin_path_count(const dx_plugin_path *sp) { return sp->n; }
const char *dx_plugin_path_dir(const dx_plugin_path *sp, size_t i) {
  return i < sp->n ? sp->dirs[i] : NULL;
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with_so(const char *s) {
  size_t n = strlen(s);
  return n > 3 && strcmp(s + n - 3, ".so") == 0;
}

size_t dx_dir_plugins(const char *dir, char ***names) {
  *names = NULL;
  DIR *d = dir ? opendir(dir) : NULL;
  if (!d) return 0;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || !ends_with_so(e->d_name)) continue;
    char **grown = realloc(*names, (n + 1) * sizeof *grown);
    char *name = grown ? strdup(e->d_name) : NULL;
    if (grown) *names = grown;
    if (!name) break;
    (*names)[n++] = name;
  }
  closedir(d);
  if (n > 0) qsort(*names, n, sizeof **names, by_name);
  return n;
}

void dx_free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

/* A near miss among every plugin on the path, without its ".so". */
static void add_suggestion(const dx_plugin_path *sp, const char *name, char *err, size_t errlen) {
  for (size_t i = 0; i < sp->n; i++) {
    char **files;
    size_t n = dx_dir_plugins(sp->real[i], &files);
    for (size_t j = 0; j < n; j++)
      files[j][strlen(files[j]) - 3] = '\0';
    const char *hint = dx_suggest(name, (const char *const *)files, n);
    if (hint) dx_appendf(err, errlen, " (did you mean '%s'?)", hint);
    dx_free_names(files, n);
    if (hint) return;
  }
}

static dx_status not_found(const dx_plugin_path *sp, const char *name, char *err, size_t errlen) {
  snprintf(err, errlen, "plugin '%s' not found", name);
  add_suggestion(sp, name, err, errlen);
  dx_appendf(err, errlen, "; searched:");
  for (size_t i = 0; i < sp->n; i++)
    dx_appendf(err, errlen, "%s %s", i ? "," : "", sp->dirs[i]);
  dx_appendf(err, errlen, " (add a folder with DDPMX_PLUGIN_PATH or plugin_path)");
  return DX_ERR_PLUGIN;
}

static dx_status copy_path(const char *src, char **path, char *err, size_t errlen) {
  *path = strdup(src);
  if (*path) return DX_OK;
  return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
}

dx_status dx_plugin_path_find(const dx_plugin_path *sp, const char *name, char **path, char *err,
                              size_t errlen) {
  *path = NULL;
  if (!name || !*name) {
    return dx_errf(err, errlen, DX_ERR_PLUGIN, NULL, "empty plugin name");
  }
  if (strchr(name, '/')) {
    if (!is_file(name)) {
      return dx_errf(err, errlen, DX_ERR_PLUGIN, NULL, "plugin file %s does not exist", name);
    }
    return copy_path(name, path, err, errlen);
  }
  for (size_t i = 0; i < sp->n; i++) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s/%s.so", sp->dirs[i], name) >= (int)sizeof buf) continue;
    if (!is_file(buf)) continue;
    return copy_path(buf, path, err, errlen);
  }
  return not_found(sp, name, err, errlen);
}
