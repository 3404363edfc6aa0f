/* `ddpmx run --dry-run`: everything a run checks, nothing it does. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/run.h"

int dx_cli_dry_run(const dx_experiment *e, const dx_run_plugins *rp) {
  char *yaml = dx_experiment_to_yaml(e);
  if (!yaml) return dx_cli_fail(&dx_cli_run, DX_ERR_NOMEM, "out of memory");
  fputs(yaml, stdout);
  free(yaml);
  /* Comments, so that the output still loads as the same experiment. */
  printf("\n# plugins resolved:\n");
  for (int i = 0; i < rp->n; i++) {
    const dx_bound_plugin *b = &rp->items[i];
    char where[32] = "";
    if (b->level >= 0) snprintf(where, sizeof where, "[%d]", b->level);
    printf("#   %s%s: %s %s (%s) %s\n", b->role, where, b->plugin->desc->name,
           b->plugin->desc->version, dx_plugin_kind_name(b->plugin->desc->kind), b->plugin->path);
  }
  fprintf(stderr, "ddpmx run: dry run of '%s': experiment and %d plugins OK; nothing was run\n",
          e->name, rp->n);
  return DX_EXIT_OK;
}
