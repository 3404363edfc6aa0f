/* A choice parameter with no words to choose from. */
#include "test_plugin.h"
static const dx_param_spec params[] = {{"mode", DX_PARAM_CHOICE, NULL, "", NULL, "?"}};
TEST_PLUGIN(DX_PLUGIN_ABI_VERSION, DX_KIND_SCHEDULE, "spec_choice", params, DX_COUNT(params),
            &test_ops)
