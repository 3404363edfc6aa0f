#include "status.h"
#include "util/u.h" /* BAD: the SDK sees only itself */
