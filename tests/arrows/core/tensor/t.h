#include "ddpmx/tensor.h"
