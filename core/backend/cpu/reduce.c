/* CPU kernels: reduce (to be written; slots left NULL report DX_ERR_UNSUPPORTED). */
#include "backend/cpu/cpu.h"

void dx_cpu_init_reduce(dx_backend *be) { (void)be; }
