/* A parameter name YAML users could not write as a plain key. */
#include "test_plugin.h"
static const dx_param_spec params[] = {
    {"ok", DX_PARAM_INT, "1", NULL, NULL, "fine"},
    {"Bad-Name", DX_PARAM_FLOAT, "1", NULL, NULL, "not fine"},
};
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, "spec_name", params, DX_COUNT(params),
            &test_ops)
