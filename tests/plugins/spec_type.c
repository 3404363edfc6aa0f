/* A parameter type that does not exist. */
#include "test_plugin.h"
static const dx_param_spec params[] = {{"s", (dx_param_type)42, "1", NULL, NULL, "?"}};
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, "spec_type", params, DX_COUNT(params),
            &test_ops)
