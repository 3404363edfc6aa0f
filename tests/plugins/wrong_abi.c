/* Built for a future ABI: the host must refuse it before reading further. */
#include "test_plugin.h"
TEST_PLUGIN(99u, DX_KIND_SCHEDULE, "wrong_abi", NULL, 0, &test_ops)
