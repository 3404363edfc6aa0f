/* ddpmx SDK: the only headers a plugin needs. */
#ifndef DDPMX_H
#define DDPMX_H

#include "status.h"
#include "ctx.h"
#include "tensor.h"

#endif
