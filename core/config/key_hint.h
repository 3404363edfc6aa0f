/* The hint after an unknown experiment key (the schema knows the keys). */
#ifndef DX_CONFIG_KEY_HINT_H
#define DX_CONFIG_KEY_HINT_H

#include <stdbool.h>
#include <stddef.h>

/* The hint after "unknown key 'KEY'" for a key written in `section` ("" for
 * the top level): "; did you mean 'lr'?", or, when the key belongs to
 * another section, "; did you mean 'train.lr'?", or else the list of valid
 * keys. `full` names sibling keys by their full path too (for overrides). */
void dx_cfg_key_hint(const char *section, const char *key, bool full, char *buf, size_t len);

#endif
