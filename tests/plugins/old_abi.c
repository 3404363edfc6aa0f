/* Built for plugin ABI 1 (before dx_numel became inline) and calling nothing
 * that left: it loads, and the host refuses it with both versions named. */
#include "test_plugin.h"
TEST_PLUGIN(1u, DX_KIND_SCHEDULE, "old_abi", NULL, 0, &test_ops)
