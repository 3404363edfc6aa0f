#include <stdio.h>

void cli_prints(void) { printf("the CLI may print\n"); }
