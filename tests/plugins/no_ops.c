/* A descriptor without its function table. */
#include "test_plugin.h"
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_LOSS, "no_ops", NULL, 0, NULL)
