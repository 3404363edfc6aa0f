/* Killed at any moment, resumed exactly: `ddpmx run` is SIGKILLed at random
 * moments (mid step, writing a checkpoint, a grid or a metrics batch, or
 * starting up), taken up again each time with `ddpmx resume`, and must end
 * with the metrics, grids and final weights of an uninterrupted run, bit for
 * bit. The run uses importance sampling (whose loss history must survive)
 * and checkpoints between reports (so must the unreported sums).
 *
 * ctest runs a few kill points; tests/kill_resume.sh runs many:
 * DX_KILLS (default 3) kill points, DX_KILL_STEPS (default 60) steps a run,
 * DX_KILL_SEED (default: the time) seeds the moments. */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_files.h"

static char bin[PATH_MAX + 16], fixtures[PATH_MAX], workdir[64];

static void setup(void) {
  char build[PATH_MAX];
  dxt_cli_setup(build, fixtures, workdir, "dx_kill_");
  snprintf(bin, sizeof bin, "%s/ddpmx", build);
}

static void teardown(void) { dxt_rmtree(workdir); }

static long env_int(const char *name, long fallback) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : fallback;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* `ddpmx run` of the fixture into db (tag names the run's files), or
 * `ddpmx resume 1` of it; stdout and stderr go to tag.log. */
static pid_t start(const char *tag, bool resume) {
  static char db[96], ckpt[128], data[PATH_MAX + 32], exp[PATH_MAX + 32], steps[64], log[96];
  snprintf(db, sizeof db, "%s.db", tag);
  snprintf(ckpt, sizeof ckpt, "checkpoint.dir=%s-ckpt", tag);
  snprintf(data, sizeof data, "data.path=%s/images", fixtures);
  snprintf(exp, sizeof exp, "%s/tiny.yaml", fixtures);
  snprintf(steps, sizeof steps, "train.steps=%ld", env_int("DX_KILL_STEPS", 60));
  snprintf(log, sizeof log, "%s.log", tag);
  const char *run[] = {bin,
                       "run",
                       exp,
                       data,
                       ckpt,
                       steps,
                       "--db",
                       db,
                       "checkpoint.every=4",
                       "log.every=3",
                       "sample.every=10",
                       "diffusion.timesteps=importance",
                       "diffusion.T=10",
                       NULL};
  const char *again[] = {bin, "resume", "1", "--db", db, NULL};
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    FILE *f = freopen(log, "a", stderr);
    if (!f || dup2(fileno(stderr), 1) < 0) _exit(127);
    execv(bin, (char *const *)(resume ? again : run));
    _exit(127);
  }
  return pid;
}

/* Waits up to `seconds` (forever if < 0); true when it exited, with *status. */
static bool wait_for(pid_t pid, double seconds, int *status) {
  double until = now_s() + seconds;
  for (;;) {
    pid_t r = waitpid(pid, status, seconds < 0 ? 0 : WNOHANG);
    ck_assert_int_ge(r, 0);
    if (r == pid) return true;
    if (now_s() >= until) return false;
    usleep(500);
  }
}

/* What the run last said before it died: "checkpoint", "sampling",
 * "training" (a step report), or "starting" (nothing yet). Its log from
 * byte `offset` on is this attempt's. */
static const char *phase(const char *tag, long offset) {
  char log[96], line[512] = "";
  snprintf(log, sizeof log, "%s.log", tag);
  FILE *f = fopen(log, "r");
  ck_assert_ptr_nonnull(f);
  fseek(f, offset, SEEK_SET);
  for (char buf[512]; fgets(buf, sizeof buf, f);)
    if (strncmp(buf, "step ", 5) == 0) snprintf(line, sizeof line, "%s", buf);
  fclose(f);
  return !line[0]                       ? "starting"
         : strstr(line, ": checkpoint") ? "checkpoint"
         : strstr(line, ": sampling")   ? "sampling"
                                        : "training";
}

static long log_size(const char *tag) {
  char log[96];
  snprintf(log, sizeof log, "%s.log", tag);
  FILE *f = fopen(log, "r");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

/* Whether the run is recorded (with `status`, unless NULL). */
static bool has_run(const char *tag, const char *status) {
  char db[96];
  snprintf(db, sizeof db, "%s.db", tag);
  sqlite3 *d;
  if (access(db, F_OK) != 0 || sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    return false;
  sqlite3_stmt *q;
  bool found =
      sqlite3_prepare_v2(d, "SELECT 1 FROM runs WHERE id = 1 AND status = coalesce(?, status)", -1,
                         &q, NULL) == SQLITE_OK &&
      sqlite3_bind_text(q, 1, status, -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW;
  sqlite3_finalize(q);
  sqlite3_close(d);
  return found;
}

/* ---- comparing two finished runs ----------------------------------------------------- */

typedef struct rowset {
  sqlite3 *db;
  sqlite3_stmt *q;
} rowset;

static rowset query(const char *tag, const char *sql) {
  char path[96];
  snprintf(path, sizeof path, "%s.db", tag);
  rowset r;
  ck_assert_int_eq(sqlite3_open_v2(path, &r.db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  ck_assert_msg(sqlite3_prepare_v2(r.db, sql, -1, &r.q, NULL) == SQLITE_OK, "%s",
                sqlite3_errmsg(r.db));
  return r;
}

static void done(rowset *r) {
  sqlite3_finalize(r->q);
  sqlite3_close(r->db);
}

/* Every row of sql equal in both, column by column (blobs and doubles
 * compared as bytes); returns the row count. */
static int same_rows(const char *a, const char *b, const char *sql) {
  rowset x = query(a, sql), y = query(b, sql);
  int n = 0;
  for (;; n++) {
    int rx = sqlite3_step(x.q), ry = sqlite3_step(y.q);
    ck_assert_msg(rx == ry, "%s: %s has %s rows than %s", sql, b,
                  rx == SQLITE_ROW ? "fewer" : "more", a);
    if (rx != SQLITE_ROW) break;
    for (int c = 0; c < sqlite3_column_count(x.q); c++) {
      int bytes = sqlite3_column_bytes(x.q, c);
      bool same = sqlite3_column_type(x.q, c) == sqlite3_column_type(y.q, c);
      if (same && sqlite3_column_type(x.q, c) == SQLITE_FLOAT) {
        double u = sqlite3_column_double(x.q, c), v = sqlite3_column_double(y.q, c);
        same = memcmp(&u, &v, sizeof u) == 0;
      } else if (same) {
        const void *u = sqlite3_column_blob(x.q, c), *v = sqlite3_column_blob(y.q, c);
        same = bytes == sqlite3_column_bytes(y.q, c) &&
               (bytes == 0 || memcmp(u, v, (size_t)bytes) == 0);
      }
      ck_assert_msg(same, "%s: row %d column %d differs between %s and %s (%s vs %s)", sql, n, c, a,
                    b, sqlite3_column_text(x.q, c), sqlite3_column_text(y.q, c));
    }
  }
  done(&x), done(&y);
  return n;
}

/* The tensors of a safetensors file: everything after its JSON header (the
 * header names the checkpoint folder, which differs between the runs). */
static char *tensor_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "%s", path);
  unsigned char n8[8];
  ck_assert_int_eq(fread(n8, 1, 8, f), 8);
  uint64_t hlen = 0;
  for (int i = 0; i < 8; i++)
    hlen |= (uint64_t)n8[i] << (8 * i);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  ck_assert((uint64_t)size > 8 + hlen);
  *len = (size_t)size - 8 - hlen;
  char *buf = malloc(*len);
  fseek(f, (long)(8 + hlen), SEEK_SET);
  ck_assert_uint_eq(fread(buf, 1, *len, f), *len);
  fclose(f);
  return buf;
}

static void final_checkpoint(const char *tag, char *path, size_t len) {
  rowset r = query(tag, "SELECT path FROM checkpoints WHERE run_id = 1 ORDER BY step DESC LIMIT 1");
  ck_assert_int_eq(sqlite3_step(r.q), SQLITE_ROW);
  snprintf(path, len, "%s", (const char *)sqlite3_column_text(r.q, 0));
  done(&r);
}

static void compare(const char *ref, const char *tag) {
  int n = same_rows(ref, tag, "SELECT status, error FROM runs");
  ck_assert_int_eq(n, 1);
  n = same_rows(
      ref, tag,
      "SELECT step, name, value FROM metrics WHERE name != 'images_per_s' ORDER BY step, name");
  ck_assert_int_ge(n, 20);
  n = same_rows(ref, tag, "SELECT step, tag, png FROM samples ORDER BY step, tag");
  ck_assert_int_ge(n, 1);
  same_rows(ref, tag, "SELECT step FROM checkpoints ORDER BY step");
  char pa[PATH_MAX], pb[PATH_MAX];
  final_checkpoint(ref, pa, sizeof pa);
  final_checkpoint(tag, pb, sizeof pb);
  size_t la, lb;
  char *a = tensor_bytes(pa, &la), *b = tensor_bytes(pb, &lb);
  ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "the final weights differ: %s vs %s", pa, pb);
  free(a), free(b);
}

/* The last lines of a log, for a failure message (check limits its size). */
static const char *tail(const char *path) {
  static char buf[2048];
  char *text = dxt_slurp(path);
  size_t n = strlen(text);
  snprintf(buf, sizeof buf, "%s", text + (n > sizeof buf - 1 ? n - (sizeof buf - 1) : 0));
  free(text);
  return buf;
}

START_TEST(killed_at_random_moments_resumes_exactly) {
  long kills = env_int("DX_KILLS", 3);
  unsigned long seed = (unsigned long)env_int("DX_KILL_SEED", (long)time(NULL));
  srand48((long)seed);
  int status;
  double t0 = now_s();
  ck_assert(wait_for(start("ref", false), -1, &status));
  double wall = now_s() - t0;
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", tail("ref.log"));

  long landed = 0;
  int runs = 0, starting = 0, training = 0, checkpoint = 0, sampling = 0, finishing = 0;
  while (landed < kills) {
    char tag[32];
    snprintf(tag, sizeof tag, "k%d", runs++);
    for (;;) {
      bool resume = has_run(tag, NULL);
      long offset = log_size(tag);
      pid_t pid = start(tag, resume);
      /* Up to half an uninterrupted run: most kills land before the end,
       * and each leaves it some way further on. */
      double delay = landed < kills ? drand48() * wall * 0.5 : -1;
      if (wait_for(pid, delay, &status)) {
        char log[64];
        snprintf(log, sizeof log, "%s.log", tag);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "seed %lu, %s after %ld kills: %s", seed, tag, landed, tail(log));
        break;
      }
      kill(pid, SIGKILL);
      ck_assert(wait_for(pid, -1, &status));
      landed++;
      if (has_run(tag, "FINISHED") && ++finishing)
        break; /* killed as it closed: nothing to resume */
      const char *p = phase(tag, offset);
      starting += !strcmp(p, "starting"), training += !strcmp(p, "training");
      checkpoint += !strcmp(p, "checkpoint"), sampling += !strcmp(p, "sampling");
    }
    compare("ref", tag);
  }
  fprintf(
      stderr,
      "kill_resume: %ld kill points (seed %lu) over %d runs, each equal to the uninterrupted one: "
      "%d while starting, %d training, %d in a checkpoint, %d sampling, %d closing; uninterrupted "
      "run "
      "%.2f s, "
      "all %.1f s\n",
      landed, seed, runs, starting, training, checkpoint, sampling, finishing, wall, now_s() - t0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kill_resume");
  TCase *tc = tcase_create("kill_resume");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 3600);
  tcase_add_test(tc, killed_at_random_moments_resumes_exactly);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
