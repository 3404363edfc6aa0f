#include "util/u.h" /* BAD: a part the arrows do not name */
