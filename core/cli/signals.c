/* Ctrl-C and SIGTERM ask a run to stop: the handler only records the
 * signal, and the training loop looks at the flag between steps, so the run
 * ends KILLED with its metrics flushed and a checkpoint written. */
#include <signal.h>
#include <string.h>

#include "cli/cli.h"

/* A handler can reach nothing but a global; this one flag is the CLI's only
 * global state, and the library sees it only as a pointer. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

/* Under an MPI launcher. Open MPI's mpirun, sent SIGINT or SIGTERM, gives
 * each rank SIGCONT, then SIGTERM and SIGKILL a second apart (its
 * odls_base_sigkill_timeout): the SIGCONT is the earliest word, so a rank
 * that was not stopped takes it as the request to stop. A SIGCONT that
 * follows a SIGTSTP (Ctrl-Z, fg, which mpirun forwards) is job control. */
static volatile sig_atomic_t suspended;

static void on_tstp(int sig) {
  (void)sig;
  suspended = 1;
  raise(SIGSTOP);
}

static void on_cont(int sig) {
  if (suspended)
    suspended = 0;
  else if (!stop_signal)
    stop_signal = sig;
}

volatile sig_atomic_t *dx_cli_catch_signals(bool launched) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  /* SA_RESETHAND: a second Ctrl-C is not caught, for a user who will not
   * wait for the checkpoint. */
  sa.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  if (launched) {
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_tstp;
    sigaction(SIGTSTP, &sa, NULL);
    sa.sa_handler = on_cont;
    sigaction(SIGCONT, &sa, NULL);
  }
  return &stop_signal;
}

void dx_cli_ignore_file_size_signal(void) { signal(SIGXFSZ, SIG_IGN); }
