/* Training progress, one line per report, on stderr (stdout stays clean
 * for what a command produces). */
#include <inttypes.h>
#include <stdio.h>

#include "cli/run.h"

static void duration(double s, char *buf, size_t len) {
  int64_t t = s > 0 ? (int64_t)(s + 0.5) : 0;
  if (t >= 3600)
    snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", t / 3600, t / 60 % 60);
  else
    snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", t / 60, t % 60);
}

void dx_cli_progress(const dx_train_progress *p, void *user) {
  (void)user;
  if (p->event) {
    fprintf(stderr, "step %" PRId64 "/%" PRId64 ": %s\n", p->step, p->steps, p->event);
    return;
  }
  char eta[32];
  duration(p->eta_s, eta, sizeof eta);
  char ranks[64] = "";
  if (p->ranks > 1) /* the throughput of all ranks together */
    snprintf(ranks, sizeof ranks, "  %.1f img/s on %d ranks", p->images_per_s, p->ranks);
  fprintf(stderr, "step %" PRId64 "/%" PRId64 "  loss %.5g  lr %.3g  %.2f it/s%s  eta %s\n",
          p->step, p->steps, p->loss, p->lr, p->it_per_s, ranks, eta);
}
