/* Rules the schema's types cannot say: the name's characters, the device's
 * form, and rules that tie one key to another. */
#ifndef DX_CONFIG_RULES_H
#define DX_CONFIG_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "config/experiment.h"
#include "config/ynode.h"

/* dx_key_check functions for `name` and `device`. */
bool dx_check_name(const char *value, char *why, size_t whylen);
bool dx_check_device(const char *value, char *why, size_t whylen);

/* Runs after every key has its value: data.path's default or its absence,
 * and the parsed device. root is the checked tree, for positions. */
dx_status dx_cfg_rules(dx_experiment *e, const dx_ynode *root, char *err, size_t errlen);

#endif
