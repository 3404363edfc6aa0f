/* Data-parallel training over MPI (issue 15), with `mpirun -np 2` on this
 * machine: the communicator's collectives against sums computed here, and
 * (below) the ddpmx binary on 1 and 2 ranks. Runs as root in containers
 * (--allow-run-as-root) and on a 2-core machine (--oversubscribe). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_files.h"

static char tmp[256];

static void setup(void) {
  snprintf(tmp, sizeof tmp, "/tmp/dx_mpi_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  /* One host: shared memory between the ranks, no network transport. */
  setenv("OMPI_MCA_btl", "self,vader", 1);
}

static void teardown(void) { dxt_rmtree(tmp); }

/* Runs `mpirun -np np ARGS` (a printf format), output in tmp/log; returns
 * the exit status. */
static int mpirun(int np, const char *fmt, ...) {
  char args[3000], cmd[4000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd,
           "timeout -s KILL 300 %s -np %d --allow-run-as-root --oversubscribe --bind-to none %s "
           ">>'%s/log' 2>&1",
           DDPMX_MPIEXEC, np, args, tmp);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static char *log_text(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/log", tmp);
  return access(path, F_OK) == 0 ? dxt_slurp(path) : strdup("");
}

static void lines_of(const char *text, char ***out, int *n) {
  *n = 0;
  *out = NULL;
  char *copy = strdup(text), *save = NULL;
  for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    *out = realloc(*out, (size_t)(*n + 1) * sizeof **out);
    (*out)[(*n)++] = strdup(l);
  }
  free(copy);
}

/* The probe on 2 ranks: every rank receives the same sums, equal to the sums
 * of what each rank sent, computed here in float64 and rounded once. */
START_TEST(collectives_on_two_ranks) {
  char out[600];
  snprintf(out, sizeof out, "%s/probe", tmp);
  int rc = mpirun(2, "%s %s", COMM_PROBE, out);
  char *log = log_text();
  ck_assert_msg(rc == 0, "mpirun exited %d:\n%s", rc, log);
  free(log);
  char p0[700], p1[700];
  snprintf(p0, sizeof p0, "%s.0", out);
  snprintf(p1, sizeof p1, "%s.1", out);
  char *a = dxt_slurp(p0), *b = dxt_slurp(p1);
  ck_assert_msg(strstr(a, "rank 0 size 2 name mpi"), "%s", a);
  ck_assert_msg(strstr(b, "rank 1 size 2 name mpi"), "%s", b);
  /* After their first lines, both ranks hold the same bits. */
  ck_assert_str_eq(strchr(a, '\n'), strchr(b, '\n'));
  char **l;
  int n;
  lines_of(a, &l, &n);
  ck_assert_int_eq(n, 1 + 1001 + 1 + 1 + 2 + 1);
  for (int i = 0; i < 1001; i++) {
    int k;
    float got;
    ck_assert_int_eq(sscanf(l[1 + i], "f32 %d %a", &k, &got), 2);
    /* Two float32 addends: their float64 sum rounded once is the exact float32 sum. */
    float x0 = (float)sin(0.1 * i + 0) * 1.0f, x1 = (float)sin(0.1 * i + 1) * 2.0f;
    ck_assert_msg(got == (float)((double)x0 + (double)x1), "element %d: %a", i, got);
  }
  ck_assert_str_eq(l[1002], "f64 0x1p+1 0x1p-2 -0x1p+0");
  ck_assert_str_eq(l[1003], "bcast from 1");
  ck_assert_str_eq(l[1004], "gather 0 7");
  ck_assert_str_eq(l[1005], "gather 1 17");
  ck_assert_str_eq(l[1006], "done");
  for (int i = 0; i < n; i++)
    free(l[i]);
  free(l), free(a), free(b);
}
END_TEST

/* Started without a launcher, a program is one rank of its own. */
START_TEST(without_a_launcher_one_rank) {
  char cmd[1200], out[600];
  snprintf(out, sizeof out, "%s/alone", tmp);
  snprintf(cmd, sizeof cmd, "env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE -u PMIX_RANK %s %s",
           COMM_PROBE, out);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s.0", out);
  char *a = dxt_slurp(cmd);
  ck_assert_msg(strstr(a, "rank 0 size 1 name single"), "%s", a);
  ck_assert_msg(strstr(a, "gather 0 7\ndone"), "%s", a);
  free(a);
}
END_TEST

int main(void) {
  Suite *s = suite_create("mpi");
  TCase *tc = tcase_create("mpi");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, collectives_on_two_ranks);
  tcase_add_test(tc, without_a_launcher_one_rank);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
