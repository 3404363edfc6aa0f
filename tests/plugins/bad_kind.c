/* A kind this host does not know. */
#include "test_plugin.h"
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, (dx_plugin_kind)9, "bad_kind", NULL, 0, &test_ops)
