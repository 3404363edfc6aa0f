/* The plugin host: finding plugins on the search path, loading them with the
 * ABI and descriptor checks, and turning a plugin's YAML arguments into the
 * validated dx_params its functions receive.
 *
 * Private to ddpmx (the CLI, config, diffusion, model and their tests use
 * it); plugins see only core/include/ddpmx/. Every fallible function returns
 * a dx_status and leaves one line in err (errlen bytes at most). */
#ifndef DX_PLUGIN_LOADER_H
#define DX_PLUGIN_LOADER_H

#include <stddef.h>

#include "ddpmx/plugin.h"
#include "util/plugin_ref.h"

/* --- the search path --------------------------------------------------------- */

/* Folders searched in order: the build tree's plugin folder, the install's
 * (as configured, then <libdir>/ddpmx/plugins beside the loaded libddpmx if
 * that differs and exists), each entry of $DDPMX_PLUGIN_PATH
 * (colon-separated), then `extra` (the experiment's plugin_path). Folders
 * that do not exist are kept: they are skipped when searching but still
 * named in "not found" messages. A folder listed twice is kept once. */
typedef struct dx_plugin_path dx_plugin_path;

/* Returns NULL only when out of memory. */
DX_API dx_plugin_path *dx_plugin_path_create(const char *const *extra, size_t n_extra);
DX_API void dx_plugin_path_free(dx_plugin_path *sp);
DX_API size_t dx_plugin_path_count(const dx_plugin_path *sp);
DX_API const char *dx_plugin_path_dir(const dx_plugin_path *sp, size_t i);

/* A name containing '/' is a file path and is used as it is; otherwise the
 * first folder holding <name>.so wins. *path is malloc'ed (caller frees). */
DX_API dx_status dx_plugin_path_find(const dx_plugin_path *sp, const char *name, char **path,
                                     char *err, size_t errlen);

/* --- a loaded plugin ------------------------------------------------------------ */

typedef struct dx_plugin {
  const dx_plugin_desc *desc; /* checked: ABI, kind, name, ops, parameter spec */
  char *path;                 /* the file it came from */
  char sha256[65];            /* hex digest of the file, "" if it could not be read */
  void *handle;               /* from dlopen */
} dx_plugin;

/* Opens the shared object at `path` and checks it, in this order: it loads,
 * it exports dx_plugin_entry, the entry returns a descriptor, the ABI version
 * matches (read before any other field), the kind is known, name and ops are
 * set, the name matches the file name, and the parameter spec is valid. */
DX_API dx_status dx_plugin_open(const char *path, dx_plugin **out, char *err, size_t errlen);
DX_API void dx_plugin_close(dx_plugin *p);

/* Finds `name` on the path, opens it and checks that it is a `kind`; `role`
 * names the place that needs it ("diffusion.loss") for the message. */
DX_API dx_status dx_plugin_load(const dx_plugin_path *sp, const char *name, dx_plugin_kind kind,
                                const char *role, dx_plugin **out, char *err, size_t errlen);

/* dx_plugin_load for a plugin named in YAML, then dx_params_create with its
 * arguments. Every message starts with the FILE:LINE:COL of the culprit. */
DX_API dx_status dx_plugin_resolve(const dx_plugin_path *sp, const dx_plugin_ref *ref,
                                   dx_plugin_kind kind, const char *role, dx_plugin **plugin,
                                   dx_params **params, char *err, size_t errlen);

/* Checks a descriptor's parameter spec (names, types, ranges, defaults);
 * dx_plugin_open does this for every plugin. The message, without a file
 * prefix, names the offending parameter. */
DX_API bool dx_plugin_spec_check(const dx_plugin_desc *d, char *err, size_t errlen);

/* --- parameters ------------------------------------------------------------------- */

/* Checks each argument of `ref` against the descriptor's spec (unknown name,
 * wrong type, out of range, not one of the choices) and that every required
 * parameter is given; fills in defaults. ref may be NULL (defaults only). The
 * spec must have passed dx_plugin_spec_check. The result copies what it
 * needs, so it may outlive both ref and the plugin. */
DX_API dx_status dx_params_create(const dx_plugin_desc *desc, const dx_plugin_ref *ref,
                                  dx_params **out, char *err, size_t errlen);
DX_API void dx_params_free(dx_params *p);

/* The resolved values in spec order, for printing and for the run store. */
DX_API size_t dx_params_count(const dx_params *p);
DX_API const char *dx_params_name(const dx_params *p, size_t i);
DX_API dx_param_type dx_params_type(const dx_params *p, size_t i);
/* The value as text: integers in decimal, floats as the shortest text that
 * reads back the same (dx_float_text), bools as true/false, strings as
 * given. */
DX_API const char *dx_params_text(const dx_params *p, size_t i);

/* --- listing and documentation ------------------------------------------------------ */

typedef struct dx_plugin_found {
  char *path;
  dx_plugin *plugin; /* NULL if the file was refused */
  char *error;       /* why it was refused, or why it is shadowed; NULL if usable */
} dx_plugin_found;

typedef struct dx_plugin_list {
  dx_plugin_found *items; /* folders in search order; files sorted by name within one */
  size_t n;
} dx_plugin_list;

/* Opens every *.so on the path. A plugin whose name an earlier folder
 * already provides is listed with plugin set and error saying it is shadowed
 * (the first match wins when loading). */
DX_API dx_status dx_plugin_scan(const dx_plugin_path *sp, dx_plugin_list *out, char *err,
                                size_t errlen);
DX_API void dx_plugin_list_free(dx_plugin_list *list);

/* A man page for the plugin (NAME, KIND, VERSION, FILE, SUMMARY, FORMULA,
 * PARAMETERS). Malloc'ed; NULL when out of memory. */
DX_API char *dx_plugin_doc(const dx_plugin *p);

#endif
