/* A range missing its closing bracket. */
#include "test_plugin.h"
static const dx_param_spec params[] = {{"s", DX_PARAM_FLOAT, "0.5", "[0, 1", NULL, "?"}};
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, "spec_range", params, DX_COUNT(params),
            &test_ops)
