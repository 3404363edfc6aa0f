#include "dxt_cli.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dxt_files.h"

const char *dxt_ddpmx(void) {
  static char bin[PATH_MAX + 16];
  if (bin[0]) return bin; /* resolved once, before a test changes folder */
  const char *b = getenv("DDPMX_BUILD_DIR");
  ck_assert_msg(b != NULL, "DDPMX_BUILD_DIR is not set (run through ctest)");
  char dir[PATH_MAX];
  ck_assert_ptr_nonnull(realpath(b, dir));
  snprintf(bin, sizeof bin, "%s/ddpmx", dir);
  return bin;
}

static void into(const char *path, int fd) {
  int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (f < 0 || dup2(f, fd) < 0) _exit(127);
  close(f);
}

/* argv with the program in front, for execv. */
static char **full_argv(const char *const *argv) {
  int n = 0;
  while (argv[n])
    n++;
  char **a = calloc((size_t)n + 2, sizeof *a);
  ck_assert_ptr_nonnull(a);
  a[0] = (char *)dxt_ddpmx();
  for (int i = 0; i < n; i++)
    a[i + 1] = (char *)argv[i];
  return a;
}

dxt_out dxt_cli(const char *const *argv) {
  char **a = full_argv(argv);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    into("dxt_cli.out", 1);
    into("dxt_cli.err", 2);
    execv(a[0], a);
    _exit(127);
  }
  free(a);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return (dxt_out){code, dxt_slurp("dxt_cli.out"), dxt_slurp("dxt_cli.err")};
}

pid_t dxt_cli_start(const char *const *argv, const char *out_path, int *err_fd) {
  char **a = full_argv(argv);
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    into(out_path, 1);
    execv(a[0], a);
    _exit(127);
  }
  free(a);
  close(fds[1]);
  *err_fd = fds[0];
  return pid;
}

void dxt_out_free(dxt_out *o) {
  free(o->out);
  free(o->err);
}
