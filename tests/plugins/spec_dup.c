/* The same parameter declared twice. */
#include "test_plugin.h"
static const dx_param_spec params[] = {
    {"s", DX_PARAM_FLOAT, "0.1", NULL, NULL, "first"},
    {"s", DX_PARAM_FLOAT, "0.2", NULL, NULL, "second"},
};
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, "spec_dup", params, DX_COUNT(params),
            &test_ops)
