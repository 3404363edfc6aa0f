#include "backend/backend.h"
#include "tensor/t.h" /* BAD: a backend is below tensor */
