/* The descriptor's name differs from the file's, so `plugin: misnamed` in
 * an experiment would silently load a plugin called something else. */
#include "test_plugin.h"
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, "other_name", NULL, 0, &test_ops)
