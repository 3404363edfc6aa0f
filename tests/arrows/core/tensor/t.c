#include <stdio.h>

#include "backend/backend.h"
#include "config/c.h" /* BAD: an upward arrow */
#include "internal.h"
#include "util/u.h"
