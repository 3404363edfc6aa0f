/* One command-line override applied to the merged tree, before the tree is
 * checked: so an override's value is typed by the same schema as the file's
 * and its errors are placed at `<command line>:N`. */
#ifndef DX_CONFIG_OVERRIDE_H
#define DX_CONFIG_OVERRIDE_H

#include "config/ynode.h"

/* text is "key.path=value", index its 1-based place among the overrides.
 * The key must be in the schema or name one parameter of a plugin
 * (diffusion.schedule.s); missing mappings on the way are made. Setting
 * `...plugin` to another plugin drops the old plugin's parameters. */
dx_status dx_cfg_override(dx_ynode *root, const char *text, int index, char *err, size_t errlen);

#endif
