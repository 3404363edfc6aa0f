/* The entry point exists but returns no descriptor. */
#include <ddpmx/plugin.h>
DX_PLUGIN_EXPORT const dx_plugin_desc *dx_plugin_entry(void);
DX_PLUGIN_EXPORT const dx_plugin_desc *dx_plugin_entry(void) { return NULL; }
