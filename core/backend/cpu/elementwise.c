/* CPU kernels: elementwise (to be written; slots left NULL report DX_ERR_UNSUPPORTED). */
#include "backend/cpu/cpu.h"

void dx_cpu_init_elementwise(dx_backend *be) { (void)be; }
