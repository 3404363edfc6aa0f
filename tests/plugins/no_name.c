/* A descriptor without a name: nothing an experiment could ask for. */
#include "test_plugin.h"
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, NULL, NULL, 0, &test_ops)
