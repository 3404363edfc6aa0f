/* Which classes a command draws from a class-conditional run, and with
 * which guidance weight (cli/classes.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/classes.h"

/* "all" or "K,K,..." into list (room for DX_EXP_MAX_CLASSES); -1 when malformed. */
static int64_t class_list(const char *text, int64_t classes, int64_t *list) {
  if (strcmp(text, "all") == 0) {
    int64_t m = classes < DX_EXP_MAX_CLASSES ? classes : DX_EXP_MAX_CLASSES;
    for (int64_t k = 0; k < m; k++)
      list[k] = k;
    return m;
  }
  int64_t m = 0;
  for (const char *p = text; *p && m < DX_EXP_MAX_CLASSES; m++) {
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno || v < 0 || (*end && *end != ',')) return -1;
    list[m] = v;
    p = *end ? end + 1 : end;
  }
  return m;
}

int dx_cli_plan_classes(const dx_cli_command *c, const dx_stored_run *r, const char *klass,
                        const char *classes, const char *guidance, dx_cli_classes *out) {
  const dx_experiment *e = r->e;
  int64_t k = e->model.classes;
  out->m = 0, out->one = false, out->w = e->sample.guidance;
  char *end = NULL;
  if (guidance) out->w = strtod(guidance, &end);
  if (guidance && (end == guidance || *end || !isfinite(out->w)))
    return dx_cli_usage(c, "--guidance: '%s' is not a number", guidance);
  if (klass && classes) return dx_cli_usage(c, "--class and --classes: give one of them");
  if (k == 0) {
    if (klass || classes || (guidance && out->w != 0))
      return dx_cli_usage(c, "run %" PRId64 " is not class-conditional (model.classes is 0)",
                          r->id);
    return DX_EXIT_OK;
  }
  if (klass && strcmp(klass, "none") == 0) return DX_EXIT_OK;
  if (klass) {
    if ((out->m = class_list(klass, k, out->list)) != 1)
      return dx_cli_usage(c, "--class: '%s' is not a class (0 to %" PRId64 ", or none)", klass,
                          k - 1);
    out->one = true;
  } else if (classes) {
    if ((out->m = class_list(classes, k, out->list)) < 1)
      return dx_cli_usage(c, "--classes: '%s' is not all or a list like 0,3,5", classes);
  } else {
    out->m = e->sample.n_classes ? e->sample.n_classes
                                 : (k < DX_EXP_MAX_CLASSES ? k : DX_EXP_MAX_CLASSES);
    for (int64_t i = 0; i < out->m; i++)
      out->list[i] = e->sample.n_classes ? e->sample.classes[i] : i;
  }
  for (int64_t i = 0; i < out->m; i++)
    if (out->list[i] >= k)
      return dx_cli_usage(c, "class %" PRId64 ": run %" PRId64 " knows 0 to %" PRId64, out->list[i],
                          r->id, k - 1);
  return DX_EXIT_OK;
}
