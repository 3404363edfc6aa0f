#include <stdio.h>

#include "ddpmx/tensor.h"

void quiet(char *buf) { snprintf(buf, 8, "fine"); }
void loud(void) { fprintf(stderr, "no\n"); } /* BAD: only cli prints */
