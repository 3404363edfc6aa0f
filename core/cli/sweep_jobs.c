/* Running a sweep's cells: each an ordinary `ddpmx run` or `ddpmx resume`
 * in a child process of its own (so one cell's crash or leak cannot touch
 * another), N at a time, each on its share of the cores. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/sweep.h"

#define LINE_MAX_BYTES 4096

typedef struct child {
  dx_sweep_job *job;
  pid_t pid;
  int fd; /* the read end of its stderr; -1 once closed */
  char line[LINE_MAX_BYTES];
  size_t len;
  double started;
} child;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The child's command line: run FILE OVERRIDES... or resume RUN. */
static char **child_argv(const dx_sweep_env *env, const dx_sweep_job *j, char *id_buf,
                         char *run_buf) {
  char **argv = calloc((size_t)j->cell.n + 12, sizeof *argv);
  if (!argv) return NULL;
  int n = 0;
  argv[n++] = (char *)env->self;
  if (j->action == DX_SWEEP_RESUME) {
    argv[n++] = "resume";
    argv[n++] = run_buf;
  } else {
    argv[n++] = "run";
    argv[n++] = (char *)env->file;
    for (int k = 0; k < j->cell.n; k++)
      argv[n++] = j->cell.overrides[k];
    argv[n++] = "--sweep";
    argv[n++] = id_buf;
    argv[n++] = "--cell";
    argv[n++] = j->cell.cell;
  }
  argv[n++] = "--db";
  argv[n++] = (char *)env->db;
  return argv;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void become_cell(const dx_sweep_env *env, char **argv, int fds[2], pid_t parent,
                        const char *threads) {
  close(fds[0]);
  if (dup2(fds[1], 2) < 0) _exit(127);
  close(fds[1]);
  /* Its own process group, so that a Ctrl-C at the terminal reaches the
   * sweep alone, which passes it on once: a second signal would make the
   * cell die at once without its checkpoint. */
  setpgid(0, 0);
  /* If the sweep itself dies (kill -9), the cell stops as if Ctrl-C'ed and
   * is resumed by the next `ddpmx sweep`. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(128 + SIGTERM);
  if (threads) setenv("DDPMX_THREADS", threads, 1);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  /* With the sweep gone its end of the pipe is closed: the cell's next line
   * must fail quietly, not kill it before it records that it stopped. */
  signal(SIGPIPE, SIG_IGN);
  execv(env->self, argv);
  _exit(127);
}

static bool start(const dx_sweep_env *env, dx_sweep_job *j, child *c) {
  char id_buf[32], run_buf[32], threads[32];
  snprintf(id_buf, sizeof id_buf, "%" PRId64, env->sweep_id);
  snprintf(run_buf, sizeof run_buf, "%" PRId64, j->run_id);
  snprintf(threads, sizeof threads, "%d", env->threads);
  char **argv = child_argv(env, j, id_buf, run_buf);
  int fds[2];
  if (!argv || pipe(fds) != 0) {
    free(argv);
    fprintf(stderr, "ddpmx sweep: cannot start cell %" PRId64 ": %s\n", j->index + 1,
            strerror(errno));
    return false;
  }
  fflush(NULL);
  pid_t parent = getpid(), pid = fork();
  if (pid == 0) become_cell(env, argv, fds, parent, env->threads > 0 ? threads : NULL);
  close(fds[1]);
  free(argv);
  if (pid < 0) {
    close(fds[0]);
    fprintf(stderr, "ddpmx sweep: cannot start cell %" PRId64 ": %s\n", j->index + 1,
            strerror(errno));
    return false;
  }
  fcntl(fds[0], F_SETFD, FD_CLOEXEC); /* the next cell must not hold this pipe open */
  *c = (child){.job = j, .pid = pid, .fd = fds[0], .started = now_s()};
  return true;
}

static void emit(const dx_sweep_env *env, child *c) {
  fprintf(stderr, "[%" PRId64 "/%" PRId64 "] %.*s\n", c->job->index + 1, env->n_cells, (int)c->len,
          c->line);
  c->len = 0;
}

/* Reads what the child wrote; prints each whole line with its cell number.
 * Returns false at end of file. */
static bool pump(const dx_sweep_env *env, child *c) {
  char buf[1024];
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return true;
  if (n <= 0) {
    if (c->len) emit(env, c);
    return false;
  }
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] == '\n')
      emit(env, c);
    else if (c->len < sizeof c->line)
      c->line[c->len++] = buf[i];
    else
      emit(env, c), c->line[c->len++] = buf[i];
  }
  return true;
}

static void finish(child *c) {
  close(c->fd);
  c->fd = -1;
  int status = 0;
  while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
  }
  c->job->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  c->job->seconds = now_s() - c->started;
}

int dx_sweep_run_jobs(const dx_sweep_env *env, dx_sweep_job *jobs, int64_t n) {
  int width = env->jobs > 0 ? env->jobs : 1;
  child *kids = calloc((size_t)width, sizeof *kids);
  struct pollfd *pfd = calloc((size_t)width, sizeof *pfd);
  if (!kids || !pfd) {
    free(kids), free(pfd);
    fprintf(stderr, "ddpmx sweep: out of memory\n");
    return -1;
  }
  int running = 0, passed_on = 0;
  int64_t next = 0;
  for (;;) {
    int sig = env->stop ? (int)*env->stop : 0;
    if (sig && !passed_on) { /* once: a second signal would kill without a checkpoint */
      for (int k = 0; k < width; k++)
        if (kids[k].job) kill(kids[k].pid, sig);
      passed_on = sig;
    }
    while (!sig && running < width && next < n) {
      dx_sweep_job *j = &jobs[next++];
      if (j->action == DX_SWEEP_SKIP) continue;
      int k = 0;
      while (kids[k].job)
        k++;
      if (start(env, j, &kids[k]))
        running++;
      else
        j->exit_code = 1;
    }
    if (running == 0 && (sig || next >= n)) break;
    int m = 0;
    for (int k = 0; k < width; k++)
      if (kids[k].job) pfd[m++] = (struct pollfd){.fd = kids[k].fd, .events = POLLIN};
    if (poll(pfd, (nfds_t)m, 250) <= 0) continue;
    for (int k = 0; k < width; k++) {
      if (!kids[k].job) continue;
      struct pollfd *p = NULL;
      for (int i = 0; i < m; i++)
        if (pfd[i].fd == kids[k].fd) p = &pfd[i];
      if (!p || !(p->revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (pump(env, &kids[k])) continue;
      finish(&kids[k]);
      kids[k].job = NULL;
      running--;
    }
  }
  free(kids);
  free(pfd);
  return passed_on;
}
