/* A shared object that is not a ddpmx plugin: no dx_plugin_entry. */
#include <ddpmx/plugin.h>
DX_PLUGIN_EXPORT int something_else(void);
DX_PLUGIN_EXPORT int something_else(void) { return 42; }
