/* Helpers shared by the files of core/plugin/ and nothing else. */
#ifndef DX_PLUGIN_INTERNAL_H
#define DX_PLUGIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/plugin.h"
#include "util/plugin_ref.h"
#include "util/value.h"

/* Checks ref's arguments against the spec (unknown, wrong type, out of
 * range, not a choice) and that every required parameter is given. ref may
 * be NULL. Messages start with the source position. */
dx_status dx_params_check(const dx_plugin_desc *d, const dx_plugin_ref *ref, char *err,
                          size_t errlen);

/* The *.so file names in dir, sorted; 0 if it cannot be read. Free with
 * dx_free_names. */
size_t dx_dir_plugins(const char *dir, char ***names);
void dx_free_names(char **names, size_t n);

#endif
