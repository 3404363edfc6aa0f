#include "data/d.h"
#include "plugin/p.h" /* BAD: config and plugin sit side by side */
