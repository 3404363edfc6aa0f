/* An experiment file and the files it extends, as one tree. */
#ifndef DX_CONFIG_LOAD_H
#define DX_CONFIG_LOAD_H

#include "config/experiment.h"
#include "config/ynode.h"

/* Reads `path`; if it has `extends: OTHER`, reads OTHER (relative to path's
 * folder) the same way and deep-merges path's tree over it (dx_ynode_merge).
 * A file reached twice in one chain is a cycle. Every file read is added to
 * e->sources. The tree keeps the first file's `extends` key. */
dx_status dx_cfg_load_file(dx_experiment *e, const char *path, dx_ynode **out, char *err,
                           size_t errlen);

#endif
