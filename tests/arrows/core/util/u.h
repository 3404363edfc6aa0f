#include "ddpmx/status.h"
