/* Loading one plugin: dlopen, the entry point, the ABI version, then the
 * descriptor, each refusal with a reason a user can act on. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/internal.h"
#include "plugin/loader.h"
#include "util/err.h"
#include "util/sha256.h"

/* dlerror() repeats the path; keep only its reason, and tell a file that is
 * no shared object at all apart from one that is but cannot be loaded (a
 * missing library, an undefined symbol). A plugin that calls a dx_ function
 * this libddpmx no longer exports was built against an older SDK: dlopen
 * fails before its ABI version can be read, so the advice is given here. */
static dx_status dlopen_failed(const char *path, char *err, size_t errlen) {
  const char *why = dlerror();
  if (!why) why = "unknown reason";
  size_t n = strlen(path);
  if (strncmp(why, path, n) == 0 && strncmp(why + n, ": ", 2) == 0) why += n + 2;
  bool not_elf = strstr(why, "invalid ELF header") || strstr(why, "file too short");
  if (strstr(why, "undefined symbol: dx_"))
    return dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path),
                   "cannot be loaded (%s): it was built against another ddpmx SDK; rebuild the "
                   "plugin against this ddpmx (plugin ABI version %u)",
                   why, (unsigned)DX_PLUGIN_ABI_VERSION);
  return dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path), "%s (%s)",
                 not_elf ? "not a shared object" : "cannot be loaded", why);
}

static bool valid_plugin_name(const char *s) {
  if (!s || *s < 'a' || *s > 'z') return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
  return true;
}

/* The file's name without folder and ".so": what experiments write. */
static bool file_is_named(const char *path, const char *name) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(name);
  return strncmp(base, name, n) == 0 && (base[n] == '\0' || strcmp(base + n, ".so") == 0);
}

static dx_status check_desc(const char *path, const dx_plugin_desc *d, char *err, size_t errlen) {
  /* The ABI version is the one field whose place every ABI agrees on. */
  if (d->abi_version != DX_PLUGIN_ABI_VERSION)
    return dx_errf(
        err, errlen, DX_ERR_PLUGIN, DX_AT(path),
        "built for plugin ABI version %u, but this ddpmx uses version %u; rebuild the plugin "
        "against this ddpmx",
        (unsigned)d->abi_version, (unsigned)DX_PLUGIN_ABI_VERSION);
  if (!d->name)
    return dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path), "the descriptor has no name");
  if (!valid_plugin_name(d->name))
    return dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path),
                   "invalid plugin name '%s' (use [a-z][a-z0-9_]*)", d->name);
  if (!dx_plugin_kind_name(d->kind))
    return dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path), "plugin '%s' has an unknown kind %d",
                   d->name, (int)d->kind);
  if (!d->ops)
    return dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path), "plugin '%s' has no ops table",
                   d->name);
  if (!file_is_named(path, d->name))
    return dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path),
                   "the plugin is named '%s', so its file must be %s.so", d->name, d->name);
  char why[DX_ERRMSG_MAX];
  if (!dx_plugin_spec_check(d, why, sizeof why))
    return dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path), "plugin '%s': %s", d->name, why);
  return DX_OK;
}

static dx_status wrap(const char *path, void *handle, const dx_plugin_desc *d, dx_plugin **out,
                      char *err, size_t errlen) {
  dx_plugin *p = calloc(1, sizeof *p);
  char *copy = p ? strdup(path) : NULL;
  if (!copy) {
    free(p);
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  }
  *p = (dx_plugin){.desc = d, .path = copy, .handle = handle};
  /* The checksum ties a result to the exact binary; a file that loaded but
   * cannot be read again (removed meanwhile) keeps "" rather than fail. */
  char why[256];
  if (dx_sha256_file(copy, p->sha256, why, sizeof why) != DX_OK) p->sha256[0] = '\0';
  *out = p;
  return DX_OK;
}

dx_status dx_plugin_open(const char *path, dx_plugin **out, char *err, size_t errlen) {
  *out = NULL;
  /* Without a '/', dlopen would search the system's library folders. */
  char local[4096];
  if (!strchr(path, '/') && snprintf(local, sizeof local, "./%s", path) < (int)sizeof local)
    path = local;
  dlerror();
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return dlopen_failed(path, err, errlen);
  dx_plugin_entry_fn entry = (dx_plugin_entry_fn)dlsym(h, DX_PLUGIN_ENTRY_SYMBOL);
  const dx_plugin_desc *d = entry ? entry() : NULL;
  dx_status st;
  if (!entry)
    st = dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path), "not a ddpmx plugin (no %s symbol)",
                 DX_PLUGIN_ENTRY_SYMBOL);
  else if (!d)
    st = dx_errf(err, errlen, DX_ERR_PLUGIN, DX_AT(path), "%s returned NULL",
                 DX_PLUGIN_ENTRY_SYMBOL);
  else
    st = check_desc(path, d, err, errlen);
  if (st == DX_OK) st = wrap(path, h, d, out, err, errlen);
  if (st != DX_OK) dlclose(h);
  return st;
}

void dx_plugin_close(dx_plugin *p) {
  if (!p) return;
  if (p->handle) dlclose(p->handle);
  free(p->path);
  free(p);
}

dx_status dx_plugin_load(const dx_plugin_path *sp, const char *name, dx_plugin_kind kind,
                         const char *role, dx_plugin **out, char *err, size_t errlen) {
  char *path;
  *out = NULL;
  dx_status st = dx_plugin_path_find(sp, name, &path, err, errlen);
  if (st != DX_OK) return st;
  dx_plugin *p;
  st = dx_plugin_open(path, &p, err, errlen);
  free(path);
  if (st != DX_OK) return st;
  if (kind && p->desc->kind != kind) {
    dx_errf(err, errlen, DX_ERR_PLUGIN, NULL, "plugin '%s' is a %s, but %s needs a %s",
            p->desc->name, dx_plugin_kind_name(p->desc->kind), role ? role : "this place",
            dx_plugin_kind_name(kind) ? dx_plugin_kind_name(kind) : "plugin of an unknown kind");
    dx_plugin_close(p);
    return DX_ERR_PLUGIN;
  }
  *out = p;
  return DX_OK;
}

dx_status dx_plugin_resolve(const dx_plugin_path *sp, const dx_plugin_ref *ref, dx_plugin_kind kind,
                            const char *role, dx_plugin **plugin, dx_params **params, char *err,
                            size_t errlen) {
  char why[DX_ERRMSG_MAX];
  *plugin = NULL;
  *params = NULL;
  dx_status st = dx_plugin_load(sp, ref->plugin, kind, role, plugin, why, sizeof why);
  if (st != DX_OK) {
    return dx_errf(err, errlen, st, &ref->pos, "%s", why);
  }
  st = dx_params_create((*plugin)->desc, ref, params, err, errlen);
  if (st != DX_OK) {
    dx_plugin_close(*plugin);
    *plugin = NULL;
  }
  return st;
}
