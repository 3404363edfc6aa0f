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

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "dx_test.h"
#include "dxt_files.h"
#include "model/safetensors.h"
#include "util/png.h"

static char tmp[256];

/* 24 16x16 grey images: a diagonal gradient whose direction and brightness
 * vary, so that flips change them. */
static void write_images(void) {
  char dir[512], path[600], err[256];
  snprintf(dir, sizeof dir, "%s/images", tmp);
  ck_assert_int_eq(mkdir(dir, 0777), 0);
  uint8_t px[16 * 16];
  dx_image img = {16, 16, 1, px};
  for (int k = 0; k < 24; k++) {
    snprintf(path, sizeof path, "%s/g%d.png", dir, k);
    for (int i = 0; i < 16 * 16; i++) {
      int y = i / 16, x = k % 2 ? 15 - i % 16 : i % 16;
      px[i] = (uint8_t)((x * 8 + y * (k % 5)) * (k % 3 + 1) % 256);
    }
    if (dx_png_write_file(&img, path, err, sizeof err) != DX_OK) ck_abort_msg("%s", err);
  }
}

/* A tiny model with dropout and flips, so that every per-sample draw is
 * exercised; a loss every step; a grid and bits/dim at the end. */
static void write_experiment(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/tiny.yaml", tmp);
  FILE *f = fopen(path, "w");
  fprintf(
      f,
      "name: tiny\nseed: 5\n"
      "data: {dataset: folder, path: %s/images, flip: true}\n"
      "model:\n  dim: 8\n  dim_mults: [1, 2]\n  block: {plugin: resnet, groups: 4, dropout: 0.1}\n"
      "  attention: {plugin: attention_linear, heads: 2, dim_head: 8}\n"
      "  mid_attention: {plugin: attention_full, heads: 2, dim_head: 8}\n"
      "diffusion:\n  T: 40\n  schedule: {plugin: cosine}\n  loss: {plugin: huber}\n"
      "  sampler: {plugin: beta_tilde, steps: 5}\n  timesteps: importance\n"
      "train: {steps: 20, batch: 4, lr: 1.0e-3, warmup: 2, threads: 1, clip_grad: 1.0}\n"
      "log: {every: 1}\nsample: {every: 20, count: 3, nrow: 3}\n"
      "eval: {every: 20, images: 6, batch: 2}\ncheckpoint: {every: 5, dir: %s/ckpt}\n",
      tmp, tmp);
  fclose(f);
}

static void setup(void) {
  snprintf(tmp, sizeof tmp, "/tmp/dx_mpi_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  /* One host: shared memory between the ranks, no network transport. Time
   * for a stopped rank to write its checkpoint on a busy machine. */
  setenv("OMPI_MCA_btl", "self,vader", 1);
  setenv("OMPI_MCA_odls_base_sigkill_timeout", "20", 1);
  write_images();
  write_experiment();
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

/* --- training ------------------------------------------------------------------ */

/* `ddpmx run tiny.yaml --db tmp/DB ARGS` on np ranks (0: no mpirun at all). */
static int train(int np, const char *db, const char *args) {
  if (np == 0) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "%s run %s/tiny.yaml --db %s/%s checkpoint.dir=%s/ckpt-%s %s >>'%s/log' 2>&1",
             DDPMX_BIN, tmp, tmp, db, tmp, db, args, tmp);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  }
  return mpirun(np, "%s run %s/tiny.yaml --db %s/%s checkpoint.dir=%s/ckpt-%s %s", DDPMX_BIN, tmp,
                tmp, db, tmp, db, args);
}

static int resume(int np, const char *db) {
  if (np == 0) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "%s resume 1 --db %s/%s >>'%s/log' 2>&1", DDPMX_BIN, tmp, db, tmp);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  }
  return mpirun(np, "%s resume 1 --db %s/%s", DDPMX_BIN, tmp, db);
}

static sqlite3 *db_open(const char *db) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp, db);
  sqlite3 *h;
  ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
  return h;
}

/* Values of metric `name` by step (1..20) of run 1. */
static int metric(const char *db, const char *name, double v[21]) {
  sqlite3 *h = db_open(db);
  sqlite3_stmt *q;
  ck_assert_int_eq(
      sqlite3_prepare_v2(h, "select step, value from metrics where run_id = 1 and name = ?1", -1,
                         &q, NULL),
      SQLITE_OK);
  sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
  int n = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    int step = sqlite3_column_int(q, 0);
    ck_assert(step >= 1 && step <= 20);
    v[step] = sqlite3_column_double(q, 1), n++;
  }
  sqlite3_finalize(q);
  sqlite3_close(h);
  return n;
}

static char *text(const char *db, const char *sql) {
  sqlite3 *h = db_open(db);
  sqlite3_stmt *q;
  ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(h));
  char *out = strdup(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0)
                         ? (const char *)sqlite3_column_text(q, 0)
                         : "");
  sqlite3_finalize(q);
  sqlite3_close(h);
  return out;
}

/* The losses of two runs: equal within rel (0: bit for bit). */
static void same_losses(const char *a, const char *b, double rel) {
  double va[21] = {0}, vb[21] = {0};
  ck_assert_int_eq(metric(a, "loss", va), 20);
  ck_assert_int_eq(metric(b, "loss", vb), 20);
  for (int s = 1; s <= 20; s++)
    if (rel == 0)
      ck_assert_msg(va[s] == vb[s], "step %d: loss %.17g against %.17g", s, va[s], vb[s]);
    else
      ck_assert_msg(fabs(va[s] - vb[s]) <= rel * fabs(vb[s]),
                    "step %d: loss %.9g against %.9g (rel %.2g)", s, va[s], vb[s],
                    fabs(va[s] - vb[s]) / fabs(vb[s]));
}

/* The last checkpoint of run 1 in db: its path from the store. */
static dx_safetensors *last_checkpoint(const char *db) {
  char *path = text(db, "select path from checkpoints where run_id = 1 order by step desc limit 1");
  dx_safetensors *f;
  char err[512];
  ck_assert_msg(dx_safetensors_read(path, &f, err, sizeof err) == DX_OK, "%s: %s", path, err);
  free(path);
  return f;
}

/* Every float tensor of the two final checkpoints (weights, EMA, Adam's
 * moments): max |a - b| / max |b| per tensor within rel (0: identical). */
static void same_weights(const char *a, const char *b, double rel) {
  dx_safetensors *fa = last_checkpoint(a), *fb = last_checkpoint(b);
  ck_assert_int_eq(fa->n, fb->n);
  double worst = 0;
  for (int64_t i = 0; i < fa->n; i++) {
    const dx_st_entry *ea = &fa->entries[i], *eb = dx_safetensors_find(fb, ea->name);
    ck_assert_msg(eb, "%s missing", ea->name);
    if (ea->dtype != DX_F32) continue;
    int64_t n = 1;
    for (int d = 0; d < ea->ndim; d++)
      n *= ea->shape[d];
    const float *x = ea->data, *y = eb->data;
    double diff = 0, mag = 0;
    for (int64_t k = 0; k < n; k++) {
      diff = fmax(diff, fabs((double)x[k] - y[k]));
      mag = fmax(mag, fabs((double)y[k]));
    }
    double r = mag > 0 ? diff / mag : diff;
    if (rel == 0) ck_assert_msg(diff == 0, "%s differs by %g", ea->name, diff);
    ck_assert_msg(r <= rel || rel == 0, "%s: relative difference %g", ea->name, r);
    worst = fmax(worst, r);
  }
  fprintf(stderr, "test_mpi: %s against %s: weights differ by at most %.3g (relative)\n", a, b,
          worst);
  dx_safetensors_free(fa);
  dx_safetensors_free(fb);
}

static void assert_ok(int rc) {
  char *log = log_text();
  ck_assert_msg(rc == 0, "exit %d:\n%s", rc, log);
  free(log);
}

/* The float32 sums of the gradient over 2 ranks are added in another order
 * than over one batch: the runs agree to float32 rounding, which 20 Adam
 * steps carry into the weights (1e-5 relative measured; Adam divides by
 * sqrt(v), which can magnify a rounding difference in a tiny gradient). */
#define LOSS_REL 1e-5
#define WEIGHT_REL 1e-4

START_TEST(two_ranks_train_as_one_process) {
  assert_ok(train(0, "one.db", "checkpoint.every=20"));
  assert_ok(train(2, "two.db", "checkpoint.every=20"));
  same_losses("two.db", "one.db", LOSS_REL);
  same_weights("two.db", "one.db", WEIGHT_REL);
  /* One run row, with the world size and the host; rank 0's grid and bits/dim. */
  char *s = text("two.db", "select count(*) || ' ' || status from runs");
  ck_assert_str_eq(s, "1 FINISHED");
  free(s);
  char host[256], want[300];
  gethostname(host, sizeof host);
  snprintf(want, sizeof want, "2 %s", host);
  s = text("two.db", "select world_size || ' ' || hosts from runs where id = 1");
  ck_assert_str_eq(s, want);
  free(s);
  s = text("one.db", "select world_size || ' ' || coalesce(hosts, 'NULL') from runs where id = 1");
  ck_assert_str_eq(s, "1 NULL");
  free(s);
  s = text("two.db", "select count(*) from samples where run_id = 1");
  ck_assert_str_eq(s, "1");
  free(s);
  double b1[21] = {0}, b2[21] = {0};
  ck_assert_int_eq(metric("one.db", "bpd", b1), 1);
  ck_assert_int_eq(metric("two.db", "bpd", b2), 1);
  ck_assert_msg(fabs(b1[20] - b2[20]) < 1e-3 * b1[20], "bpd %g against %g", b2[20], b1[20]);
}
END_TEST

START_TEST(two_runs_on_two_ranks_are_bit_identical) {
  assert_ok(train(2, "a.db", "checkpoint.every=20"));
  assert_ok(train(2, "b.db", "checkpoint.every=20"));
  same_losses("a.db", "b.db", 0);
  same_weights("a.db", "b.db", 0);
  double va[21] = {0}, vb[21] = {0};
  metric("a.db", "bpd", va), metric("b.db", "bpd", vb);
  ck_assert(va[20] == vb[20]);
}
END_TEST

/* Accumulation on ranks: 2 ranks, each summing 2 micro-batches of 1 image,
 * take the steps of one process at batch 4 (train.batch is the images of
 * one forward pass over all ranks, so the optimiser step sees batch x
 * accumulate); the gradient is averaged over the ranks once per step. */
START_TEST(accumulation_on_two_ranks_is_the_big_batch) {
  assert_ok(train(0, "one.db", "checkpoint.every=20"));
  assert_ok(train(2, "acc.db", "checkpoint.every=20 train.batch=2 train.accumulate=2"));
  same_losses("acc.db", "one.db", LOSS_REL);
  same_weights("acc.db", "one.db", WEIGHT_REL);
}
END_TEST

/* Runs CMD (its stderr read through the pipe, its stdout dropped) in a
 * shell that first says its pid, which CMD's exec keeps: *pid is CMD's. */
static FILE *spawn(const char *cmd, pid_t *pid) {
  char line[3200];
  snprintf(line, sizeof line, "echo $$; exec %s 2>&1 >/dev/null", cmd);
  FILE *p = popen(line, "r");
  int id = -1;
  ck_assert_msg(p && fscanf(p, "%d\n", &id) == 1, "cannot start %s", cmd);
  *pid = id;
  return p;
}

/* The exit status of what spawn started. */
static int reap(FILE *p) {
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Starts a run (np ranks, 0: no mpirun), sends SIGINT to the launcher once
 * rank 0 reports step 6, and returns the exit status. */
static int interrupted(int np, const char *db) {
  char cmd[3000];
  if (np)
    snprintf(cmd, sizeof cmd,
             "%s -np %d --allow-run-as-root --oversubscribe --bind-to none %s run "
             "%s/tiny.yaml --db %s/%s "
             "checkpoint.dir=%s/ckpt-%s",
             DDPMX_MPIEXEC, np, DDPMX_BIN, tmp, tmp, db, tmp, db);
  else
    snprintf(cmd, sizeof cmd, "%s run %s/tiny.yaml --db %s/%s checkpoint.dir=%s/ckpt-%s", DDPMX_BIN,
             tmp, tmp, db, tmp, db);
  pid_t pid;
  FILE *err = spawn(cmd, &pid);
  char line[1024];
  bool signalled = false, global = false;
  while (fgets(line, sizeof line, err)) {
    if (!signalled && strncmp(line, "step 6/", 7) == 0) signalled = kill(pid, SIGINT) == 0;
    global |= strstr(line, " img/s on 2 ranks ") != NULL; /* the progress line's throughput */
  }
  ck_assert(global == (np == 2));
  int rc = reap(err);
  ck_assert(signalled);
  return rc;
}

/* A run stopped with Ctrl-C on 2 ranks resumes on 1, and one stopped on 1
 * resumes on 2: each ends as an uninterrupted one-process run does, to the
 * rounding of the steps done on 2 ranks. */
START_TEST(checkpoints_resume_on_another_number_of_ranks) {
  assert_ok(train(0, "one.db", ""));
  ck_assert_int_ne(interrupted(2, "two_then_one.db"), 0);
  char *s = text("two_then_one.db",
                 "select status || ': ' || coalesce(error, '') from runs where id = 1");
  ck_assert_msg(strstr(s, "KILLED: interrupted by"), "%s", s);
  free(s);
  s = text("two_then_one.db", "select max(step) < 20 from checkpoints where run_id = 1");
  ck_assert_str_eq(s, "1");
  free(s);
  assert_ok(resume(0, "two_then_one.db"));
  same_losses("two_then_one.db", "one.db", LOSS_REL);
  same_weights("two_then_one.db", "one.db", WEIGHT_REL);

  ck_assert_int_eq(interrupted(0, "one_then_two.db"), 130);
  assert_ok(resume(2, "one_then_two.db"));
  same_losses("one_then_two.db", "one.db", LOSS_REL);
  same_weights("one_then_two.db", "one.db", WEIGHT_REL);
  s = text("one_then_two.db", "select count(*) || ' ' || status || ' ' || world_size from runs");
  ck_assert_str_eq(s, "1 FINISHED 2");
  free(s);
}
END_TEST

/* The pid of rank r among mpirun's children (their environment names it). */
static pid_t rank_pid(pid_t mpirun, int r) {
  char want[64], path[128];
  snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", r);
  for (int tries = 0; tries < 600; tries++) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "pgrep -P %d", (int)mpirun);
    FILE *p = popen(cmd, "r");
    int pid;
    while (p && fscanf(p, "%d", &pid) == 1) {
      snprintf(path, sizeof path, "/proc/%d/environ", pid);
      FILE *f = fopen(path, "r");
      char buf[65536];
      size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
      if (f) fclose(f);
      for (size_t k = 0; k < n; k += strlen(buf + k) + 1)
        if (!strcmp(buf + k, want)) {
          pclose(p);
          return pid;
        }
    }
    if (p) pclose(p);
    usleep(100000);
  }
  return -1;
}

/* Gone, or a zombie nobody reaps (a container's init may not): as ps sees it. */
static bool gone(pid_t pid) {
  char cmd[64], state[16] = "";
  snprintf(cmd, sizeof cmd, "ps -o stat= -p %d", (int)pid);
  FILE *p = popen(cmd, "r");
  bool listed = p && fscanf(p, "%15s", state) == 1;
  if (p) pclose(p);
  return !listed || state[0] == 'Z';
}

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* kill -9 of rank 1 mid-run: mpirun and rank 0 end, the run is FAILED and
 * names rank 1 and its host, within 60 s, with no process left behind. */
START_TEST(a_killed_rank_fails_the_run) {
  /* mpirun's own wait between the signals it sends the survivors: its
   * default, so that the test measures what a user gets. */
  setenv("OMPI_MCA_odls_base_sigkill_timeout", "1", 1);
  char cmd[3000];
  snprintf(cmd, sizeof cmd,
           "%s -np 2 --allow-run-as-root --oversubscribe --bind-to none %s run %s/tiny.yaml "
           "--db %s/k.db "
           "train.steps=100000 sample.every=0 eval.every=0 checkpoint.every=0",
           DDPMX_MPIEXEC, DDPMX_BIN, tmp, tmp);
  pid_t pid;
  FILE *err = spawn(cmd, &pid);
  char line[1024], all[16384] = "";
  pid_t r0 = -1, r1 = -1;
  double killed = 0;
  while (fgets(line, sizeof line, err)) {
    if (strlen(all) + strlen(line) < sizeof all) strcat(all, line);
    if (!killed && strncmp(line, "step 3/", 7) == 0) {
      r0 = rank_pid(pid, 0), r1 = rank_pid(pid, 1);
      ck_assert(r0 > 0 && r1 > 0);
      ck_assert_int_eq(kill(r1, SIGKILL), 0);
      killed = seconds();
    }
  }
  reap(err);
  double took = seconds() - killed;
  ck_assert_msg(killed > 0, "the run never reached step 3:\n%s", all);
  ck_assert_msg(took < 60, "the run took %.0f s to end", took);
  ck_assert_msg(gone(r0) && gone(r1), "a rank is still there:\n%s", all);
  char *s = text("k.db", "select status || ': ' || coalesce(error, '') from runs where id = 1");
  char host[256], want[300];
  gethostname(host, sizeof host);
  snprintf(want, sizeof want, "rank 1 (host %s, pid %d)", host, (int)r1);
  ck_assert_msg(!strncmp(s, "FAILED: ", 8) && strstr(s, want), "%s\n%s", s, all);
  fprintf(stderr, "test_mpi: the run ended %.1f s after rank 1 was killed: %s\n", took, s);
  free(s);
}
END_TEST

int main(void) {
  Suite *s = suite_create("mpi");
  TCase *tc = tcase_create("mpi");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, collectives_on_two_ranks);
  tcase_add_test(tc, without_a_launcher_one_rank);
  tcase_add_test(tc, two_ranks_train_as_one_process);
  tcase_add_test(tc, two_runs_on_two_ranks_are_bit_identical);
  tcase_add_test(tc, accumulation_on_two_ranks_is_the_big_batch);
  tcase_add_test(tc, checkpoints_resume_on_another_number_of_ranks);
  tcase_add_test(tc, a_killed_rank_fails_the_run);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
