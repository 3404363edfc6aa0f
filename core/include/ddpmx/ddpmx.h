/* ddpmx SDK: the only headers a plugin needs. */
#ifndef DDPMX_H
#define DDPMX_H

#include "ctx.h"
#include "status.h"
#include "tensor.h"

#endif
