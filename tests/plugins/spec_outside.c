/* A default outside its own range. */
#include "test_plugin.h"
static const dx_param_spec params[] = {{"steps", DX_PARAM_INT, "0", "[1, 100]", NULL, "?"}};
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, "spec_outside", params, DX_COUNT(params),
            &test_ops)
