/* The merged tree (files, defaults, overrides) checked against the schema
 * and turned into a dx_experiment. */
#ifndef DX_CONFIG_VALIDATE_H
#define DX_CONFIG_VALIDATE_H

#include "config/experiment.h"
#include "config/ynode.h"

/* Every key is one the schema knows, and every section is a mapping. */
dx_status dx_cfg_check_keys(const dx_ynode *root, char *err, size_t errlen);
/* Every value has its key's type and range; fills e in schema order, then
 * applies the rules of rules.h. Stops at the first error. */
dx_status dx_cfg_fill(const dx_ynode *root, dx_experiment *e, char *err, size_t errlen);

#endif
