/* A valid plugin of another kind, taking no parameters. */
#include <ddpmx/plugin.h>

/* The loss kind's table is not part of this test: any non-NULL table will
 * do for the loader, which never calls into it. */
static const struct { int unused; } ops = {0};
static const dx_plugin_desc desc = {DX_PLUGIN_ABI_VERSION,
                                    DX_KIND_LOSS,
                                    "good_loss",
                                    "0.1.0",
                                    "a loss for tests",
                                    NULL,
                                    NULL,
                                    0,
                                    &ops};
DX_PLUGIN_DEFINE(desc)
