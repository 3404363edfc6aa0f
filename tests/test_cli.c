/* The ddpmx binary, run as a user runs it: exit codes and the lines it
 * prints, on the fixtures in data/cli/. Each test works in a fresh temporary
 * folder, so the default database results/ddpmx.db lands there. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ddpmx/plugin.h"
#include "dx_test.h"
#include "dxt_files.h"
#include "util/sha256.h"

#define MAX_ARGS 16

static char bin[PATH_MAX + 16], build[PATH_MAX], fixtures[PATH_MAX], workdir[64];

static void setup(void) {
  dxt_cli_setup(build, fixtures, workdir, "dx_cli_");
  snprintf(bin, sizeof bin, "%s/ddpmx", build);
}

static void teardown(void) { dxt_rmtree(workdir); }

/* --- running the binary ------------------------------------------------------------- */

typedef struct result {
  int code;
  char *out, *err;
} result;

static void redirect(const char *path, int fd) {
  int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (f < 0 || dup2(f, fd) < 0) _exit(127);
  close(f);
}

/* A resource limit (RLIMIT_FSIZE, RLIMIT_AS) for the next ddpmx() child; 0: none. */
static int limit_resource;
static rlim_t limit_value;

/* Runs `ddpmx args...` (NULL-terminated), stdout and stderr into files. */
static result ddpmx(const char *first, ...) {
  const char *argv[MAX_ARGS + 2] = {bin};
  va_list ap;
  va_start(ap, first);
  int n = 1;
  for (const char *a = first; a && n <= MAX_ARGS; a = va_arg(ap, const char *))
    argv[n++] = a;
  va_end(ap);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    redirect("cli.out", 1);
    redirect("cli.err", 2);
    struct rlimit rl = {limit_value, limit_value};
    if (limit_resource && setrlimit(limit_resource, &rl) != 0) _exit(126);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status), "ddpmx %s died of signal %d", first ? first : "",
                WTERMSIG(status));
  return (result){WEXITSTATUS(status), dxt_slurp("cli.out"), dxt_slurp("cli.err")};
}

static void result_free(result *r) {
  free(r->out);
  free(r->err);
}

#define HAS(text, part)                                                                            \
  ck_assert_msg(strstr((text), (part)) != NULL, "missing:\n%s\nin:\n%s", (part), (text))

static const char *fixture(const char *name) {
  static char path[2][PATH_MAX + 64];
  static int k;
  k ^= 1;
  snprintf(path[k], sizeof path[k], "%s/%s", fixtures, name);
  return path[k];
}

static const char *data_path(void) {
  static char arg[PATH_MAX + 64];
  snprintf(arg, sizeof arg, "data.path=%s/images", fixtures);
  return arg;
}

/* --- version, help, usage ----------------------------------------------------------- */

/* The version from the top-level CMakeLists.txt, read independently. */
static void project_version(char *buf, size_t len) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/../../../CMakeLists.txt", fixtures);
  char *cm = dxt_slurp(path), *v = strstr(cm, "project(ddpmx VERSION ");
  ck_assert_ptr_nonnull(v);
  v += strlen("project(ddpmx VERSION ");
  size_t n = strcspn(v, " )");
  snprintf(buf, len, "%.*s", (int)n, v);
  free(cm);
}

START_TEST(version_and_help) {
  char want[64], version[32];
  project_version(version, sizeof version);
  snprintf(want, sizeof want, "ddpmx %s\n", version);
  result r = ddpmx("--version", NULL);
  ck_assert_int_eq(r.code, 0);
  ck_assert_str_eq(r.out, want);
  result_free(&r);
  const char *cmds[] = {"run", "runs", "show", "export", "plugins"};
  for (size_t i = 0; i < 5; i++) {
    r = ddpmx(cmds[i], "--help", NULL);
    ck_assert_int_eq(r.code, 0);
    snprintf(want, sizeof want, "usage: ddpmx %s", cmds[i]);
    ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
    result_free(&r);
  }
  r = ddpmx("--help", NULL);
  ck_assert_int_eq(r.code, 0);
  for (size_t i = 0; i < 5; i++)
    HAS(r.out, cmds[i]);
  result_free(&r);
}
END_TEST

static const struct {
  const char *args[5];
  const char *err; /* the first line of stderr */
} usage_errors[] = {
    {{NULL}, "usage: ddpmx COMMAND [ARGS...]"},
    {{"frobnicate"}, "ddpmx: unknown command 'frobnicate'"},
    {{"run"}, "ddpmx run: no experiment file given"},
    {{"run", "x.yaml", "--bogus"}, "ddpmx run: unknown option '--bogus'"},
    {{"run", "a.yaml", "b.yaml"},
     "ddpmx run: 'b.yaml' is not KEY=VALUE (one experiment file per run)"},
    {{"runs", "--db"}, "ddpmx runs: option --db needs a value"},
    {{"runs", "extra"}, "ddpmx runs: unexpected argument 'extra'"},
    {{"show"}, "ddpmx show: which run? (an id or a name; see ddpmx runs)"},
    {{"export", "1"}, "ddpmx export: where to? (-o FILE.png)"},
    {{"export", "1", "-o", "x.png", "--step"}, "ddpmx export: option --step needs a value"},
    {{"export", "1", "-o", "x.png", "--step=abc"},
     "ddpmx export: --step needs a step number, not 'abc'"},
    {{"plugins", "a", "b"}, "ddpmx plugins: one plugin at a time ('b')"},
};

/* A command that computes restarts itself with OMP_WAIT_POLICY=passive, so
 * that libgomp, which reads its settings when it loads, never spins (its
 * spin count then reads 0); one that only reads the store does not, and a
 * policy the user set is left alone. libgomp prints its settings, the last
 * ones last, when OMP_DISPLAY_ENV=verbose. */
static const char *last_spincount(const char *err) {
  const char *at = NULL;
  for (const char *p = strstr(err, "GOMP_SPINCOUNT = "); p; p = strstr(p + 1, "GOMP_SPINCOUNT = "))
    at = p;
  ck_assert_msg(at != NULL, "no libgomp settings in:\n%s", err);
  return at + strlen("GOMP_SPINCOUNT = ");
}

START_TEST(computing_commands_wait_passively) {
  unsetenv("OMP_WAIT_POLICY"), unsetenv("GOMP_SPINCOUNT");
  setenv("OMP_DISPLAY_ENV", "verbose", 1);
  result r = ddpmx("run", "--help", NULL);
  ck_assert_int_eq(r.code, 0);
  ck_assert_msg(strncmp(last_spincount(r.err), "'0'", 3) == 0, "%s", r.err);
  result_free(&r);
  r = ddpmx("runs", "--help", NULL);
  ck_assert_msg(strncmp(last_spincount(r.err), "'0'", 3) != 0, "%s", r.err);
  result_free(&r);
  setenv("OMP_WAIT_POLICY", "active", 1);
  r = ddpmx("run", "--help", NULL);
  ck_assert_msg(strncmp(last_spincount(r.err), "'0'", 3) != 0, "%s", r.err);
  result_free(&r);
  unsetenv("OMP_WAIT_POLICY"), unsetenv("OMP_DISPLAY_ENV");
}
END_TEST

START_TEST(usage_error) {
  const char *const *a = usage_errors[_i].args;
  result r = ddpmx(a[0], a[1], a[2], a[3], a[4], NULL);
  ck_assert_int_eq(r.code, 2);
  size_t n = strcspn(r.err, "\n");
  ck_assert_msg(strlen(usage_errors[_i].err) == n && strncmp(r.err, usage_errors[_i].err, n) == 0,
                "want: %s\ngot: %s", usage_errors[_i].err, r.err);
  result_free(&r);
}
END_TEST

/* --- checking an experiment ---------------------------------------------------------- */

/* Each broken experiment: its exit code and the first line it prints,
 * whole (exact) or its start (for messages written by the config layer). */
static const struct {
  const char *file, *arg;
  int code;
  bool exact;
  const char *why; /* after "ddpmx run: <fixture path>" */
} broken[] = {
    {"bad_param.yaml", NULL, 3, true,
     ":3:33: parameter 's' of plugin 'cosine' is 1.5, outside [0, 1)\n"},
    {"wrong_kind.yaml", "--dry-run", 4, true,
     ":3:18: plugin 'linear' is a schedule, but diffusion.loss needs a loss\n"},
    {"bad_key.yaml", NULL, 3, false, ":4:3: unknown key 'lossy'"},
    {"no_such_file.yaml", NULL, 3, false, ""},
};

START_TEST(broken_experiment) {
  char want[2 * PATH_MAX];
  result r = ddpmx("run", fixture(broken[_i].file), broken[_i].arg, NULL);
  ck_assert_int_eq(r.code, broken[_i].code);
  snprintf(want, sizeof want, "ddpmx run: %s%s", fixture(broken[_i].file), broken[_i].why);
  if (broken[_i].exact)
    ck_assert_msg(strncmp(r.err, want, strlen(want)) == 0, "want: %s\ngot: %s", want, r.err);
  else
    ck_assert_msg(strncmp(r.err, want, strlen(want)) == 0, "%s", r.err);
  if (!(broken[_i].arg && strcmp(broken[_i].arg, "--dry-run") == 0))
    HAS(r.err, "ddpmx run: recorded as run 1, FAILED\n");
  bool dry = broken[_i].arg && strcmp(broken[_i].arg, "--dry-run") == 0;
  result_free(&r);
  if (dry) {
    ck_assert_int_ne(access("results", F_OK), 0); /* a dry run records nothing */
    return;
  }
  /* A real run records the failure as a run, with the reason (DESIGN 7). */
  r = ddpmx("show", "1", NULL);
  ck_assert_int_eq(r.code, 0);
  HAS(r.out, "  status   FAILED: ");
  result_free(&r);
}
END_TEST

START_TEST(missing_data_is_caught_before_any_work) {
  result r = ddpmx("run", fixture("tiny.yaml"), "data.path=/nonexistent/images", "--dry-run", NULL);
  ck_assert_int_eq(r.code, 3);
  HAS(r.err, "ddpmx run: data: ");
  HAS(r.err, "/nonexistent/images");
  ck_assert_int_ne(access("results", F_OK), 0); /* a dry run records nothing */
  result_free(&r);
}
END_TEST

START_TEST(override_names_its_place) {
  result r = ddpmx("run", fixture("tiny.yaml"), "diffusion.schedule.plugin=cosin", NULL);
  ck_assert_int_eq(r.code, 4);
  HAS(r.err, "ddpmx run: <command line>:1: plugin 'cosin' not found (did you mean 'cosine'?)");
  result_free(&r);
}
END_TEST

START_TEST(dry_run_prints_the_resolved_experiment) {
  char want[PATH_MAX + 128];
  result r = ddpmx("run", fixture("tiny.yaml"), data_path(), "--dry-run", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  HAS(r.out, "name: tiny\n");
  HAS(r.out, "s: 0.008"); /* the schedule's default, filled in */
  HAS(r.out, "# plugins resolved:\n");
  snprintf(want, sizeof want,
           "#   diffusion.schedule: cosine 1.0.0 (schedule) %s/plugins/cosine.so\n", build);
  HAS(r.out, want);
  HAS(r.err, "dry run of 'tiny'");
  ck_assert_int_ne(access("results", F_OK), 0);
  result_free(&r);
}
END_TEST

/* --- a run, and reading it back ------------------------------------------------------- */

/* An independent checksum, from coreutils. */
static void sha256sum(const char *path, char hex[65]) {
  char cmd[2 * PATH_MAX];
  snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  ck_assert_int_eq(fscanf(p, "%64s", hex), 1);
  pclose(p);
}

/* Width and height from a PNG's IHDR chunk, read by hand. */
static void png_size(const char *path, unsigned *w, unsigned *h) {
  unsigned char b[24];
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fread(b, 1, 24, f), 24);
  fclose(f);
  ck_assert(memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(b + 12, "IHDR", 4) == 0);
  *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
  *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
}

START_TEST(run_then_runs_show_export) {
  result r = ddpmx("run", fixture("tiny.yaml"), data_path(), NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  HAS(r.err, "run 1 'tiny' recorded\n");
  HAS(r.err, "run 1 FINISHED\n");
  result_free(&r);
  ck_assert_int_eq(access("results/ddpmx.db", F_OK), 0);

  r = ddpmx("runs", NULL);
  ck_assert_int_eq(r.code, 0);
  ck_assert_msg(strncmp(r.out, "ID  NAME  STATUS    STARTED", 27) == 0, "%s", r.out);
  char name[32], status[32], step[32];
  const char *line = strchr(r.out, '\n') + 1;
  ck_assert_int_eq(sscanf(line, "1 %31s %31s %*s %*s %31s", name, status, step), 3);
  ck_assert_str_eq(name, "tiny");
  ck_assert_str_eq(status, "FINISHED");
  ck_assert_str_eq(step, "4");
  result_free(&r);

  char want[2 * PATH_MAX], hex[65], so[PATH_MAX + 32];
  r = ddpmx("show", "tiny", NULL);
  ck_assert_int_eq(r.code, 0);
  HAS(r.out, "run 1: tiny\n  status   FINISHED\n");
  HAS(r.out, "  diffusion.schedule.plugin = cosine\n");
  HAS(r.out, "  diffusion.schedule.s = 0.008\n");
  snprintf(want, sizeof want, "  command  ddpmx run %s %s\n", fixture("tiny.yaml"), data_path());
  HAS(r.out, want);
  snprintf(so, sizeof so, "%s/plugins/cosine.so", build);
  sha256sum(so, hex);
  snprintf(want, sizeof want, "  schedule  cosine 1.0.0  %s  sha256 %s\n", so, hex);
  HAS(r.out, want);
  HAS(r.out, "\nsamples\n  step 4 ");
  result_free(&r);

  /* 4 images of 8x8, 2 a row, 2 pixels of padding around each: 22x22. */
  r = ddpmx("export", "1", "-o", "grid.png", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  unsigned w, h;
  png_size("grid.png", &w, &h);
  ck_assert_uint_eq(w, 22);
  ck_assert_uint_eq(h, 22);
  result_free(&r);

  r = ddpmx("export", "1", "--step", "3", "-o", "none.png", NULL);
  ck_assert_int_eq(r.code, 5);
  ck_assert_int_ne(access("none.png", F_OK), 0);
  result_free(&r);
  r = ddpmx("show", "7", NULL);
  ck_assert_int_eq(r.code, 5);
  result_free(&r);
}
END_TEST

/* ddpmx sample in passes of --batch images draws the images of one pass. */
START_TEST(sample_in_passes_gives_the_same_images) {
  result r = ddpmx("run", fixture("tiny.yaml"), data_path(), NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  result_free(&r);
  r = ddpmx("sample", "tiny", "--n", "5", "--steps", "3", "-o", "one.png", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  ck_assert_ptr_null(strstr(r.err, "images 1-"));
  result_free(&r);
  r = ddpmx("sample", "tiny", "--n", "5", "--steps", "3", "--batch", "2", "-o", "split.png", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  HAS(r.err, "images 1-2 of 5\n");
  HAS(r.err, "images 5-5 of 5\n");
  result_free(&r);
  char *a = dxt_slurp("one.png"), *b = dxt_slurp("split.png");
  struct stat sa, sb;
  ck_assert_int_eq(stat("one.png", &sa), 0);
  ck_assert_int_eq(stat("split.png", &sb), 0);
  ck_assert_int_eq(sa.st_size, sb.st_size);
  ck_assert_mem_eq(a, b, (size_t)sa.st_size);
  free(a), free(b);
}
END_TEST

/* --sampler NAME:KEY=VALUE,...: a parameter given as its default changes
 * nothing, another value changes the images, and a wrong one is named. */
START_TEST(sampler_parameters_on_the_command_line) {
  result r = ddpmx("run", fixture("tiny.yaml"), data_path(), NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  result_free(&r);
  const char *outs[3] = {"plain.png", "default.png", "noisy.png"};
  const char *specs[3] = {"ddim", "ddim:eta=0,clip=true", "ddim:eta=1"};
  for (int k = 0; k < 3; k++) {
    r = ddpmx("sample", "tiny", "--n", "4", "--steps", "3", "--sampler", specs[k], "-o", outs[k],
              NULL);
    ck_assert_msg(r.code == 0, "%s: %s", specs[k], r.err);
    result_free(&r);
  }
  struct stat sa, sb;
  ck_assert_int_eq(stat("plain.png", &sa), 0);
  ck_assert_int_eq(stat("default.png", &sb), 0);
  char *a = dxt_slurp("plain.png"), *b = dxt_slurp("default.png"), *c = dxt_slurp("noisy.png");
  ck_assert_int_eq(sa.st_size, sb.st_size);
  ck_assert_mem_eq(a, b, (size_t)sa.st_size);
  ck_assert_msg(stat("noisy.png", &sb) == 0 &&
                    (sb.st_size != sa.st_size || memcmp(a, c, (size_t)sa.st_size) != 0),
                "eta=1 drew the images of eta=0");
  free(a), free(b), free(c);
  const char *bad[3][2] = {{"ddim:etx=1", "has no parameter 'etx' (did you mean 'eta'?)"},
                           {"ddim:eta=2", "parameter 'eta' of plugin 'ddim' is 2, outside [0, 1]"},
                           {"ddim:eta", "'eta' is not KEY=VALUE"}};
  for (int k = 0; k < 3; k++) {
    r = ddpmx("sample", "tiny", "--n", "4", "--steps", "3", "--sampler", bad[k][0], NULL);
    ck_assert_int_eq(r.code, 3);
    HAS(r.err, "ddpmx sample: --sampler: ");
    HAS(r.err, bad[k][1]);
    result_free(&r);
  }
}
END_TEST

START_TEST(failed_run_is_recorded) {
  /* Missing data is caught before training starts: exit 3, and the run is
   * recorded FAILED with the reason. */
  result r =
      ddpmx("run", fixture("tiny.yaml"), "data.path=/nonexistent/images", "--db", "x.db", NULL);
  ck_assert_int_eq(r.code, 3);
  HAS(r.err, "ddpmx run: recorded as run 1, FAILED\n");
  result_free(&r);
  ck_assert_int_ne(access("results", F_OK), 0); /* --db, not the default */
  r = ddpmx("show", "1", "--db=x.db", NULL);
  ck_assert_int_eq(r.code, 0);
  HAS(r.out, "  status   FAILED: ");
  HAS(r.out, "/nonexistent/images");
  result_free(&r);
}
END_TEST

START_TEST(runs_without_database) {
  result r = ddpmx("runs", NULL);
  ck_assert_int_eq(r.code, 5);
  ck_assert_str_eq(r.err, "ddpmx runs: no results database at results/ddpmx.db (run an "
                          "experiment first, or name one with --db)\n");
  result_free(&r);
  ck_assert_int_ne(access("results", F_OK), 0);
}
END_TEST

/* `ddpmx run tiny.yaml` with overrides (NULL-terminated, at most 6), sent
 * `sig` once it reports step `at` (no sleeping: the test waits for that
 * line). Returns its wait status and sets *pid. */
static int signalled_run(const char *const *overrides, const char *at, int sig, pid_t *pid) {
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  *pid = fork();
  ck_assert_int_ge(*pid, 0);
  if (*pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    redirect("cli.out", 1);
    const char *argv[MAX_ARGS] = {bin, "run", fixture("tiny.yaml"), data_path()};
    for (int i = 0; overrides[i] && i < 6; i++)
      argv[4 + i] = overrides[i];
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  FILE *err = fdopen(fds[0], "r");
  char line[1024];
  bool signalled = false;
  while (fgets(line, sizeof line, err))
    if (!signalled && strncmp(line, at, strlen(at)) == 0) signalled = kill(*pid, sig) == 0;
  fclose(err);
  int status;
  ck_assert_int_eq(waitpid(*pid, &status, 0), *pid);
  ck_assert(signalled);
  return status;
}

/* A long run, stopped by a signal once it reports its first step. */
static int interrupted_run(int sig) {
  pid_t pid;
  const char *const overrides[] = {"train.steps=1000000", NULL};
  int status = signalled_run(overrides, "step 1/", sig, &pid);
  ck_assert(WIFEXITED(status));
  return WEXITSTATUS(status);
}

START_TEST(signal_ends_run_killed) {
  ck_assert_int_eq(interrupted_run(SIGINT), 130);
  ck_assert_int_eq(interrupted_run(SIGTERM), 143);
  result r = ddpmx("runs", NULL);
  HAS(r.out, "KILLED");
  result_free(&r);
  r = ddpmx("show", "1", NULL);
  HAS(r.out, "  status   KILLED: interrupted by SIGINT\n");
  HAS(r.out, "\ncheckpoints\n  step ");
  result_free(&r);
  r = ddpmx("show", "2", NULL);
  HAS(r.out, "  status   KILLED: interrupted by SIGTERM\n");
  result_free(&r);
}
END_TEST

/* kill -9 at step 45 of 120 (checkpoints every 20): the row stays RUNNING,
 * but runs and show call it LOST, and resume carries it from step 40 to the
 * end with each step's loss logged once. */
START_TEST(a_killed_run_is_lost_then_resumed) {
  pid_t pid;
  const char *const overrides[] = {"train.steps=120", "checkpoint.every=20", "log.every=5",
                                   "sample.every=0", NULL};
  int status = signalled_run(overrides, "step 45/", SIGKILL, &pid);
  ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  result r = ddpmx("runs", NULL);
  HAS(r.out, " LOST ");
  result_free(&r);
  r = ddpmx("show", "1", NULL);
  char want[128];
  snprintf(want, sizeof want, "  status   LOST: its process (pid %d on ", (int)pid);
  HAS(r.out, want);
  HAS(r.out, "resume with: ddpmx resume 1\n");
  result_free(&r);
  r = ddpmx("resume", "1", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  HAS(r.err, "ddpmx resume: run 1 'tiny' from step ");
  HAS(r.err, "ddpmx resume: run 1 FINISHED\n");
  result_free(&r);
  r = ddpmx("runs", NULL);
  HAS(r.out, " FINISHED ");
  result_free(&r);
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open("results/ddpmx.db", &db), SQLITE_OK);
  sqlite3_stmt *q;
  ck_assert_int_eq(sqlite3_prepare_v2(db,
                                      "SELECT count(*), count(DISTINCT step), min(step), max(step)"
                                      " FROM metrics WHERE name = 'loss'",
                                      -1, &q, NULL),
                   SQLITE_OK);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  static const int want_rows[4] = {24, 24, 5, 120};
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(sqlite3_column_int(q, i), want_rows[i]);
  sqlite3_finalize(q);
  sqlite3_close(db);
}
END_TEST

/* Eight runs started at once on one new database: each finishes, with all
 * its rows, and the file is sound. */
START_TEST(eight_runs_share_one_database) {
  enum { RUNS = 8 };
  pid_t pid[RUNS];
  for (int i = 0; i < RUNS; i++) {
    pid[i] = fork();
    ck_assert_int_ge(pid[i], 0);
    if (pid[i] == 0) {
      char name[32], out[32];
      snprintf(name, sizeof name, "name=w%d", i);
      snprintf(out, sizeof out, "cli%d.out", i);
      redirect(out, 1);
      redirect(out, 2);
      const char *argv[] = {bin,
                            "run",
                            fixture("tiny.yaml"),
                            data_path(),
                            name,
                            "train.steps=12",
                            "checkpoint.every=6",
                            "sample.every=6",
                            NULL};
      execv(bin, (char *const *)argv);
      _exit(127);
    }
  }
  for (int i = 0; i < RUNS; i++) {
    int status;
    ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
    char out[32];
    snprintf(out, sizeof out, "cli%d.out", i);
    char *text = dxt_slurp(out);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "run w%d: %s", i, text);
    free(text);
  }
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open("results/ddpmx.db", &db), SQLITE_OK);
  const char *checks[][2] = {
      {"PRAGMA integrity_check", "ok"},
      {"SELECT count(*) || '|' || sum(status = 'FINISHED') || '|' || count(DISTINCT name) FROM "
       "runs",
       "8|8|8"},
      /* Per run: 12 loss rows (log every 1), grids at 6 and 12, checkpoints at 6 and 12. */
      {"SELECT group_concat(n, ',') FROM (SELECT r.id,"
       " (SELECT count(DISTINCT step) FROM metrics WHERE run_id = r.id AND name = 'loss') || '/'"
       " || (SELECT count(*) FROM samples WHERE run_id = r.id) || '/'"
       " || (SELECT count(*) FROM checkpoints WHERE run_id = r.id) AS n FROM runs r ORDER BY r.id)",
       "12/2/2,12/2/2,12/2/2,12/2/2,12/2/2,12/2/2,12/2/2,12/2/2"},
  };
  for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_prepare_v2(db, checks[i][0], -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), checks[i][1]);
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
}
END_TEST

/* --- a full disk ---------------------------------------------------------------------- */

static sqlite3 *results_db(void) {
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open("results/ddpmx.db", &db), SQLITE_OK);
  return db;
}

/* The first column of the first row of sql, as text (the caller frees). */
static char *sql_text(sqlite3 *db, const char *sql) {
  sqlite3_stmt *q;
  ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  char *v = strdup((const char *)sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  return v;
}

static void sql_is(sqlite3 *db, const char *sql, const char *want) {
  char *got = sql_text(db, sql);
  ck_assert_msg(strcmp(got, want) == 0, "%s: %s, not %s", sql, got, want);
  free(got);
}

/* A checkpoint that cannot be written (files limited to 250 kB; the tiny
 * run's checkpoints are about 300 kB): the run ends FAILED with the reason,
 * the checkpoint before stays as it was, no temporary is left, the database
 * is sound, and a resume without the limit finishes the run. */
START_TEST(a_checkpoint_that_cannot_be_written_fails_the_run) {
  pid_t pid;
  const char *const overrides[] = {"train.steps=200", "checkpoint.every=4", "sample.every=0", NULL};
  int status = signalled_run(overrides, "step 5/", SIGKILL, &pid);
  ck_assert(WIFSIGNALED(status));
  sqlite3 *db = results_db();
  char *path = sql_text(db, "SELECT path FROM checkpoints ORDER BY step DESC LIMIT 1");
  char *sha = sql_text(db, "SELECT sha256 FROM checkpoints ORDER BY step DESC LIMIT 1");
  sqlite3_close(db);

  limit_resource = RLIMIT_FSIZE, limit_value = 250 << 10;
  result r = ddpmx("resume", "1", NULL);
  limit_resource = 0;
  ck_assert_int_eq(r.code, 1);
  HAS(r.err, "ddpmx resume: run 1 FAILED: ");
  HAS(r.err, ".safetensors: cannot write: File too large\n");
  result_free(&r);
  char hex[65], err[256];
  ck_assert_int_eq(dx_sha256_file(path, hex, err, sizeof err), DX_OK);
  ck_assert_str_eq(hex, sha);
  char *slash = strrchr(path, '/'), cmd[PATH_MAX + 64];
  *slash = '\0';
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp", path);
  ck_assert_int_ne(system(cmd), 0); /* grep found nothing */
  db = results_db();
  sql_is(db, "PRAGMA integrity_check", "ok");
  sql_is(db, "SELECT status || ' ' || (error LIKE '%cannot write: File too large') FROM runs",
         "FAILED 1");
  sqlite3_close(db);
  free(path), free(sha);

  r = ddpmx("resume", "1", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  result_free(&r);
}
END_TEST

/* A checkpoint changed since it was recorded is refused with one line, and
 * the run resumes from the one before it. */
START_TEST(a_damaged_checkpoint_is_refused_for_the_one_before) {
  pid_t pid;
  const char *const overrides[] = {"train.steps=200", "checkpoint.every=4", "sample.every=0", NULL};
  int status = signalled_run(overrides, "step 9/", SIGKILL, &pid);
  ck_assert(WIFSIGNALED(status));
  sqlite3 *db = results_db();
  char *path = sql_text(db, "SELECT path FROM checkpoints ORDER BY step DESC LIMIT 1");
  char *last = sql_text(db, "SELECT max(step) FROM checkpoints");
  char *before = sql_text(
      db, "SELECT max(step) FROM checkpoints WHERE step < (SELECT max(step) FROM checkpoints)");
  sqlite3_close(db);
  FILE *f = fopen(path, "r+b");
  ck_assert_ptr_nonnull(f);
  fseek(f, -1, SEEK_END);
  int c = fgetc(f);
  fseek(f, -1, SEEK_END);
  fputc(c ^ 1, f); /* one bit of the last tensor */
  fclose(f);
  result r = ddpmx("resume", "1", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  char want[PATH_MAX + 128];
  snprintf(want, sizeof want,
           "ddpmx resume: refusing the checkpoint of step %s: %s: its SHA-256 is ", last, path);
  HAS(r.err, want);
  HAS(r.err, " recorded when it was written\n");
  snprintf(want, sizeof want, "ddpmx resume: run 1 'tiny' from step %s (", before);
  HAS(r.err, want);
  HAS(r.err, "ddpmx resume: run 1 FINISHED\n");
  result_free(&r);
  free(path), free(last), free(before);
}
END_TEST

/* The database cannot grow (files limited to its size plus 48 kB): the run
 * ends FAILED, saying why and what limit it met, and the file is sound. */
START_TEST(a_database_that_cannot_grow_fails_the_run) {
  result r = ddpmx("run", fixture("tiny.yaml"), data_path(), NULL);
  ck_assert_int_eq(r.code, 0);
  result_free(&r);
  struct stat sb;
  ck_assert_int_eq(stat("results/ddpmx.db", &sb), 0);
  limit_resource = RLIMIT_FSIZE, limit_value = (rlim_t)sb.st_size + (48 << 10);
  r = ddpmx("run", fixture("tiny.yaml"), data_path(), "train.steps=400", "checkpoint.every=0",
            NULL);
  limit_resource = 0;
  ck_assert_int_eq(r.code, 1);
  HAS(r.err, "ddpmx run: run 2 FAILED: writing metrics: cannot ");
  HAS(r.err, "disk I/O error (results/ddpmx.db; files may not grow past ");
  result_free(&r);
  sqlite3 *db = results_db();
  sql_is(db, "PRAGMA integrity_check", "ok");
  sql_is(db,
         "SELECT status || ' ' || (error LIKE 'writing metrics: cannot %') FROM runs WHERE id = 2",
         "FAILED 1");
  sqlite3_close(db);
}
END_TEST

/* A model too large for the memory left (here a 4 GB address-space limit;
 * one weight of the 8192-channel level is 2.4 GB) is refused, before its
 * weights are written, with a line that names the size it asked for. An
 * AddressSanitizer build reserves terabytes of shadow memory and cannot run
 * under such a limit. */
START_TEST(a_model_too_large_for_memory_is_refused) {
#ifndef __SANITIZE_ADDRESS__
  limit_resource = RLIMIT_AS, limit_value = (rlim_t)4 << 30;
  result r = ddpmx("run", fixture("tiny.yaml"), data_path(), "model.dim=1024",
                   "model.dim_mults=[8]", "model.attention=[null]", NULL);
  limit_resource = 0;
  ck_assert_int_eq(r.code, 1);
  HAS(r.err, "ddpmx run: run 1 FAILED: model: out of memory: a tensor of shape (");
  HAS(r.err, " GB with its gradient, and only ");
  HAS(r.err, " of memory is left\n");
  result_free(&r);
#endif
}
END_TEST

/* --- plugins ------------------------------------------------------------------------------ */

START_TEST(plugins_lists_good_and_broken) {
  char dir[PATH_MAX + 32], want[2 * PATH_MAX];
  snprintf(dir, sizeof dir, "%s/tests/plugins", build);
  setenv("DDPMX_PLUGIN_PATH", dir, 1);
  result r = ddpmx("plugins", NULL);
  ck_assert_int_eq(r.code, 0);
  ck_assert_msg(strncmp(r.out, "KIND ", 5) == 0, "%s", r.out);
  /* Columns are padded to the widest cell: compare field by field. */
  const char *line = strstr(r.out, "\nschedule  good_sched ");
  ck_assert_ptr_nonnull(line);
  char kind[32], name[64], version[32], path[PATH_MAX], summary[64];
  ck_assert_int_eq(
      sscanf(line, " %31s %63s %31s %4095s %63[^\n]", kind, name, version, path, summary), 5);
  snprintf(want, sizeof want, "%s/good_sched.so", dir);
  ck_assert_str_eq(version, "1.2.3");
  ck_assert_str_eq(path, want);
  ck_assert_str_eq(summary, "a schedule for tests");
  HAS(r.out, "\nbroken (refused by the loader):\n");
  snprintf(want, sizeof want,
           "\n  %s/wrong_abi.so: built for plugin ABI version 99, but this ddpmx uses version 2; "
           "rebuild the plugin against this ddpmx\n",
           dir);
  HAS(r.out, want);
  snprintf(want, sizeof want, "\n  %s/bad.so: not a shared object (invalid ELF header)\n", dir);
  HAS(r.out, want);
  result_free(&r);

  r = ddpmx("plugins", "good_sched", NULL);
  ck_assert_int_eq(r.code, 0);
  HAS(r.out, "NAME\n    good_sched - a schedule for tests\n");
  HAS(r.out, "    steps\n        int, default 10, range [1, 1000], unit: steps\n");
  result_free(&r);

  r = ddpmx("plugins", "wrong_abi", NULL);
  ck_assert_int_eq(r.code, 4);
  HAS(r.err, "rebuild the plugin against this ddpmx\n");
  result_free(&r);
}
END_TEST

/* --- devices: the backend registry and its module (core/backend/registry.c) ----------- */

static bool cuda_module_built(void) {
  char path[2][PATH_MAX + 64];
  snprintf(path[0], sizeof path[0], "%s/core/libddpmx_cuda.so", build);
  snprintf(path[1], sizeof path[1], "%s/core/backend/cuda/libddpmx_cuda.so", build);
  return access(path[0], F_OK) == 0 || access(path[1], F_OK) == 0;
}

/* DDPMX_CUDA_MODULE: a file under the build tree, or path as it is. */
static void use_module(const char *under_build) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", build, under_build);
  setenv("DDPMX_CUDA_MODULE", under_build[0] == '/' ? under_build : path, 1);
}

static result run_on(const char *device) {
  return ddpmx("run", fixture("tiny.yaml"), data_path(), device, "--db", "x.db", NULL);
}

/* `ddpmx show 1` has every line of want. */
static void shows(const char *const *want, int n) {
  result r = ddpmx("show", "1", "--db=x.db", NULL);
  ck_assert_int_eq(r.code, 0);
  for (int i = 0; i < n; i++)
    HAS(r.out, want[i]);
  result_free(&r);
}

START_TEST(device_cuda_without_the_module) {
  if (cuda_module_built()) return; /* this build has one: the other tests cover it */
  unsetenv("DDPMX_CUDA_MODULE");
  result r = run_on("device=cuda");
  ck_assert_int_eq(r.code, 6);
  const char *why = "device cuda:0: this build of ddpmx has no CUDA module (libddpmx_cuda.so was "
                    "not built: it needs nvcc, the CUDA runtime, cuBLAS and cuDNN at build time); "
                    "use device: cpu";
  char want[1024];
  snprintf(want, sizeof want, "ddpmx run: run 1 'tiny' recorded\nddpmx run: run 1 FAILED: %s\n",
           why);
  ck_assert_str_eq(r.err, want); /* one line says why */
  result_free(&r);
  snprintf(want, sizeof want, "  status   FAILED: %s\n", why);
  shows((const char *[]){want}, 1);
}
END_TEST

/* auto: the CPU when there is no module, it cannot be found, or it finds
 * no device. */
START_TEST(device_auto_without_a_gpu_runs_on_the_cpu) {
  const char *modules[] = {NULL, "/nonexistent/libddpmx_cuda.so", "tests/modules/fake_cuda.so"};
  if (!modules[_i] && cuda_module_built()) return; /* it may find a GPU */
  if (modules[_i])
    use_module(modules[_i]);
  else
    unsetenv("DDPMX_CUDA_MODULE");
  setenv("FAKE_CUDA_DEVICES", "0", 1);
  result r = run_on("device=auto");
  ck_assert_msg(r.code == 0, "%s", r.err);
  HAS(r.err, "run 1 FINISHED\n");
  result_free(&r);
  shows((const char *[]){"  device = auto\n", "  run.device = cpu\n", "  run.device_name = cpu\n"},
        3);
}
END_TEST

START_TEST(device_auto_takes_the_gpu) {
  use_module("tests/modules/fake_cuda.so");
  result r = run_on("device=auto");
  ck_assert_msg(r.code == 0, "%s", r.err);
  HAS(r.err, "run 1 FINISHED\n");
  result_free(&r);
  shows((const char *[]){"  run.device = cuda:0\n", "  run.device_name = Fake GPU 0\n"}, 2);
}
END_TEST

/* Every logged loss of run 1 in db, in step order, into v (at most max). */
static int losses(const char *db, double *v, int max) {
  sqlite3 *h;
  sqlite3_stmt *q;
  ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
  ck_assert_int_eq(sqlite3_prepare_v2(h,
                                      "SELECT value FROM metrics WHERE run_id = 1 AND name = 'loss'"
                                      " ORDER BY step",
                                      -1, &q, NULL),
                   SQLITE_OK);
  int n = 0;
  while (n < max && sqlite3_step(q) == SQLITE_ROW)
    v[n++] = sqlite3_column_double(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(h);
  return n;
}

/* The fake device's uploads ahead land only when the trainer finishes them
 * (as a GPU's second stream would): were a batch used before that, the
 * losses would leave the CPU's. With train.accumulate the trainer stages
 * each micro-batch during the one before, across steps too. */
static const char *const ahead_runs[] = {"train.accumulate=1", "train.accumulate=2"};
START_TEST(uploads_ahead_give_the_cpu_losses) {
  use_module("tests/modules/fake_cuda.so");
  const char *dev[2] = {"device=cpu", "device=cuda"}, *db[2] = {"a.db", "b.db"};
  double v[2][64];
  int n[2];
  for (int k = 0; k < 2; k++) {
    result r = ddpmx("run", fixture("tiny.yaml"), data_path(), dev[k], "train.steps=6",
                     ahead_runs[_i], "--db", db[k], NULL);
    ck_assert_msg(r.code == 0, "%s", r.err);
    result_free(&r);
    n[k] = losses(db[k], v[k], 64);
  }
  ck_assert_int_gt(n[0], 2);
  ck_assert_int_eq(n[0], n[1]);
  for (int i = 0; i < n[0]; i++)
    ck_assert_msg(v[0][i] == v[1][i], "step %d: cpu %.17g, fake cuda %.17g", i + 1, v[0][i],
                  v[1][i]);
}
END_TEST

/* The experiment's cuda section reaches the module that opens the device
 * (the fake one writes what it got after the GPU's name). */
START_TEST(cuda_settings_reach_the_device) {
  use_module("tests/modules/fake_cuda.so");
  result r =
      ddpmx("run", fixture("tiny.yaml"), data_path(), "device=cuda", "cuda.deterministic=false",
            "cuda.tf32=true", "cuda.pool_mb=64", "--db", "x.db", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  result_free(&r);
  shows((const char *[]){"  run.device_name = Fake GPU 0 [fastest tf32 pool 64 MiB]\n"}, 1);
  r = ddpmx("run", fixture("tiny.yaml"), data_path(), "device=cuda", "cuda.tf32=yes", "--db",
            "y.db", NULL);
  ck_assert_int_eq(r.code, 3);
  HAS(r.err, "<command line>:3:");
  HAS(r.err, "cuda.tf32");
  result_free(&r);
}
END_TEST

/* The real libddpmx_cuda.so, where it is built: without a GPU, device=cuda
 * fails the run in one line (exit 6) and auto runs on the CPU; with one,
 * both run on cuda:0. */
START_TEST(real_cuda_module) {
  if (!cuda_module_built()) return; /* device_cuda_without_the_module covers that build */
  unsetenv("DDPMX_CUDA_MODULE");
  result r = run_on("device=cuda");
  bool gpu = r.code == 0;
  if (gpu) {
    HAS(r.err, "run 1 FINISHED\n");
  } else {
    ck_assert_msg(r.code == 6, "exit %d: %s", r.code, r.err);
    const char *why = "ddpmx run: run 1 FAILED: device cuda:0: no CUDA device found";
    HAS(r.err, why);
    const char *failed = strstr(r.err, "FAILED: ");
    ck_assert_msg(strchr(failed, '\n') == strrchr(r.err, '\n'), "more than one line:\n%s", failed);
  }
  result_free(&r);
  shows((const char *[]){gpu ? "  status   FINISHED"
                             : "  status   FAILED: device cuda:0: no CUDA device found"},
        1);
  r = ddpmx("run", fixture("tiny.yaml"), data_path(), "device=auto", "--db", "y.db", NULL);
  ck_assert_msg(r.code == 0, "%s", r.err);
  result_free(&r);
  r = ddpmx("show", "1", "--db=y.db", NULL);
  HAS(r.out, gpu ? "  run.device = cuda:0\n" : "  run.device = cpu\n");
  result_free(&r);
}
END_TEST

static const struct {
  const char *module, *devices, *abi, *device, *why;
} device_errors[] = {
    {"/nonexistent/libddpmx_cuda.so", "1", NULL, "device=cuda",
     "device cuda:0: DDPMX_CUDA_MODULE names /nonexistent/libddpmx_cuda.so, which does not exist"},
    {"tests/plugins/bad.so", "1", NULL, "device=cuda",
     "device cuda:0: cannot load the CUDA module: "},
    {"tests/plugins/good_loss.so", "1", NULL, "device=cuda:1",
     "/tests/plugins/good_loss.so is not a ddpmx backend module (no dx_backend_module_create)"},
    {"tests/modules/fake_cuda.so", "0", NULL, "device=cuda",
     "device cuda:0: no CUDA device found (fake)"},
    {"tests/modules/fake_cuda.so", "2", NULL, "device=cuda:2",
     "device cuda:2: cuda:2 is out of range: there are 2 CUDA devices (cuda:0 to cuda:1)"},
    {"tests/modules/fake_cuda.so", "1", "999", "device=cuda",
     "fake_cuda.so returned a backend table of ABI 999, but libddpmx uses ABI 3: rebuild ddpmx"},
};

START_TEST(device_errors_fail_the_run) {
  use_module(device_errors[_i].module);
  setenv("FAKE_CUDA_DEVICES", device_errors[_i].devices, 1);
  if (device_errors[_i].abi) setenv("FAKE_CUDA_ABI", device_errors[_i].abi, 1);
  result r = run_on(device_errors[_i].device);
  ck_assert_msg(r.code == 6, "exit %d: %s", r.code, r.err);
  HAS(r.err, "ddpmx run: run 1 FAILED: ");
  HAS(r.err, device_errors[_i].why);
  const char *failed = strstr(r.err, "FAILED: ");
  ck_assert_msg(strchr(failed, '\n') == strrchr(r.err, '\n'), "more than one line:\n%s", failed);
  result_free(&r);
  shows((const char *[]){"  status   FAILED: ", device_errors[_i].why}, 2);
}
END_TEST

/* A device reports a failed kernel at the next synchronize, not where it
 * happened: the run must end FAILED with the device's message, never log a
 * number read from a failed device. */
START_TEST(failing_synchronize_fails_the_run) {
  use_module("tests/modules/fake_cuda.so");
  setenv("FAKE_CUDA_FAIL", "adam", 1);
  result r = run_on("device=cuda");
  ck_assert_msg(r.code == 6, "exit %d: %s", r.code, r.err);
  const char *why = "cuda:0 (Fake GPU 0): an illegal memory access was encountered\n";
  HAS(r.err, "ddpmx run: run 1 FAILED: ");
  HAS(r.err, why);
  result_free(&r);
  shows((const char *[]){"  status   FAILED: ", "an illegal memory access was encountered",
                         "  run.device = cuda:0\n"},
        3);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cli");
  TCase *tc = tcase_create("cli");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, version_and_help);
  tcase_add_test(tc, computing_commands_wait_passively);
  tcase_add_loop_test(tc, usage_error, 0, DX_COUNT(usage_errors));
  tcase_add_loop_test(tc, broken_experiment, 0, sizeof broken / sizeof broken[0]);
  tcase_add_test(tc, missing_data_is_caught_before_any_work);
  tcase_add_test(tc, override_names_its_place);
  tcase_add_test(tc, dry_run_prints_the_resolved_experiment);
  tcase_add_test(tc, run_then_runs_show_export);
  tcase_add_test(tc, sample_in_passes_gives_the_same_images);
  tcase_add_test(tc, sampler_parameters_on_the_command_line);
  tcase_add_test(tc, failed_run_is_recorded);
  tcase_add_test(tc, runs_without_database);
  tcase_add_test(tc, signal_ends_run_killed);
  tcase_add_test(tc, a_killed_run_is_lost_then_resumed);
  tcase_add_test(tc, eight_runs_share_one_database);
  tcase_add_test(tc, a_checkpoint_that_cannot_be_written_fails_the_run);
  tcase_add_test(tc, a_database_that_cannot_grow_fails_the_run);
  tcase_add_test(tc, a_damaged_checkpoint_is_refused_for_the_one_before);
  tcase_add_test(tc, a_model_too_large_for_memory_is_refused);
  tcase_add_test(tc, plugins_lists_good_and_broken);
  tcase_add_test(tc, device_cuda_without_the_module);
  tcase_add_loop_test(tc, device_auto_without_a_gpu_runs_on_the_cpu, 0, 3);
  tcase_add_test(tc, device_auto_takes_the_gpu);
  tcase_add_test(tc, cuda_settings_reach_the_device);
  tcase_add_loop_test(tc, uploads_ahead_give_the_cpu_losses, 0, DX_COUNT(ahead_runs));
  tcase_add_test(tc, real_cuda_module);
  tcase_add_loop_test(tc, device_errors_fail_the_run, 0, DX_COUNT(device_errors));
  tcase_add_test(tc, failing_synchronize_fails_the_run);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
