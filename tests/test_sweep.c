/* Sweeps, run comparison and the HTML report, run as a user runs them: the
 * ddpmx binary on the tiny fixture of data/cli/, checked against what the
 * database holds (read here with SQLite directly) and against the text and
 * markup the commands write. Each test works in a fresh temporary folder. */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_cli.h"
#include "dxt_files.h"

static char fixtures[PATH_MAX], workdir[64], tiny[PATH_MAX + 16], data_arg[PATH_MAX + 32];

static void setup(void) {
  dxt_ddpmx();
  ck_assert_ptr_nonnull(realpath("data/cli", fixtures));
  snprintf(tiny, sizeof tiny, "%s/tiny.yaml", fixtures);
  snprintf(data_arg, sizeof data_arg, "data.path=%s/images", fixtures);
  snprintf(workdir, sizeof workdir, "/tmp/dx_sweep_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(workdir));
  ck_assert_int_eq(chdir(workdir), 0);
  unsetenv("DDPMX_PLUGIN_PATH");
  setenv("DDPMX_THREADS", "2", 1);
}

static void teardown(void) { dxt_rmtree(workdir); }

#define HAS(text, part)                                                                            \
  ck_assert_msg(strstr((text), (part)) != NULL, "missing:\n%s\nin:\n%s", (part), (text))

/* ---- the database, read without ddpmx --------------------------------------------- */

/* All rows of a query, columns joined by '|', one line a row (caller frees). */
static char *query(const char *db_path, const char *sql) {
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000); /* the cells may be writing */
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
    ck_abort_msg("%s: %s", sql, sqlite3_errmsg(db));
  while (sqlite3_step(q) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(q); i++) {
      const unsigned char *v = sqlite3_column_text(q, i);
      fprintf(f, "%s%s", i ? "|" : "", v ? (const char *)v : "");
    }
    fputc('\n', f);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  fclose(f);
  return out;
}

static void assert_query(const char *db, const char *sql, const char *want) {
  char *got = query(db, sql);
  ck_assert_msg(strcmp(got, want) == 0, "%s\ngot:\n%swant:\n%s", sql, got, want);
  free(got);
}

static double query_double(const char *db, const char *sql) {
  char *got = query(db, sql);
  double v = strtod(got, NULL);
  free(got);
  return v;
}

/* ---- the sweeps the tests share ------------------------------------------------------ */

#define SCHEDULES "diffusion.schedule.plugin=linear,cosine"
#define LOSSES "diffusion.loss.plugin=mse,huber"

/* Schedule x loss on the tiny fixture: 12 steps, a grid every 4. */
static dxt_out schedule_by_loss(const char *extra) {
  const char *argv[] = {"sweep",  tiny, data_arg, SCHEDULES, LOSSES, "train.steps=12",
                        "--jobs", "2",  "--db",   "s.db",    extra,  NULL};
  return dxt_cli(argv);
}

/* In the order of the cells: the last axis varies fastest. */
static const char *const cell_names =
    "tiny[diffusion.schedule.plugin=linear,diffusion.loss.plugin=mse]\n"
    "tiny[diffusion.schedule.plugin=linear,diffusion.loss.plugin=huber]\n"
    "tiny[diffusion.schedule.plugin=cosine,diffusion.loss.plugin=mse]\n"
    "tiny[diffusion.schedule.plugin=cosine,diffusion.loss.plugin=huber]\n";

/* ---- sweep --------------------------------------------------------------------------------- */

START_TEST(sweep_runs_the_product_named_by_cell) {
  dxt_out o = schedule_by_loss("--dry-run");
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_str_eq(o.out, cell_names);
  ck_assert_int_ne(access("s.db", F_OK), 0); /* --dry-run records nothing */
  dxt_out_free(&o);

  o = schedule_by_loss(NULL);
  ck_assert_msg(o.code == 0, "%s", o.err);
  HAS(o.err, "4 cells: 0 done or running, 4 to start, 0 to resume; 2 at a time, 1 thread each\n");
  dxt_out_free(&o);
  char want[4 * PATH_MAX];
  snprintf(want, sizeof want,
           "1|tiny-sweep|%s|[{\"key\": \"diffusion.schedule.plugin\", \"values\": [\"linear\", "
           "\"cosine\"]},"
           " {\"key\": \"diffusion.loss.plugin\", \"values\": [\"mse\", \"huber\"]}]|[\"%s\", "
           "\"train.steps=12\"]\n",
           tiny, data_arg);
  assert_query("s.db", "SELECT id, name, file, axes, overrides FROM sweeps", want);
  assert_query(
      "s.db",
      "SELECT name || '|' || cell || '|' || sweep_id || '|' || status FROM runs ORDER BY name",
      "tiny[diffusion.schedule.plugin=cosine,diffusion.loss.plugin=huber]|"
      "diffusion.schedule.plugin=cosine,diffusion.loss.plugin=huber|1|FINISHED\n"
      "tiny[diffusion.schedule.plugin=cosine,diffusion.loss.plugin=mse]|"
      "diffusion.schedule.plugin=cosine,diffusion.loss.plugin=mse|1|FINISHED\n"
      "tiny[diffusion.schedule.plugin=linear,diffusion.loss.plugin=huber]|"
      "diffusion.schedule.plugin=linear,diffusion.loss.plugin=huber|1|FINISHED\n"
      "tiny[diffusion.schedule.plugin=linear,diffusion.loss.plugin=mse]|"
      "diffusion.schedule.plugin=linear,diffusion.loss.plugin=mse|1|FINISHED\n");
  /* Each cell ran with its own values: the recorded parameters say so. */
  assert_query(
      "s.db",
      "SELECT count(*) FROM runs r WHERE r.cell = 'diffusion.schedule.plugin=' ||"
      " (SELECT value FROM params WHERE run_id = r.id AND key = 'diffusion.schedule.plugin')"
      " || ',diffusion.loss.plugin=' ||"
      " (SELECT value FROM params WHERE run_id = r.id AND key = 'diffusion.loss.plugin')"
      " AND (SELECT value FROM params WHERE run_id = r.id AND key = 'train.steps') = '12'",
      "4\n");

  /* The same sweep again: nothing to do, nothing recorded. */
  o = schedule_by_loss(NULL);
  ck_assert_msg(o.code == 0, "%s", o.err);
  HAS(o.err, "4 cells: 4 done or running, 0 to start, 0 to resume");
  HAS(o.err, "ddpmx sweep: nothing to do\n");
  dxt_out_free(&o);
  assert_query("s.db", "SELECT count(*), count(DISTINCT sweep_id) FROM runs", "4|1\n");
  assert_query("s.db", "SELECT count(*) FROM sweeps", "1\n");
}
END_TEST

START_TEST(list_values_stay_lists) {
  const char *argv[] = {"sweep",    tiny,        data_arg, "train.betas=[0.9,0.999],[0.5,0.9]",
                        "seed=0,1", "--dry-run", NULL};
  dxt_out o = dxt_cli(argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_str_eq(o.out, "tiny[train.betas=[0.9,0.999],seed=0]\n"
                          "tiny[train.betas=[0.9,0.999],seed=1]\n"
                          "tiny[train.betas=[0.5,0.9],seed=0]\n"
                          "tiny[train.betas=[0.5,0.9],seed=1]\n");
  dxt_out_free(&o);
}
END_TEST

START_TEST(a_bad_cell_is_found_before_any_starts) {
  const char *argv[] = {"sweep", tiny,   data_arg, "train.lr=1e-3,2e-3,3e-3,4e-3,5",
                        "--db",  "s.db", NULL};
  dxt_out o = dxt_cli(argv);
  ck_assert_int_eq(o.code, 3);
  HAS(o.err, "ddpmx sweep: cell 5 [train.lr=5]: <command line>:2: train.lr: 5 is out of range");
  HAS(o.err, "ddpmx sweep: nothing started\n");
  ck_assert_int_ne(access("s.db", F_OK), 0);
  dxt_out_free(&o);
}
END_TEST

START_TEST(a_failed_cell_does_not_stop_the_others) {
  const char *argv[] = {"sweep", tiny,   data_arg, "checkpoint.dir=/proc/nope,ck,ck2",
                        "--db",  "s.db", NULL};
  dxt_out o = dxt_cli(argv);
  ck_assert_int_eq(o.code, 1);
  HAS(o.err, "[1/3] ddpmx run: run 1 FAILED: /proc/nope");
  HAS(o.err, "[3/3] ddpmx run: run 3 FINISHED\n");
  dxt_out_free(&o);
  assert_query("s.db", "SELECT id, cell, status, error LIKE '%/proc/nope%' FROM runs ORDER BY id",
               "1|checkpoint.dir=/proc/nope|FAILED|1\n2|checkpoint.dir=ck|FINISHED|\n"
               "3|checkpoint.dir=ck2|FINISHED|\n");
}
END_TEST

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* ---- killed and resumed ------------------------------------------------------------------ */

static const char *const seed_sweep[] = {
    "sweep", NULL,   NULL,   "seed=0,1", "train.steps=1000", "checkpoint.every=0", "--jobs",
    "2",     "--db", "k.db", NULL};

/* Starts the seed sweep, waits until both cells have trained a step, and
 * kills the sweep itself with SIGKILL. */
static void start_and_kill(void) {
  const char *argv[sizeof seed_sweep / sizeof seed_sweep[0]];
  memcpy(argv, seed_sweep, sizeof argv);
  argv[1] = tiny, argv[2] = data_arg;
  int fd;
  pid_t pid = dxt_cli_start(argv, "sweep.out", &fd);
  FILE *err = fdopen(fd, "r");
  char line[1024];
  bool one = false, two = false;
  while ((!one || !two) && fgets(line, sizeof line, err)) {
    one = one || strncmp(line, "[1/2] step ", 11) == 0;
    two = two || strncmp(line, "[2/2] step ", 11) == 0;
  }
  ck_assert_msg(one && two, "the cells never reported a step");
  ck_assert_int_eq(kill(pid, SIGKILL), 0);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  fclose(err);
  /* The cells learn that the sweep died (SIGTERM) and stop with a
   * checkpoint; wait for them to say so in the database. */
  for (int i = 0; i < 600; i++) {
    char *n = query("k.db", "SELECT count(*) FROM runs WHERE status = 'RUNNING'");
    bool done = strcmp(n, "0\n") == 0;
    free(n);
    if (done) break;
    nanosleep(&(struct timespec){0, 50000000}, NULL);
  }
}

START_TEST(killed_cells_resume) {
  start_and_kill();
  assert_query("k.db", "SELECT id, status, error FROM runs ORDER BY id",
               "1|KILLED|interrupted by SIGTERM\n2|KILLED|interrupted by SIGTERM\n");
  assert_query("k.db", "SELECT count(DISTINCT run_id) FROM checkpoints", "2\n");
  const char *argv[sizeof seed_sweep / sizeof seed_sweep[0]];
  memcpy(argv, seed_sweep, sizeof argv);
  argv[1] = tiny, argv[2] = data_arg;
  dxt_out o = dxt_cli(argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  HAS(o.err, "2 cells: 0 done or running, 0 to start, 2 to resume");
  HAS(o.err, "ddpmx resume: run 1 FINISHED\n");
  HAS(o.err, "ddpmx resume: run 2 FINISHED\n");
  dxt_out_free(&o);
  /* The same two runs, resumed, each with one loss per logged step. */
  assert_query("k.db",
               "SELECT r.id, r.status, max(m.step), count(m.step) FROM runs r JOIN metrics m"
               " ON m.run_id = r.id AND m.name = 'loss' GROUP BY r.id ORDER BY r.id",
               "1|FINISHED|1000|1000\n2|FINISHED|1000|1000\n");

  /* Over a seed axis the report gives each variant's mean and sd. */
  const char *rep[] = {"report", "--db", "k.db", "-o", "k.html", NULL};
  o = dxt_cli(rep);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
  char *html = dxt_slurp("k.html");
  double a =
      query_double("k.db", "SELECT value FROM last_metrics WHERE run_id = 1 AND metric = 'loss'");
  double b =
      query_double("k.db", "SELECT value FROM last_metrics WHERE run_id = 2 AND metric = 'loss'");
  char want[128];
  snprintf(want, sizeof want, "%.5g ± %.2g", (a + b) / 2, fabs(a - b) / sqrt(2.0));
  HAS(html, "Mean ± standard deviation over seeds");
  HAS(html, want);
  free(html);
}
END_TEST

/* A cell killed on its own (kill -9 of its process, not of the sweep): the
 * sweep goes on, the run is left RUNNING with its process gone, which reads
 * LOST, and the next sweep resumes it from its last checkpoint. */
START_TEST(a_lost_cell_is_resumed) {
  const char *argv[] = {
      "sweep", tiny,   data_arg, "seed=0,1", "train.steps=1000", "checkpoint.every=20", "--jobs",
      "2",     "--db", "l.db",   NULL};
  int fd;
  pid_t sweep = dxt_cli_start(argv, "sweep.out", &fd);
  FILE *err = fdopen(fd, "r");
  char line[1024];
  int64_t pid = 0;
  while (!pid && fgets(line, sizeof line, err)) {
    if (strncmp(line, "[1/2] step 21/", 14) != 0) continue; /* past its first checkpoint */
    char *p = query("l.db", "SELECT pid FROM runs WHERE cell = 'seed=0'");
    pid = strtoll(p, NULL, 10);
    free(p);
  }
  ck_assert_int_gt(pid, 0);
  ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
  while (fgets(line, sizeof line, err)) {
  }
  fclose(err);
  int status;
  ck_assert_int_eq(waitpid(sweep, &status, 0), sweep);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1); /* not every cell finished */
  const char *lost[] = {"runs", "--db", "l.db", "--status", "lost", NULL};
  dxt_out o = dxt_cli(lost);
  ck_assert_int_eq(count_lines(o.out), 2);
  HAS(o.out, "tiny[seed=0]");
  dxt_out_free(&o);

  o = dxt_cli(argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  HAS(o.err, "2 cells: 1 done or running, 0 to start, 1 to resume");
  HAS(o.err, "[1/2] ddpmx resume: run ");
  dxt_out_free(&o);
  assert_query("l.db",
               "SELECT r.cell, r.status, max(m.step), count(m.step) FROM runs r JOIN metrics m"
               " ON m.run_id = r.id AND m.name = 'loss' GROUP BY r.id ORDER BY r.cell",
               "seed=0|FINISHED|1000|1000\nseed=1|FINISHED|1000|1000\n");
}
END_TEST

/* ---- runs, show ------------------------------------------------------------------------------ */

START_TEST(runs_filters_and_show_sparkline) {
  dxt_out o = schedule_by_loss(NULL);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
  const char *a1[] = {"runs",   "--db",    "s.db",     "--sweep",  "tiny-sweep",
                      "--name", "*huber*", "--status", "finished", NULL};
  o = dxt_cli(a1);
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_int_eq(count_lines(o.out), 3); /* the header and two runs */
  ck_assert_ptr_null(strstr(o.out, "loss.plugin=mse"));
  dxt_out_free(&o);
  const char *a2[] = {"runs", "--db", "s.db", "--status", "failed", NULL};
  o = dxt_cli(a2);
  ck_assert_str_eq(o.out, "no runs match\n");
  dxt_out_free(&o);
  const char *a3[] = {"runs", "--db", "s.db", "--sweep", "sweep:2", NULL};
  o = dxt_cli(a3);
  ck_assert_int_ne(o.code, 0);
  HAS(o.err, "no sweep 'sweep:2'");
  dxt_out_free(&o);

  /* The sparkline: with fewer points than characters, one bar a point,
   * its height (v - min) / (max - min) in eighths. */
  static const char *const bars[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  char *values =
      query("s.db", "SELECT value FROM metrics WHERE run_id = 1 AND name = 'loss' ORDER BY step");
  double v[12], lo = INFINITY, hi = -INFINITY;
  int n = 0;
  for (char *p = values; *p && n < 12; p = strchr(p, '\n') + 1)
    v[n] = strtod(p, NULL), lo = fmin(lo, v[n]), hi = fmax(hi, v[n]), n++;
  ck_assert_int_eq(n, 12);
  char want[256] = "loss curve           ";
  for (int i = 0; i < n; i++)
    strcat(want, bars[(int)((v[i] - lo) / (hi - lo) * 7.0 + 0.5)]);
  free(values);
  const char *a4[] = {"show", "1", "--db", "s.db", NULL};
  o = dxt_cli(a4);
  ck_assert_msg(o.code == 0, "%s", o.err);
  HAS(o.out, want);
  dxt_out_free(&o);
}
END_TEST

/* ---- compare ----------------------------------------------------------------------------------
 */

/* The whitespace-separated words of the line of `text` that starts with
 * `first` (a table row), joined by single spaces. */
static void row_words(const char *text, const char *first, char *out, size_t len) {
  out[0] = '\0';
  for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    size_t n = strlen(first);
    if (strncmp(l, first, n) != 0 || (l[n] != ' ' && l[n] != '\n')) continue;
    size_t used = 0;
    for (const char *c = l; *c && *c != '\n' && used + 1 < len;) {
      if (*c == ' ') {
        while (*c == ' ')
          c++;
        if (*c && *c != '\n') out[used++] = ' ';
      } else {
        out[used++] = *c++;
      }
    }
    out[used] = '\0';
    return;
  }
}

START_TEST(compare_prints_what_differs_and_the_metrics) {
  dxt_out o = schedule_by_loss(NULL);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
  char *ids = query("s.db", "SELECT id FROM runs WHERE cell IN"
                            " ('diffusion.schedule.plugin=linear,diffusion.loss.plugin=mse',"
                            "  'diffusion.schedule.plugin=cosine,diffusion.loss.plugin=huber')"
                            " ORDER BY cell DESC");
  int64_t a = 0, b = 0;
  ck_assert_int_eq(sscanf(ids, "%ld\n%ld", &a, &b), 2); /* linear/mse, then cosine/huber */
  free(ids);
  char ra[32], rb[32];
  snprintf(ra, sizeof ra, "%ld", a);
  snprintf(rb, sizeof rb, "%ld", b);
  const char *argv[] = {"compare", ra, rb, "--db", "s.db", NULL};
  o = dxt_cli(argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  char row[512], want[512];
  row_words(o.out, "diffusion.loss.plugin", row, sizeof row);
  ck_assert_str_eq(row, "diffusion.loss.plugin mse huber");
  row_words(o.out, "diffusion.schedule.plugin", row, sizeof row);
  ck_assert_str_eq(row, "diffusion.schedule.plugin linear cosine");
  /* Exactly those two: the parameter table ends at the blank line. */
  const char *params = strstr(o.out, "PARAMETER"), *end = strstr(params, "\n\n");
  int rows = 0;
  for (const char *c = params; c < end; c++)
    rows += *c == '\n';
  ck_assert_int_eq(rows, 3); /* header, two parameters, and the note on plugin parameters */
  HAS(o.out, "parameters of the plugins that differ");

  char sql[160];
  snprintf(sql, sizeof sql, "SELECT value FROM last_metrics WHERE run_id = %ld AND metric = 'loss'",
           a);
  double la = query_double("s.db", sql);
  snprintf(sql, sizeof sql, "SELECT value FROM last_metrics WHERE run_id = %ld AND metric = 'loss'",
           b);
  double lb = query_double("s.db", sql);
  row_words(o.out, "loss", row, sizeof row);
  snprintf(want, sizeof want, "loss %.5g %.5g %+.3g (%+.1f%%) run %ld", la, lb, lb - la,
           100 * (lb - la) / la, lb < la ? b : a);
  ck_assert_str_eq(row, want);
  dxt_out_free(&o);

  const char *one[] = {"compare", ra, rb, "--metric", "loss_q4", "--db", "s.db", NULL};
  o = dxt_cli(one);
  ck_assert_msg(o.code == 0, "%s", o.err);
  const char *metrics = strstr(o.out, "METRIC");
  ck_assert_int_eq(count_lines(metrics), 2);
  HAS(metrics, "\nloss_q4 ");
  dxt_out_free(&o);
  const char *bad[] = {"compare", ra, rb, "--metric", "nope", "--db", "s.db", NULL};
  o = dxt_cli(bad);
  ck_assert_int_eq(o.code, 1);
  HAS(o.err, "none of the runs logged a metric 'nope'");
  dxt_out_free(&o);
}
END_TEST

/* ---- report -------------------------------------------------------------------------------- */

/* The markup between the first `open` and the `close` after it (a copy). */
static char *section(const char *html, const char *open, const char *close) {
  const char *a = strstr(html, open);
  ck_assert_msg(a != NULL, "no %s in the report", open);
  const char *b = strstr(a, close);
  ck_assert_msg(b != NULL, "no %s after %s", close, open);
  return strndup(a, (size_t)(b - a));
}

static int count(const char *s, const char *part) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, part)); p += strlen(part))
    n++;
  return n;
}

/* Curves in a chart: non-pale lines and dots, and the runs they belong to. */
static void curves(const char *html, const char *metric, int *n, int *runs) {
  char open[128];
  snprintf(open, sizeof open,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"chart-%s\"", metric);
  char *svg = section(html, open, "</svg>");
  *n = count(svg, "class=\"curve\"");
  int64_t seen[16];
  *runs = 0;
  for (const char *p = svg; (p = strstr(p, "class=\"curve\" data-run=\"")); p++) {
    int64_t id = strtoll(p + strlen("class=\"curve\" data-run=\""), NULL, 10);
    bool known = false;
    for (int i = 0; i < *runs; i++)
      known = known || seen[i] == id;
    if (!known && *runs < 16) seen[(*runs)++] = id;
  }
  free(svg);
}

static unsigned char *unbase64(const char *s, size_t *len) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strcspn(s, "\"");
  unsigned char *out = malloc(n);
  ck_assert_ptr_nonnull(out);
  *len = 0;
  unsigned v = 0;
  int bits = 0;
  for (size_t i = 0; i < n && s[i] != '='; i++) {
    const char *d = strchr(digits, s[i]);
    ck_assert_msg(d && s[i], "not base64: %c", s[i]);
    v = v << 6 | (unsigned)(d - digits), bits += 6;
    if (bits >= 8) out[(*len)++] = (unsigned char)(v >> (bits - 8)), bits -= 8;
  }
  return out;
}

START_TEST(report_shows_the_runs_what_differs_curves_and_grids) {
  dxt_out o = schedule_by_loss(NULL);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
  const char *argv[] = {"report", "tiny-sweep", "--db", "s.db", "-o", "r.html", NULL};
  o = dxt_cli(argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  HAS(o.err, "ddpmx report: 4 runs, 2 differing parameters: r.html\n");
  dxt_out_free(&o);
  char *html = dxt_slurp("r.html");

  /* Self-contained: no script, no style sheet or image from elsewhere. */
  ck_assert_ptr_null(strstr(html, "<script"));
  ck_assert_ptr_null(strstr(html, "<link"));
  ck_assert_ptr_null(strstr(html, "src=\"http"));
  ck_assert_ptr_null(strstr(html, "url("));
  ck_assert_int_eq(count(html, "src=\""), count(html, "src=\"data:image/png;base64,"));

  /* The runs table: the four runs, and as parameters only the two axes. */
  char *runs = section(html, "<table class=\"runs\">", "</table>");
  ck_assert_int_eq(count(runs, "<tr data-run="), 4);
  ck_assert_int_eq(count(runs, "<th class=\"param\">"), 2);
  HAS(runs, "<th class=\"param\">diffusion.loss.plugin</th><th "
            "class=\"param\">diffusion.schedule.plugin</th>");
  char *names = query("s.db", "SELECT name FROM runs");
  for (char *p = names, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
    *nl = '\0';
    HAS(runs, p);
  }
  free(names);
  free(runs);

  /* Four curves a panel, one per run; the loss also as logged (pale). */
  const char *metrics[] = {"loss", "grad_norm", "lr", "loss_q1", "loss_q2", "loss_q3", "loss_q4"};
  for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++) {
    int n, distinct;
    curves(html, metrics[k], &n, &distinct);
    ck_assert_msg(n == 4 && distinct == 4, "%s: %d curves of %d runs", metrics[k], n, distinct);
  }
  char *loss = section(html, "id=\"chart-loss\"", "</svg>");
  ck_assert_int_eq(count(loss, "class=\"curve raw\""), 4);
  ck_assert_int_eq(count(loss, "class=\"legend\""), 1);
  ck_assert_int_eq(count(loss, "class=\"ticks\""), 1);
  free(loss);
  HAS(html, "No run logged bits/dim");

  /* Final metrics: each run, and one best per column that has a direction. */
  char *final = section(html, "<table class=\"metrics\">", "</table>");
  ck_assert_int_eq(count(final, "<tr data-run="), 4);
  ck_assert_int_eq(count(final, "class=\"num best\""),
                   count(final, " ↓</th>") + count(final, " ↑</th>"));
  free(final);
  ck_assert_ptr_null(strstr(html, "over seeds")); /* no seed axis here */

  /* Grids: a row per step (4, 8, 12), a column per run, each the stored PNG. */
  char *grids = section(html, "<table class=\"grids\">", "</table>");
  ck_assert_int_eq(count(grids, "<tr><th>"), 4); /* the runs' heads, then steps 4, 8, 12 */
  ck_assert_int_eq(count(grids, "<img "), 12);
  const char *first = strstr(grids, "<tbody><tr><th>4<br>");
  ck_assert_ptr_nonnull(first);
  const char *img =
      strstr(first, "src=\"data:image/png;base64,") + strlen("src=\"data:image/png;base64,");
  int64_t run = strtoll(strstr(first, "alt=\"run ") + strlen("alt=\"run "), NULL, 10);
  size_t len;
  unsigned char *png = unbase64(img, &len);
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT hex(png) FROM samples WHERE run_id = %ld AND step = 4", run);
  char *want = query("s.db", sql), *got = malloc(2 * len + 2);
  for (size_t i = 0; i < len; i++)
    sprintf(got + 2 * i, "%02X", png[i]);
  strcpy(got + 2 * len, "\n");
  ck_assert_str_eq(got, want);
  free(want), free(got), free(png), free(grids);

  /* Each panel shows its SQL, and the SQL names the runs shown. */
  ck_assert_int_ge(count(html, "<summary>SQL</summary>"), 10);
  HAS(html, "WHERE name = &#39;loss&#39; AND run_id IN (1, 2, 3, 4)");
  free(html);

  /* No argument: the newest sweep. */
  const char *latest[] = {"report", "--db", "s.db", "-o", "latest.html", NULL};
  o = dxt_cli(latest);
  ck_assert_msg(o.code == 0, "%s", o.err);
  HAS(o.err, "4 runs");
  dxt_out_free(&o);
}
END_TEST

int main(void) {
  Suite *s = suite_create("sweep");
  TCase *tc = tcase_create("sweep");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, sweep_runs_the_product_named_by_cell);
  tcase_add_test(tc, list_values_stay_lists);
  tcase_add_test(tc, a_bad_cell_is_found_before_any_starts);
  tcase_add_test(tc, a_failed_cell_does_not_stop_the_others);
  tcase_add_test(tc, killed_cells_resume);
  tcase_add_test(tc, a_lost_cell_is_resumed);
  tcase_add_test(tc, runs_filters_and_show_sparkline);
  tcase_add_test(tc, compare_prints_what_differs_and_the_metrics);
  tcase_add_test(tc, report_shows_the_runs_what_differs_curves_and_grids);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
