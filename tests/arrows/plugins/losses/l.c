#include <ddpmx/api.h>
#include <math.h>

#include "../../core/tensor/t.h" /* BAD: plugins see only the SDK */
#include "tensor/internal.h"     /* BAD */
