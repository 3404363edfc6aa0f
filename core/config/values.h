/* One YAML value to the typed value of its key, read by the parser that
 * reads plugin parameters too (util/value.h), with the message when it does
 * not fit, placed at the value. */
#ifndef DX_CONFIG_VALUES_H
#define DX_CONFIG_VALUES_H

#include "config/schema.h"
#include "config/ynode.h"

/* n into *at, which has the C type of k->spec.type (an enum for CHOICE, a
 * malloc'ed char * for STRING); then k->check, if set. `where` names the
 * value in messages: "train.lr", "model.dim_mults[1]". */
dx_status dx_cfg_value(const dx_key_spec *k, const char *where, const dx_ynode *n, void *at,
                       char *err, size_t errlen);

#endif
