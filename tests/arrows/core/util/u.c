/* Fixture for scripts/check_includes.py --self-test: lines marked BAD must
 * be reported, no other line. */
#include "ddpmx/status.h"
#include "tensor/t.h" /* BAD: util is below every part */
