/* A default that is not a number. */
#include "test_plugin.h"
static const dx_param_spec params[] = {{"s", DX_PARAM_FLOAT, "0.1x", NULL, NULL, "?"}};
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, "spec_default", params, DX_COUNT(params),
            &test_ops)
