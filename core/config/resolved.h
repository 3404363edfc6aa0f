/* The loaded experiment as a tree again, for the writers: every key of the
 * schema but `extends` (already merged in), with the value it ended up with. */
#ifndef DX_CONFIG_RESOLVED_H
#define DX_CONFIG_RESOLVED_H

#include "config/experiment.h"
#include "config/ynode.h"

/* NULL when out of memory. Strings are quoted scalars, numbers and booleans
 * plain ones, plugin arguments keep the style they were written in. */
dx_ynode *dx_cfg_resolved(const dx_experiment *e);

#endif
