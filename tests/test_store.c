/* The run store: schema, migration, refusals, runs, batched metrics, views,
 * the CLI's queries, the example queries of docs/store.md, SHA-256, and what
 * happens with two writers at once or a writer killed mid-batch.
 *
 * What the store wrote is read back with plain SQLite on a connection of the
 * test's own, and compared with rows worked out by hand. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dx_test.h"
#include "store/grid.h"
#include "store/store.h"
#include "util/sha256.h"

/* ---- helpers ---------------------------------------------------------- */

typedef struct tmp {
  char dir[32];
  char db[64];
} tmp;

static void tmp_make(tmp *t) {
  snprintf(t->dir, sizeof t->dir, "/tmp/dxstore-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(t->dir));
  snprintf(t->db, sizeof t->db, "%s/ddpmx.db", t->dir);
}

static void tmp_clean(tmp *t) {
  DIR *d = opendir(t->dir);
  if (!d) return;
  struct dirent *e;
  char path[512];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      snprintf(path, sizeof path, "%s/%s", t->dir, e->d_name);
      unlink(path);
    }
  closedir(d);
  rmdir(t->dir);
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

static sqlite3 *raw_open(const char *path) {
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  return db;
}

/* All rows of a query as the sqlite3 shell prints them: columns joined by
 * '|', NULL as nothing, one line a row. The caller frees. */
static char *rows(sqlite3 *db, const char *sql) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
    ck_abort_msg("%s\n  in: %s", sqlite3_errmsg(db), sql);
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(q); i++) {
      const unsigned char *v = sqlite3_column_text(q, i);
      fprintf(f, "%s%s", i ? "|" : "", v ? (const char *)v : "");
    }
    fputc('\n', f);
  }
  if (rc != SQLITE_DONE) ck_abort_msg("%s\n  in: %s", sqlite3_errmsg(db), sql);
  sqlite3_finalize(q);
  fclose(f);
  return out;
}

static void assert_rows(sqlite3 *db, const char *sql, const char *want) {
  char *got = rows(db, sql);
  ck_assert_msg(strcmp(got, want) == 0, "query: %s\ngot:\n%swant:\n%s", sql, got, want);
  free(got);
}

static dx_store *open_ok(const char *path) {
  dx_store *st;
  char err[DX_ERRMSG_MAX];
  dx_status s = dx_store_open(path, &st, err, sizeof err);
  ck_assert_msg(s == DX_OK, "open %s: %s", path, err);
  return st;
}

static void close_ok(dx_store *st) {
  char err[DX_ERRMSG_MAX];
  ck_assert_msg(dx_store_close(st, err, sizeof err) == DX_OK, "%s", err);
}

/* A fresh folder with a new store in it. */
static dx_store *fresh(tmp *t) {
  tmp_make(t);
  return open_ok(t->db);
}

#define OK(st, call) ck_assert_msg((call) == DX_OK, "%s: %s", #call, dx_store_errmsg(st))

static int64_t begin(dx_store *st, const char *name, const char *const *kv, size_t n) {
  const char *keys[16], *values[16];
  ck_assert_uint_le(n, 16);
  for (size_t i = 0; i < n; i++)
    keys[i] = kv[2 * i], values[i] = kv[2 * i + 1];
  dx_run_info info = {.name = name,
                      .seed = 7,
                      .experiment_yaml = "name: x\n",
                      .experiment_json = "{\"name\":\"x\"}",
                      .host = "testhost",
                      .command_line = "ddpmx run x.yaml",
                      .param_keys = keys,
                      .param_values = values,
                      .n_params = n};
  int64_t id = 0;
  OK(st, dx_store_run_begin(st, &info, &id));
  return id;
}

static void hex_fill(char hex[65], char c) {
  memset(hex, c, 64);
  hex[64] = '\0';
}

/* ---- the fixture: three runs with known numbers ------------------------- */

#define PARAMS(sched, loss, sampler, T, lr, batch)                                                 \
  {                                                                                                \
    "diffusion.schedule.plugin", sched, "diffusion.loss.plugin", loss, "diffusion.sampler.plugin", \
        sampler, "model.block.plugin", "resnet", "diffusion.T", T, "train.lr", lr, "train.batch",  \
        batch, "train.steps", "300", "model.dim", "32"                                             \
  }

static void log_series(dx_store *st, int64_t run, const char *name, const int64_t *steps,
                       const double *values, int n) {
  for (int i = 0; i < n; i++)
    OK(st, dx_store_log_metric(st, run, steps[i], name, values[i]));
}

/* Four gray 8x8 images, nrow 2: a 22x22 grid. */
static void add_gray_grid(dx_store *st, int64_t run, int64_t step, const char *tag, float v) {
  float x[4 * 64];
  for (int i = 0; i < 4 * 64; i++)
    x[i] = v;
  OK(st, dx_store_add_grid(st, run, step, tag, x, 4, 1, 8, 8, 2));
}

static void fill_fixture(dx_store *st) {
  const char *p1[] = PARAMS("linear", "mse", "beta", "1000", "0.0002", "64");
  const char *p2[] = PARAMS("cosine", "huber", "beta_tilde", "1000", "0.0001", "64");
  const char *p3[] = PARAMS("cosine", "mse", "beta", "500", "0.0002", "32");
  const int64_t steps[] = {100, 200, 300}, bpd_steps[] = {200, 300}, nan_steps[] = {100, 150};
  int64_t r1 = begin(st, "linear_mse", p1, 9);
  int64_t r2 = begin(st, "cosine_huber", p2, 9);
  int64_t r3 = begin(st, "cosine_mse", p3, 9);
  log_series(st, r1, "loss", steps, (double[]){0.5, 0.25, 0.125}, 3);
  log_series(st, r2, "loss", steps, (double[]){0.75, 0.5, 0.375}, 3);
  log_series(st, r1, "bpd", bpd_steps, (double[]){4.5, 4.25}, 2);
  log_series(st, r2, "bpd", bpd_steps, (double[]){4.0, 3.75}, 2);
  log_series(st, r3, "loss", nan_steps, (double[]){1.0, NAN}, 2);

  char h1[65], h2[65];
  hex_fill(h1, '1');
  hex_fill(h2, '2');
  OK(st, dx_store_add_plugin(
             st, r2, &(dx_store_plugin){"schedule", "cosine", "1.0", "/plugins/cosine.so", h1}));
  OK(st, dx_store_add_plugin(st, r2,
                             &(dx_store_plugin){"loss", "huber", "1.0", "/plugins/huber.so", h2}));
  add_gray_grid(st, r2, 200, "ema", 0.0f);
  add_gray_grid(st, r2, 300, "ema", 1.0f);
  float rgb[2 * 3 * 64] = {0};
  OK(st, dx_store_add_grid(st, r2, 300, "raw", rgb, 2, 3, 8, 8, 2));
  OK(st, dx_store_add_checkpoint(st, r2, 300, "/ck/cosine_huber-300.safetensors", h1));
  OK(st, dx_store_add_checkpoint(st, r2, 100, "/ck/cosine_huber-100.safetensors", h2));

  OK(st, dx_store_run_end(st, r1, DX_RUN_FINISHED, NULL));
  OK(st, dx_store_run_end(st, r2, DX_RUN_FINISHED, NULL));
  OK(st, dx_store_run_end(st, r3, DX_RUN_FAILED, "loss is NaN at step 150"));
}

/* ---- SHA-256 ---------------------------------------------------------- */

/* FIPS 180-2, appendix B, and the empty message. */
START_TEST(sha256_vectors) {
  struct {
    const char *msg, *hex;
  } v[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  char hex[65];
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    dx_sha256_hex(v[i].msg, strlen(v[i].msg), hex);
    ck_assert_str_eq(hex, v[i].hex);
  }
  /* Runs of 'a' around the padding boundaries (55/56 bytes fit one block or
   * spill into two), digests from Python's hashlib. */
  struct {
    size_t n;
    const char *hex;
  } runs[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
  };
  char a[997];
  memset(a, 'a', sizeof a);
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    dx_sha256_hex(a, runs[i].n, hex);
    ck_assert_str_eq(hex, runs[i].hex);
  }
  /* A million 'a's (FIPS 180-2 B.3), fed in uneven pieces. */
  dx_sha256 c;
  dx_sha256_init(&c);
  size_t left = 1000000;
  for (size_t k = 1; left > 0; k = (k * 31 + 7) % sizeof a + 1) {
    size_t n = k < left ? k : left;
    dx_sha256_update(&c, a, n);
    left -= n;
  }
  uint8_t d[32];
  dx_sha256_final(&c, d);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
  ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(sha256_file) {
  tmp t;
  tmp_make(&t);
  char path[96], hex[65], err[DX_ERRMSG_MAX];
  snprintf(path, sizeof path, "%s/abc", t.dir);
  write_file(path, "abc", 3);
  ck_assert_int_eq(dx_sha256_file(path, hex, err, sizeof err), DX_OK);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  /* Larger than the read buffer: must equal the hash of the same bytes. */
  size_t n = 200000;
  uint8_t *big = malloc(n);
  for (size_t i = 0; i < n; i++)
    big[i] = (uint8_t)(i * 7 + i / 251);
  write_file(path, big, n);
  char want[65];
  dx_sha256_hex(big, n, want);
  ck_assert_int_eq(dx_sha256_file(path, hex, err, sizeof err), DX_OK);
  ck_assert_str_eq(hex, want);
  free(big);
  ck_assert_int_eq(dx_sha256_file("/nonexistent/x.so", hex, err, sizeof err), DX_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.so"));
  tmp_clean(&t);
}
END_TEST

/* ---- schema ----------------------------------------------------------- */

static const char objects_sql[] =
    "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name";

START_TEST(create_schema) {
  tmp t;
  dx_store *st = fresh(&t);
  assert_rows(dx_store_db(st), "PRAGMA foreign_keys", "1\n");
  close_ok(st);
  sqlite3 *db = raw_open(t.db);
  assert_rows(db, "PRAGMA application_id", "1145327704\n"); /* 0x44445058 */
  assert_rows(db, "PRAGMA user_version", "4\n");
  assert_rows(db, "PRAGMA journal_mode", "wal\n");
  assert_rows(db, objects_sql,
              "index|metrics_by_run_name_step\nindex|runs_by_sweep_cell\n"
              "table|checkpoints\ntable|metrics\ntable|params\ntable|plugins\n"
              "table|runs\ntable|samples\ntable|sweeps\n"
              "view|last_metrics\nview|runs_overview\n");
  /* The CHECK keeps statuses to the four known ones. */
  ck_assert_int_ne(sqlite3_exec(db,
                                "INSERT INTO runs (name, seed, ddpmx_version, status)"
                                " VALUES ('x', 0, '0', 'PAUSED')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  /* Opening again changes nothing. */
  close_ok(open_ok(t.db));
  db = raw_open(t.db);
  assert_rows(db, "PRAGMA user_version", "4\n");
  sqlite3_close(db);
  tmp_clean(&t);
}
END_TEST

START_TEST(migrate_v1_to_latest) {
  tmp t;
  tmp_make(&t);
  dx_store *st;
  char err[DX_ERRMSG_MAX];
  ck_assert_int_eq(dx_store_open_at_version(t.db, 1, &st, err, sizeof err), DX_OK);
  /* Rows as a ddpmx of schema 1 wrote them: this code writes columns that
   * schema 1 does not have. */
  ck_assert_int_eq(
      sqlite3_exec(dx_store_db(st),
                   "INSERT INTO runs (name, seed, ddpmx_version, status)"
                   "  VALUES ('old', 7, '0.1', 'FINISHED');"
                   "INSERT INTO params VALUES (1, 'diffusion.schedule.plugin', 'linear'),"
                   "  (1, 'train.lr', '0.001');"
                   "INSERT INTO metrics VALUES (1, 10, 'loss', 3.0, 1), (1, 20, 'loss', 2.0, 2),"
                   "  (1, 30, 'loss', 1.5, 3);"
                   "INSERT INTO checkpoints (run_id, step, path, sha256)"
                   "  VALUES (1, 30, '/ck/old-30', 'ab')",
                   NULL, NULL, NULL),
      SQLITE_OK);
  close_ok(st);

  sqlite3 *db = raw_open(t.db);
  assert_rows(db, "PRAGMA user_version", "1\n");
  assert_rows(db,
              "SELECT count(*) FROM sqlite_master WHERE type IN ('view', 'index')"
              " AND name NOT LIKE 'sqlite_%'",
              "0\n");
  sqlite3_close(db);

  close_ok(open_ok(t.db));
  db = raw_open(t.db);
  assert_rows(db, "PRAGMA user_version", "4\n");
  assert_rows(db, "SELECT id, name, status, pid, world_size, hosts, sweep_id, cell FROM runs",
              "1|old|FINISHED||1|||\n");
  assert_rows(db, "SELECT count(*) FROM sweeps", "0\n");
  assert_rows(db, "SELECT key, value FROM params ORDER BY key",
              "diffusion.schedule.plugin|linear\ntrain.lr|0.001\n");
  assert_rows(db, "SELECT step, value FROM metrics ORDER BY step", "10|3.0\n20|2.0\n30|1.5\n");
  assert_rows(db, "SELECT run_name, metric, step, value FROM last_metrics", "old|loss|30|1.5\n");
  assert_rows(db, "SELECT name, schedule, lr, last_loss FROM runs_overview",
              "old|linear|0.001|1.5\n");
  sqlite3_close(db);
  tmp_clean(&t);
}
END_TEST

static void sha_of(const char *path, char hex[65]) {
  char err[DX_ERRMSG_MAX];
  ck_assert_int_eq(dx_sha256_file(path, hex, err, sizeof err), DX_OK);
}

/* Opening fails with a message containing `want`, and the file is untouched. */
static void assert_refused(const char *path, const char *want) {
  char before[65], after[65], err[DX_ERRMSG_MAX];
  sha_of(path, before);
  dx_store *st = (dx_store *)1;
  ck_assert_int_eq(dx_store_open(path, &st, err, sizeof err), DX_ERR_DB);
  ck_assert_ptr_null(st);
  ck_assert_msg(strstr(err, want) && strstr(err, path), "message: %s", err);
  sha_of(path, after);
  ck_assert_str_eq(before, after);
}

START_TEST(refuse_foreign_files) {
  tmp t;
  tmp_make(&t);
  char path[96];
  sqlite3 *db;

  snprintf(path, sizeof path, "%s/other.db", t.dir);
  ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA application_id = 1234; CREATE TABLE t (x)", NULL, NULL, NULL);
  sqlite3_close(db);
  assert_refused(path, "another program");

  snprintf(path, sizeof path, "%s/plain.db", t.dir);
  ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE notes (x)", NULL, NULL, NULL);
  sqlite3_close(db);
  assert_refused(path, "another program");

  snprintf(path, sizeof path, "%s/text.db", t.dir);
  const char text[] = "name: not a database, but long enough to have a header of sorts\n";
  write_file(path, text, sizeof text);
  assert_refused(path, "not an SQLite database");

  close_ok(open_ok(t.db));
  db = raw_open(t.db);
  sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
  sqlite3_close(db);
  assert_refused(t.db, "schema version 99, newer than this ddpmx knows (4)");
  db = raw_open(t.db);
  sqlite3_exec(db, "PRAGMA user_version = -3", NULL, NULL, NULL);
  sqlite3_close(db);
  assert_refused(t.db, "schema version -3, which no ddpmx writes");

  dx_store *st;
  char err[DX_ERRMSG_MAX];
  ck_assert_int_eq(dx_store_open("/nonexistent/dir/x.db", &st, err, sizeof err), DX_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "cannot open /nonexistent/dir/x.db"));
  ck_assert_int_eq(
      dx_store_open_at_version(t.db, DX_STORE_SCHEMA_VERSION + 1, &st, err, sizeof err),
      DX_ERR_INVALID);
  tmp_clean(&t);
}
END_TEST

/* ---- writing ---------------------------------------------------------- */

START_TEST(run_lifecycle) {
  tmp t;
  dx_store *st = fresh(&t);
  sqlite3 *db = raw_open(t.db);
  const char *kv[] = {"train.lr", "0.0002", "model.dim", "32"};
  int64_t run = begin(st, "first", kv, 2);
  ck_assert_int_eq(run, 1);
  /* Committed: another connection sees it at once. */
  assert_rows(db,
              "SELECT name, status, error IS NULL, ended_at IS NULL, seed, experiment_yaml,"
              " experiment_json, host, command_line, ddpmx_version <> '' FROM runs",
              "first|RUNNING|1|1|7|name: x\n|{\"name\":\"x\"}|testhost|ddpmx run x.yaml|1\n");
  assert_rows(db, "SELECT run_id, key, value FROM params ORDER BY key",
              "1|model.dim|32\n1|train.lr|0.0002\n");
  /* ISO-8601 UTC with milliseconds: 2025-03-01T09:30:12.345Z */
  assert_rows(db,
              "SELECT length(started_at), substr(started_at, 11, 1), substr(started_at, 24),"
              " julianday(started_at) IS NOT NULL FROM runs",
              "24|T|Z|1\n");

  OK(st, dx_store_run_end(st, run, DX_RUN_KILLED, "interrupted by SIGINT"));
  assert_rows(db, "SELECT status, error, ended_at >= started_at FROM runs",
              "KILLED|interrupted by SIGINT|1\n");

  ck_assert_int_eq(dx_store_run_end(st, run, DX_RUN_RUNNING, NULL), DX_ERR_INVALID);
  ck_assert_int_eq(dx_store_run_end(st, 42, DX_RUN_FINISHED, NULL), DX_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(dx_store_errmsg(st), "no run with id 42"));
  dx_run_info nameless = {0};
  int64_t id;
  ck_assert_int_eq(dx_store_run_begin(st, &nameless, &id), DX_ERR_INVALID);
  /* A duplicate key rolls the whole run back. */
  const char *dup[] = {"a", "1", "a", "2"};
  const char *keys[] = {dup[0], dup[2]}, *values[] = {dup[1], dup[3]};
  dx_run_info info = {.name = "dup", .param_keys = keys, .param_values = values, .n_params = 2};
  ck_assert_int_eq(dx_store_run_begin(st, &info, &id), DX_ERR_DB);
  ck_assert_ptr_nonnull(strstr(dx_store_errmsg(st), "parameter 'a'"));
  assert_rows(db, "SELECT count(*) FROM runs WHERE name = 'dup'", "0\n");
  sqlite3_close(db);
  close_ok(st);
  tmp_clean(&t);
}
END_TEST

START_TEST(metrics_batched) {
  tmp t;
  dx_store *st = fresh(&t);
  sqlite3 *db = raw_open(t.db);
  int64_t run = begin(st, "m", NULL, 0);
  OK(st, dx_store_set_batch(st, 10));
  for (int i = 0; i < 25; i++)
    OK(st, dx_store_log_metric(st, run, i, "loss", 1.0 / (i + 1)));
  /* Two full batches written, five rows waiting. */
  assert_rows(db, "SELECT count(*), min(step), max(step) FROM metrics", "20|0|19\n");
  ck_assert_uint_eq(dx_store_pending(st), 5);
  OK(st, dx_store_flush(st));
  ck_assert_uint_eq(dx_store_pending(st), 0);
  assert_rows(db, "SELECT count(*), max(step) FROM metrics", "25|24\n");
  assert_rows(db, "SELECT value FROM metrics WHERE step = 3", "0.25\n");
  assert_rows(db, "SELECT count(*) FROM metrics WHERE wall_time > 1.6e9", "25\n");

  OK(st, dx_store_log_metric(st, run, 30, "loss", NAN));
  OK(st, dx_store_log_metric(st, run, 30, "lr", INFINITY));
  /* Ending the run writes what is buffered. */
  OK(st, dx_store_run_end(st, run, DX_RUN_FINISHED, NULL));
  assert_rows(db,
              "SELECT name, value IS NULL, value > 1e308 FROM metrics WHERE step = 30"
              " ORDER BY name",
              "loss|1|\nlr|0|1\n");

  ck_assert_int_eq(dx_store_log_metric(st, 99, 0, "loss", 1.0), DX_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(dx_store_errmsg(st), "no run with id 99"));
  ck_assert_int_eq(dx_store_log_metric(st, run, 0, "", 1.0), DX_ERR_INVALID);
  char long_name[DX_STORE_METRIC_NAME_MAX + 1];
  memset(long_name, 'x', DX_STORE_METRIC_NAME_MAX);
  long_name[DX_STORE_METRIC_NAME_MAX] = '\0';
  ck_assert_int_eq(dx_store_log_metric(st, run, 0, long_name, 1.0), DX_ERR_INVALID);
  ck_assert_int_eq(dx_store_set_batch(st, 0), DX_ERR_INVALID);
  /* Lowering the batch below what is buffered writes it. */
  for (int i = 0; i < 3; i++)
    OK(st, dx_store_log_metric(st, run, 40 + i, "loss", 0.5));
  OK(st, dx_store_set_batch(st, 2));
  ck_assert_uint_eq(dx_store_pending(st), 0);
  OK(st, dx_store_log_metric(st, run, 50, "loss", 0.5));
  close_ok(st); /* flushes */
  assert_rows(db, "SELECT count(*) FROM metrics", "31\n");
  sqlite3_close(db);
  tmp_clean(&t);
}
END_TEST

START_TEST(delete_cascades) {
  tmp t;
  dx_store *st = fresh(&t);
  fill_fixture(st);
  sqlite3 *db = dx_store_db(st);
  ck_assert_int_eq(sqlite3_exec(db, "DELETE FROM runs WHERE id = 2", NULL, NULL, NULL), SQLITE_OK);
  assert_rows(db,
              "SELECT (SELECT count(*) FROM params WHERE run_id = 2),"
              " (SELECT count(*) FROM metrics WHERE run_id = 2),"
              " (SELECT count(*) FROM samples WHERE run_id = 2),"
              " (SELECT count(*) FROM plugins WHERE run_id = 2),"
              " (SELECT count(*) FROM checkpoints WHERE run_id = 2),"
              " (SELECT count(*) FROM metrics WHERE run_id = 1)",
              "0|0|0|0|0|5\n");
  close_ok(st);
  tmp_clean(&t);
}
END_TEST

/* ---- views and queries ------------------------------------------------ */

START_TEST(views_expected_rows) {
  tmp t;
  dx_store *st = fresh(&t);
  fill_fixture(st);
  close_ok(st);
  sqlite3 *db = raw_open(t.db);
  assert_rows(db, "SELECT * FROM last_metrics ORDER BY run_id, metric",
              "1|linear_mse|bpd|300|4.25\n1|linear_mse|loss|300|0.125\n"
              "2|cosine_huber|bpd|300|3.75\n2|cosine_huber|loss|300|0.375\n"
              "3|cosine_mse|loss|150|\n");
  assert_rows(db,
              "SELECT id, name, status, schedule, loss, sampler, block, T, lr, batch, steps,"
              " last_loss, best_bpd, typeof(T), typeof(lr) FROM runs_overview ORDER BY id",
              "1|linear_mse|FINISHED|linear|mse|beta|resnet|1000|0.0002|64|300|0.125|4.25|"
              "integer|real\n"
              "2|cosine_huber|FINISHED|cosine|huber|beta_tilde|resnet|1000|0.0001|64|300|0.375|"
              "3.75|integer|real\n"
              "3|cosine_mse|FAILED|cosine|mse|beta|resnet|500|0.0002|32|300|||integer|real\n");
  sqlite3_close(db);
  tmp_clean(&t);
}
END_TEST

typedef struct text {
  char *buf;
  size_t len;
  FILE *f;
} text;

static int on_summary(const dx_run_summary *r, void *user) {
  fprintf(((text *)user)->f, "%lld %s %s %d %lld %d %g %d\n", (long long)r->id, r->name,
          dx_run_status_str(r->status), r->has_step, (long long)r->last_step, r->has_loss,
          r->last_loss, r->ended_at != NULL && r->started_at != NULL);
  return 0;
}

static int on_run(const dx_run_row *r, void *user) {
  fprintf(((text *)user)->f, "run %lld %s %s %s seed=%lld host=%s\n", (long long)r->id, r->name,
          dx_run_status_str(r->status), r->error ? r->error : "-", (long long)r->seed, r->host);
  return 0;
}

static int on_param(const char *k, const char *v, void *user) {
  fprintf(((text *)user)->f, "param %s=%s\n", k, v);
  return 0;
}

static int on_metric(const dx_metric_row *m, void *user) {
  fprintf(((text *)user)->f, "metric %s@%lld=%g%s\n", m->name, (long long)m->step, m->value,
          m->is_null ? " (null)" : "");
  return 0;
}

static int on_plugin(const dx_store_plugin *p, void *user) {
  fprintf(((text *)user)->f, "plugin %s %s %s %s %.4s\n", p->kind, p->name, p->version, p->path,
          p->sha256);
  return 0;
}

static int on_checkpoint(const dx_checkpoint_row *c, void *user) {
  fprintf(((text *)user)->f, "checkpoint %lld %s %.4s\n", (long long)c->step, c->path, c->sha256);
  return 0;
}

static int on_sample(const dx_sample_row *s, void *user) {
  fprintf(((text *)user)->f, "sample %lld %s %lldx%lld n=%lld png=%d\n", (long long)s->step, s->tag,
          (long long)s->width, (long long)s->height, (long long)s->count, s->bytes > 8);
  return 0;
}

static int stop_after_first(const char *k, const char *v, void *user) {
  on_param(k, v, user);
  return 1;
}

static void text_open(text *t) { t->f = open_memstream(&t->buf, &t->len); }

static void text_check(text *t, const char *want) {
  fclose(t->f);
  ck_assert_msg(strcmp(t->buf, want) == 0, "got:\n%swant:\n%s", t->buf, want);
  free(t->buf);
}

START_TEST(queries_for_cli) {
  tmp t;
  dx_store *st = fresh(&t);
  fill_fixture(st);

  text out;
  text_open(&out);
  OK(st, dx_store_list_runs(st, on_summary, &out));
  text_check(&out, "1 linear_mse FINISHED 1 300 1 0.125 1\n"
                   "2 cosine_huber FINISHED 1 300 1 0.375 1\n"
                   "3 cosine_mse FAILED 1 150 1 nan 1\n");

  dx_run_visitor v = {on_run, on_param, on_metric, on_plugin, on_checkpoint, on_sample};
  text_open(&out);
  OK(st, dx_store_show_run(st, 2, &v, &out));
  text_check(&out, "run 2 cosine_huber FINISHED - seed=7 host=testhost\n"
                   "param diffusion.T=1000\n"
                   "param diffusion.loss.plugin=huber\n"
                   "param diffusion.sampler.plugin=beta_tilde\n"
                   "param diffusion.schedule.plugin=cosine\n"
                   "param model.block.plugin=resnet\n"
                   "param model.dim=32\n"
                   "param train.batch=64\n"
                   "param train.lr=0.0001\n"
                   "param train.steps=300\n"
                   "metric bpd@300=3.75\n"
                   "metric loss@300=0.375\n"
                   "plugin loss huber 1.0 /plugins/huber.so 2222\n"
                   "plugin schedule cosine 1.0 /plugins/cosine.so 1111\n"
                   "checkpoint 100 /ck/cosine_huber-100.safetensors 2222\n"
                   "checkpoint 300 /ck/cosine_huber-300.safetensors 1111\n"
                   "sample 200 ema 22x22 n=4 png=1\n"
                   "sample 300 ema 22x22 n=4 png=1\n"
                   "sample 300 raw 22x12 n=2 png=1\n");

  /* Parts left NULL are skipped; a callback can stop its part early. */
  dx_run_visitor some = {.run = on_run, .param = stop_after_first, .metric = on_metric};
  text_open(&out);
  OK(st, dx_store_show_run(st, 3, &some, &out));
  text_check(&out, "run 3 cosine_mse FAILED loss is NaN at step 150 seed=7 host=testhost\n"
                   "param diffusion.T=500\n"
                   "metric loss@150=0 (null)\n");
  ck_assert_int_eq(dx_store_show_run(st, 9, &v, NULL), DX_ERR_INVALID);

  int64_t id = 0;
  OK(st, dx_store_find_run(st, "2", &id));
  ck_assert_int_eq(id, 2);
  OK(st, dx_store_find_run(st, "cosine_mse", &id));
  ck_assert_int_eq(id, 3);
  begin(st, "cosine_mse", NULL, 0); /* the newest of a name wins */
  OK(st, dx_store_find_run(st, "cosine_mse", &id));
  ck_assert_int_eq(id, 4);
  ck_assert_int_eq(dx_store_find_run(st, "nope", &id), DX_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(dx_store_errmsg(st), "no run named 'nope'"));
  ck_assert_int_eq(dx_store_find_run(st, "77", &id), DX_ERR_INVALID);
  close_ok(st);
  tmp_clean(&t);
}
END_TEST

static void assert_sample(dx_store *st, int64_t run, int64_t step, const char *tag,
                          int64_t want_step, const char *want_tag, int want_pixel) {
  dx_store_sample s;
  OK(st, dx_store_get_sample(st, run, step, tag, &s));
  ck_assert_int_eq(s.step, want_step);
  ck_assert_str_eq(s.tag, want_tag);
  dx_image img;
  char err[DX_ERRMSG_MAX];
  ck_assert_int_eq(dx_png_decode(s.png, s.len, &img, err, sizeof err), DX_OK);
  ck_assert_int_eq(img.width, s.width);
  ck_assert_int_eq(img.height, s.height);
  ck_assert_int_eq(img.pixels[2 * img.width * img.channels + 2 * img.channels], want_pixel);
  ck_assert_int_eq(img.pixels[0], 0); /* padding */
  dx_image_free(&img);
  dx_store_sample_clear(&s);
}

START_TEST(samples_and_checkpoints) {
  tmp t;
  dx_store *st = fresh(&t);
  fill_fixture(st);
  assert_sample(st, 2, -1, NULL, 300, "ema", 255);
  assert_sample(st, 2, 200, "ema", 200, "ema", 128);
  assert_sample(st, 2, -1, "raw", 300, "raw", 128);
  dx_store_sample s;
  ck_assert_int_eq(dx_store_get_sample(st, 2, 250, "ema", &s), DX_ERR_INVALID);
  ck_assert_str_eq(dx_store_errmsg(st), "run 2 has no sample grid at step 250 tagged 'ema'");
  ck_assert_int_eq(dx_store_get_sample(st, 1, -1, NULL, &s), DX_ERR_INVALID);
  ck_assert_str_eq(dx_store_errmsg(st), "run 1 has no sample grid");
  ck_assert_int_eq(dx_store_get_sample(st, 9, -1, NULL, &s), DX_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(dx_store_errmsg(st), "no run with id 9"));
  /* The same (run, step, tag) replaces the grid. */
  add_gray_grid(st, 2, 300, "ema", -1.0f);
  assert_sample(st, 2, 300, "ema", 300, "ema", 0);

  dx_store_checkpoint ck;
  bool found = true;
  OK(st, dx_store_latest_checkpoint(st, 1, &ck, &found));
  ck_assert(!found);
  OK(st, dx_store_latest_checkpoint(st, 2, &ck, &found));
  ck_assert(found);
  ck_assert_int_eq(ck.step, 300);
  ck_assert_str_eq(ck.path, "/ck/cosine_huber-300.safetensors");
  ck_assert_str_eq(ck.sha256, "1111111111111111111111111111111111111111111111111111111111111111");

  /* Checksums computed from the files when not given. */
  char path[96];
  snprintf(path, sizeof path, "%s/plugin.so", t.dir);
  write_file(path, "abc", 3);
  OK(st, dx_store_add_checkpoint(st, 1, 50, path, NULL));
  OK(st, dx_store_add_plugin(st, 1, &(dx_store_plugin){"sampler", "beta", "2", path, NULL}));
  OK(st, dx_store_add_plugin(st, 1, &(dx_store_plugin){"sampler", "beta", "2", path, NULL}));
  assert_rows(dx_store_db(st),
              "SELECT 'c', sha256 FROM checkpoints WHERE run_id = 1 UNION ALL"
              " SELECT 'p', sha256 FROM plugins WHERE run_id = 1",
              "c|ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
              "p|ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
  ck_assert_int_eq(dx_store_add_checkpoint(st, 1, 60, "/nonexistent/ck", NULL), DX_ERR_IO);
  close_ok(st);
  tmp_clean(&t);
}
END_TEST

START_TEST(reopen_for_resume) {
  tmp t;
  dx_store *st = fresh(&t);
  fill_fixture(st);
  OK(st, dx_store_run_reopen(st, 2, 200));
  assert_rows(dx_store_db(st), "SELECT status, error, ended_at FROM runs WHERE id = 2",
              "RUNNING||\n");
  assert_rows(dx_store_db(st),
              "SELECT name, step FROM metrics WHERE run_id = 2 ORDER BY name, step",
              "bpd|200\nloss|100\nloss|200\n");
  assert_rows(dx_store_db(st), "SELECT step, tag FROM samples WHERE run_id = 2", "200|ema\n");
  /* Other runs are untouched. */
  assert_rows(dx_store_db(st), "SELECT count(*) FROM metrics WHERE run_id = 1", "5\n");
  ck_assert_int_eq(dx_store_run_reopen(st, 12, 0), DX_ERR_INVALID);
  close_ok(st);
  tmp_clean(&t);
}
END_TEST

/* ---- a run whose process is gone -------------------------------------- */

typedef struct wanted_status {
  int64_t run;
  dx_run_status status;
} wanted_status;

static int status_of_run(const dx_run_summary *r, void *user) {
  wanted_status *w = user;
  if (r->id == w->run) w->status = r->status;
  return 0;
}

/* The status `ddpmx runs` would show. */
static dx_run_status listed_status(dx_store *st, int64_t run) {
  wanted_status w = {run, (dx_run_status)-1};
  OK(st, dx_store_list_runs(st, status_of_run, &w));
  return w.status;
}

static int keep_row(const dx_run_row *r, void *user) {
  dx_run_row *out = user;
  *out = *r;
  out->name = out->error = out->started_at = out->ended_at =
      NULL; /* only the numbers outlive the call */
  out->experiment_yaml = out->experiment_json = out->ddpmx_version = out->host = NULL;
  out->command_line = out->heartbeat_at = out->hosts = NULL;
  return 1;
}

static dx_run_row shown(dx_store *st, int64_t run) {
  dx_run_row r = {0};
  dx_run_visitor v = {.run = keep_row};
  OK(st, dx_store_show_run(st, run, &v, &r));
  return r;
}

START_TEST(a_lost_run_is_told_from_a_live_one) {
  tmp t;
  dx_store *st = fresh(&t);
  sqlite3 *db = dx_store_db(st);
  dx_run_info info = {.name = "mine", .seed = 1}; /* this host, this process */
  int64_t run;
  OK(st, dx_store_run_begin(st, &info, &run));
  char pid[32];
  snprintf(pid, sizeof pid, "%lld|1|1|1\n", (long long)getpid());
  assert_rows(
      db,
      "SELECT pid, process_start LIKE '%-%/%', heartbeat_at >= started_at, world_size FROM runs",
      pid);
  dx_run_row r = shown(st, run);
  ck_assert_int_eq(r.status, DX_RUN_RUNNING);
  ck_assert_int_eq(r.process, DX_PROCESS_ALIVE);
  ck_assert_int_eq(r.pid, getpid());
  ck_assert_int_eq(listed_status(st, run), DX_RUN_RUNNING);

  /* The pid is ours but the start time is not: a reused pid. */
  sqlite3_exec(db, "UPDATE runs SET process_start = substr(process_start, 1, 37) || '1'", NULL,
               NULL, NULL);
  ck_assert_int_eq(shown(st, run).status, DX_RUN_LOST);
  ck_assert_int_eq(listed_status(st, run), DX_RUN_LOST);

  /* A process that has exited. */
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) _exit(0);
  ck_assert_int_eq(waitpid(child, NULL, 0), child);
  char sql[128];
  snprintf(sql, sizeof sql, "UPDATE runs SET pid = %d", (int)child);
  sqlite3_exec(db, sql, NULL, NULL, NULL);
  ck_assert_int_eq(shown(st, run).status, DX_RUN_LOST);

  /* Another host's process cannot be checked from here; nor a row from
   * before schema 3. */
  sqlite3_exec(db, "UPDATE runs SET host = 'elsewhere.example'", NULL, NULL, NULL);
  ck_assert_int_eq(shown(st, run).status, DX_RUN_RUNNING);
  ck_assert_int_eq(shown(st, run).process, DX_PROCESS_UNKNOWN);
  sqlite3_exec(db, "UPDATE runs SET host = NULL, pid = NULL, process_start = NULL", NULL, NULL,
               NULL);
  ck_assert_int_eq(listed_status(st, run), DX_RUN_RUNNING);

  /* A metrics flush is a heartbeat; a reopen makes this process the run's. */
  sqlite3_exec(db, "UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00.000Z'", NULL, NULL, NULL);
  OK(st, dx_store_log_metric(st, run, 1, "loss", 1.0));
  OK(st, dx_store_flush(st));
  assert_rows(db, "SELECT heartbeat_at > '2001' FROM runs", "1\n");
  OK(st, dx_store_run_end(st, run, DX_RUN_KILLED, "x"));
  ck_assert_int_eq(shown(st, run).process, DX_PROCESS_UNKNOWN); /* only RUNNING rows are checked */
  OK(st, dx_store_run_reopen(st, run, 0));
  r = shown(st, run);
  ck_assert_int_eq(r.status, DX_RUN_RUNNING);
  ck_assert_int_eq(r.process, DX_PROCESS_ALIVE);
  close_ok(st);
  tmp_clean(&t);
}
END_TEST

/* ---- the example queries of docs/store.md ----------------------------- */

static const struct {
  const char *name, *rows; /* rows NULL: checked by its own code below */
} examples[] = {
    {"compare-losses", "100|0.5|0.75|0.25\n200|0.25|0.5|0.25\n300|0.125|0.375|0.25\n"},
    {"best-bpd-per-schedule", "cosine|3.75|cosine_huber\nlinear|4.25|linear_mse\n"},
    {"last-metrics-side-by-side",
     "1|linear_mse|0.125|4.25\n2|cosine_huber|0.375|3.75\n3|cosine_mse||\n"},
    {"overview", "1|linear_mse|FINISHED|linear|mse|1000|0.0002|0.125|4.25\n"
                 "2|cosine_huber|FINISHED|cosine|huber|1000|0.0001|0.375|3.75\n"
                 "3|cosine_mse|FAILED|cosine|mse|500|0.0002||\n"},
    {"failed-runs", "3|cosine_mse|loss is NaN at step 150\n"},
    {"stale-runs", ""}, /* the fixture's runs have all ended */
    {"params-diff", "diffusion.loss.plugin|mse|huber\ndiffusion.sampler.plugin|beta|beta_tilde\n"
                    "diffusion.schedule.plugin|linear|cosine\ntrain.lr|0.0002|0.0001\n"},
    {"plugins-used",
     "loss|huber|1.0|2222222222222222222222222222222222222222222222222222222222222222\n"
     "schedule|cosine|1.0|"
     "1111111111111111111111111111111111111111111111111111111111111111\n"},
    {"nan-losses", "3|150\n"},
    {"export-grid", NULL},
    {"loss-curve-csv", "100|0.75\n200|0.5\n300|0.375\n"},
};

static char *read_doc(void) {
  FILE *f = fopen("../docs/store.md", "rb");
  ck_assert_msg(f != NULL, "docs/store.md not found from %s", getenv("PWD"));
  char *buf = NULL;
  size_t cap = 0, len = 0, got;
  do {
    if (len + 4096 > cap) buf = realloc(buf, cap = 2 * cap + 8192);
    got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
  } while (got > 0);
  fclose(f);
  buf[len] = '\0';
  return buf;
}

/* The SQL of the example after *p, advancing *p: a ```sql block as it is, or
 * the double-quoted query of a ```sh block. Returns NULL at the end. */
static char *next_example(const char **p, char name[64]) {
  const char *m = strstr(*p, "<!-- example: ");
  if (!m) return NULL;
  m += strlen("<!-- example: ");
  const char *end = strstr(m, " -->");
  ck_assert(end && end - m < 64);
  snprintf(name, 64, "%.*s", (int)(end - m), m);
  const char *open = strstr(end, "```");
  ck_assert_ptr_nonnull(open);
  bool sh = strncmp(open, "```sh\n", 6) == 0;
  ck_assert_msg(sh || strncmp(open, "```sql\n", 7) == 0, "example %s: not sql or sh", name);
  const char *body = strchr(open, '\n') + 1, *close = strstr(body, "\n```");
  ck_assert_ptr_nonnull(close);
  *p = close + 4;
  if (!sh) return strndup(body, (size_t)(close - body));
  const char *q1 = memchr(body, '"', (size_t)(close - body)), *q2 = close;
  while (q2 > body && *q2 != '"')
    q2--;
  ck_assert_msg(q1 && q2 > q1, "example %s: no quoted query", name);
  return strndup(q1 + 1, (size_t)(q2 - q1 - 1));
}

/* The sqlite3 shell's writefile(path, blob), writing under the test's folder. */
static void writefile(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", (const char *)sqlite3_user_data(ctx), name);
  write_file(path, sqlite3_value_blob(argv[1]), (size_t)sqlite3_value_bytes(argv[1]));
  sqlite3_result_int(ctx, sqlite3_value_bytes(argv[1]));
}

static void check_export(sqlite3 *db, const char *sql, tmp *t) {
  sqlite3_create_function(db, "writefile", 2, SQLITE_UTF8, t->dir, writefile, NULL, NULL);
  free(rows(db, sql));
  char path[96], err[DX_ERRMSG_MAX];
  snprintf(path, sizeof path, "%s/g.png", t->dir);
  dx_image img;
  ck_assert_int_eq(dx_png_read_file(path, &img, err, sizeof err), DX_OK);
  /* The step 300 'ema' grid: four white 8x8 images, 2 a row. */
  ck_assert_int_eq(img.width, 22);
  ck_assert_int_eq(img.height, 22);
  ck_assert_int_eq(img.pixels[2 * 22 + 2], 255);
  dx_image_free(&img);
}

START_TEST(doc_examples) {
  tmp t;
  dx_store *st = fresh(&t);
  fill_fixture(st);
  close_ok(st);
  sqlite3 *db = raw_open(t.db);
  char *doc = read_doc(), name[64], *sql;
  const char *p = doc;
  size_t seen = 0, n = sizeof examples / sizeof examples[0];
  while ((sql = next_example(&p, name))) {
    size_t i = 0;
    while (i < n && strcmp(examples[i].name, name) != 0)
      i++;
    ck_assert_msg(i < n, "docs/store.md example '%s' has no expected rows here", name);
    if (examples[i].rows)
      assert_rows(db, sql, examples[i].rows);
    else
      check_export(db, sql, &t);
    free(sql);
    seen++;
  }
  ck_assert_uint_eq(seen, n);
  free(doc);
  sqlite3_close(db);
  tmp_clean(&t);
}
END_TEST

/* ---- two writers, and a writer killed mid-batch ------------------------- */

#define WRITER_RUNS 3
#define WRITER_STEPS 600

/* A child process: waits for the go byte, then writes its runs. Exits 0 when
 * everything succeeded; says why on stderr otherwise. */
static void writer(const char *path, int who, int go) {
  char c, err[DX_ERRMSG_MAX];
  if (read(go, &c, 1) != 1) _exit(2);
  dx_store *st;
  if (dx_store_open(path, &st, err, sizeof err) != DX_OK) {
    fprintf(stderr, "writer %d: %s\n", who, err);
    _exit(1);
  }
  dx_status s = dx_store_set_batch(st, 50);
  for (int r = 0; s == DX_OK && r < WRITER_RUNS; r++) {
    char name[32];
    snprintf(name, sizeof name, "w%d_r%d", who, r);
    dx_run_info info = {.name = name, .seed = who};
    int64_t run = 0;
    s = dx_store_run_begin(st, &info, &run);
    for (int i = 0; s == DX_OK && i < WRITER_STEPS; i++)
      s = dx_store_log_metric(st, run, i, "loss", who * 1000 + i);
    if (s == DX_OK) s = dx_store_run_end(st, run, DX_RUN_FINISHED, NULL);
  }
  if (s != DX_OK) fprintf(stderr, "writer %d: %s\n", who, dx_store_errmsg(st));
  s = s == DX_OK ? dx_store_close(st, err, sizeof err) : (dx_store_close(st, NULL, 0), s);
  _exit(s == DX_OK ? 0 : 1);
}

START_TEST(two_writers) {
  tmp t;
  tmp_make(&t);
  int go[2];
  ck_assert_int_eq(pipe(go), 0);
  pid_t pid[2];
  for (int w = 0; w < 2; w++) {
    pid[w] = fork();
    ck_assert_int_ge(pid[w], 0);
    if (pid[w] == 0) writer(t.db, w + 1, go[0]);
  }
  /* Both start together on a file that does not exist yet, so they also race
   * to create and migrate it. */
  ck_assert_int_eq(write(go[1], "gg", 2), 2);
  for (int w = 0; w < 2; w++) {
    int status;
    ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", w + 1);
  }
  close(go[0]);
  close(go[1]);
  sqlite3 *db = raw_open(t.db);
  assert_rows(db, "PRAGMA integrity_check", "ok\n");
  assert_rows(db, "SELECT count(*), sum(status = 'FINISHED') FROM runs", "6|6\n");
  /* Each run has its own steps 0..599 with values seed*1000 + step. */
  assert_rows(db,
              "SELECT r.name, count(*), count(DISTINCT m.step),"
              " sum(m.value = r.seed * 1000 + m.step) FROM runs r JOIN metrics m ON m.run_id = r.id"
              " GROUP BY r.id ORDER BY r.name",
              "w1_r0|600|600|600\nw1_r1|600|600|600\nw1_r2|600|600|600\n"
              "w2_r0|600|600|600\nw2_r1|600|600|600\nw2_r2|600|600|600\n");
  sqlite3_close(db);
  tmp_clean(&t);
}
END_TEST

#define KILL_BATCH 2000
#define KILL_COMMITTED 3

typedef struct hook_state {
  int report, inserted;
} hook_state;

/* Runs inside the fourth batch's transaction: once half its rows are in,
 * tell the parent and wait to be killed. */
static void mid_batch(void *user, int op, const char *db, const char *table, sqlite3_int64 row) {
  (void)op, (void)db, (void)row;
  hook_state *h = user;
  if (strcmp(table, "metrics") == 0 && ++h->inserted == KILL_BATCH / 2) {
    if (write(h->report, "M", 1) != 1) _exit(3);
    for (;;)
      pause();
  }
}

static void doomed_writer(const char *path, int report) {
  char err[DX_ERRMSG_MAX];
  dx_store *st;
  if (dx_store_open(path, &st, err, sizeof err) != DX_OK) _exit(1);
  /* A tiny page cache makes SQLite spill the open transaction into the WAL,
   * so the kill leaves uncommitted frames there for recovery to discard. */
  sqlite3_exec(dx_store_db(st), "PRAGMA cache_size = 8", NULL, NULL, NULL);
  dx_run_info info = {.name = "doomed", .seed = 1};
  int64_t run;
  if (dx_store_run_begin(st, &info, &run) != DX_OK || dx_store_set_batch(st, KILL_BATCH) != DX_OK)
    _exit(1);
  hook_state h = {report, 0};
  for (int64_t step = 0;; step++) {
    if (step == KILL_COMMITTED * KILL_BATCH) sqlite3_update_hook(dx_store_db(st), mid_batch, &h);
    if (dx_store_log_metric(st, run, step, "loss", (double)step) != DX_OK) _exit(1);
    if (dx_store_pending(st) == 0 && write(report, "B", 1) != 1) _exit(1);
  }
}

START_TEST(sigkill_mid_batch) {
  tmp t;
  tmp_make(&t);
  int report[2];
  ck_assert_int_eq(pipe(report), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) doomed_writer(t.db, report[1]);
  close(report[1]);
  /* Kill before asserting anything, so a failure leaves no writer behind. */
  char got[KILL_COMMITTED + 2] = "";
  for (int i = 0; i <= KILL_COMMITTED && read(report[0], &got[i], 1) == 1; i++)
    continue;
  kill(pid, SIGKILL);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  close(report[0]);
  ck_assert_str_eq(got, "BBBM");
  ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  sqlite3 *db = raw_open(t.db);
  assert_rows(db, "PRAGMA integrity_check", "ok\n");
  /* Every committed batch, nothing of the one in flight. */
  assert_rows(db,
              "SELECT count(*), count(DISTINCT step), min(step), max(step), sum(value = step)"
              " FROM metrics",
              "6000|6000|0|5999|6000\n");
  assert_rows(db, "SELECT name, status FROM runs", "doomed|RUNNING\n");
  sqlite3_close(db);

  /* And the store carries on with the file, and knows that the run's
   * process is gone. */
  dx_store *st = open_ok(t.db);
  ck_assert_int_eq(listed_status(st, 1), DX_RUN_LOST);
  OK(st, dx_store_log_metric(st, 1, 6000, "loss", 1.0));
  OK(st, dx_store_run_end(st, 1, DX_RUN_KILLED, "killed"));
  assert_rows(dx_store_db(st), "SELECT count(*), max(step) FROM metrics", "6001|6000\n");
  close_ok(st);
  tmp_clean(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("store");
  TCase *tc = tcase_create("store");
  DXT_ADD(tc, sha256_vectors);
  DXT_ADD(tc, sha256_file);
  DXT_ADD(tc, create_schema);
  DXT_ADD(tc, migrate_v1_to_latest);
  DXT_ADD(tc, refuse_foreign_files);
  DXT_ADD(tc, run_lifecycle);
  DXT_ADD(tc, metrics_batched);
  DXT_ADD(tc, delete_cascades);
  DXT_ADD(tc, views_expected_rows);
  DXT_ADD(tc, queries_for_cli);
  DXT_ADD(tc, samples_and_checkpoints);
  DXT_ADD(tc, reopen_for_resume);
  DXT_ADD(tc, a_lost_run_is_told_from_a_live_one);
  DXT_ADD(tc, doc_examples);
  DXT_ADD(tc, two_writers);
  DXT_ADD(tc, sigkill_mid_batch);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
