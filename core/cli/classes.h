/* The classes that `ddpmx sample` and `ddpmx eval --fid` draw from a
 * class-conditional run, and the guidance weight. */
#ifndef DX_CLI_CLASSES_H
#define DX_CLI_CLASSES_H

#include "cli/stored_run.h"

typedef struct dx_cli_classes {
  int64_t list[DX_EXP_MAX_CLASSES]; /* the classes asked for, in order */
  int64_t m;                        /* how many; 0: no class (--class none, or a run
                                       that is not conditional) */
  bool one;                         /* --class K: every image of list[0] */
  double w;                         /* the guidance weight */
} dx_cli_classes;

/* From the options' values (NULL when not given): --class K|none, --classes
 * all|K,K,..., else the run's sample.classes (every class when that is
 * empty); --guidance W, else the run's sample.guidance. A run that is not
 * class-conditional takes none of them (--guidance 0 aside). Returns
 * DX_EXIT_OK or an exit code after a one-line usage message. */
int dx_cli_plan_classes(const dx_cli_command *c, const dx_stored_run *r, const char *klass,
                        const char *classes, const char *guidance, dx_cli_classes *out);

#endif
