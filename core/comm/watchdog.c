/* The watchdog: a thread that notices a collective which cannot complete
 * (comm.h). A dead peer on an MPI transport often makes no error at all (the
 * shared-memory one spins forever), so the only reliable signs are outside
 * MPI: the process of a rank on this host is gone, the launcher sent a
 * signal, or too much time has passed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm_impl.h"

/* Whether process pid on this host has ended: gone, or a zombie that its
 * parent (the launcher's daemon) has not reaped yet. */
static bool ended(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *close = strrchr(buf, ')'); /* the state follows the command's name */
  return close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
}

/* The first rank on this host whose process ended, or -1. */
static int dead_peer(const dx_comm *c) {
  const char *me = c->peers[c->rank].host;
  for (int r = 0; r < c->size; r++)
    if (r != c->rank && !strcmp(c->peers[r].host, me) && ended((pid_t)c->peers[r].pid)) return r;
  return -1;
}

static void watch_label(dx_comm *c, char *label, size_t len) {
  pthread_mutex_lock(&c->label_lock);
  snprintf(label, len, "%s", c->label[0] ? c->label : "a collective");
  pthread_mutex_unlock(&c->label_lock);
}

static void *watch(void *arg) {
  dx_comm *c = arg;
  struct timespec tick = {0, 500 * 1000 * 1000};
  char label[sizeof c->label], line[512];
  while (!atomic_load(&c->closing)) {
    nanosleep(&tick, NULL);
    double since = atomic_load(&c->busy_since);
    if (since == 0) continue;
    double waited = dx_comm_now() - since;
    int r = dead_peer(c);
    watch_label(c, label, sizeof label);
    if (r >= 0) {
      snprintf(line, sizeof line, "rank %d (host %s, pid %lld) died while the ranks waited in %s",
               r, c->peers[r].host, (long long)c->peers[r].pid, label);
      c->watch.on_stuck(c->watch.user, DX_COMM_PEER_DIED, line);
    } else if (c->watch.timeout_s > 0 && waited > c->watch.timeout_s) {
      snprintf(line, sizeof line,
               "%s did not complete within %.0f s: a rank on another host died or hangs", label,
               waited);
      c->watch.on_stuck(c->watch.user, DX_COMM_TIMEOUT, line);
    } else if (c->watch.stop && *c->watch.stop && waited > c->watch.grace_s) {
      snprintf(
          line, sizeof line,
          "a signal arrived while the ranks waited in %s, which has not completed %.0f s later "
          "(the launcher stops every rank when one dies)",
          label, waited);
      c->watch.on_stuck(c->watch.user, DX_COMM_SIGNALLED, line);
    }
  }
  return NULL;
}

dx_status dx_comm_watch(dx_comm *c, const dx_comm_watch_opts *o) {
  if (c->size < 2 || c->watching) return DX_OK;
  c->watch = *o;
  if (pthread_create(&c->watchdog, NULL, watch, c) != 0)
    return snprintf(c->err, sizeof c->err, "cannot start the watchdog thread"), DX_ERR_INTERNAL;
  c->watching = true;
  return DX_OK;
}
