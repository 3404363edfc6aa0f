/* YAML `{plugin: NAME, ...params}` to a dx_plugin_ref (util/plugin_ref.h),
 * which the plugin loader checks against the plugin's own spec later. */
#ifndef DX_CONFIG_PLUGINREF_H
#define DX_CONFIG_PLUGINREF_H

#include "config/ynode.h"

/* `where` names the key in messages; `example` shows the expected form. On
 * failure *out is left empty. */
dx_status dx_cfg_plugin_ref(const char *where, const char *example, const dx_ynode *n,
                            dx_plugin_ref *out, char *err, size_t errlen);
dx_status dx_plugin_ref_copy(const dx_plugin_ref *src, dx_plugin_ref *dst);
/* Frees what ref holds and empties it. */
void dx_plugin_ref_clear(dx_plugin_ref *ref);

#endif
