/* One YAML value to one typed value of the schema, with the message when it
 * does not fit. `where` names the key in messages ("train.lr",
 * "model.dim_mults[1]"); the message is placed at the value. */
#ifndef DX_CONFIG_VALUES_H
#define DX_CONFIG_VALUES_H

#include <stdbool.h>
#include <stdint.h>

#include "config/schema.h"
#include "config/ynode.h"

dx_status dx_cfg_int(const dx_key_spec *k, const char *where, const dx_ynode *n, int64_t *out,
                     char *err, size_t errlen);
dx_status dx_cfg_float(const dx_key_spec *k, const char *where, const dx_ynode *n, double *out,
                       char *err, size_t errlen);
dx_status dx_cfg_bool(const char *where, const dx_ynode *n, bool *out, char *err, size_t errlen);
dx_status dx_cfg_choice(const dx_key_spec *k, const char *where, const dx_ynode *n, int *out,
                        char *err, size_t errlen);
/* Any scalar but null; then k->check if set. *out is malloc'ed. */
dx_status dx_cfg_string(const dx_key_spec *k, const char *where, const dx_ynode *n, char **out,
                        char *err, size_t errlen);

#endif
