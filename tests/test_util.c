/* core/util: the error formatter and source positions, whole-file reading
 * (plain and gzip, the gzip side written by zlib itself), the JSON escaper
 * read back by the JSON reader, the suggestion's edit distance, and the CPU
 * count (affinity mask, cgroup quotas in fake cgroup trees). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dx_test.h"
#include "dxt_files.h"
#include "util/cpus.h"
#include "util/err.h"
#include "util/file.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "util/suggest.h"

START_TEST(error_line_names_the_place_first) {
  char err[DX_ERRMSG_MAX];
  dx_srcpos yaml = {"exp.yaml", 3, 7};
  ck_assert_int_eq(dx_errf(err, sizeof err, DX_ERR_CONFIG, &yaml, "bad %s", "value"),
                   DX_ERR_CONFIG);
  ck_assert_str_eq(err, "exp.yaml:3:7: bad value");
  dx_srcpos arg = dx_srcpos_override(2);
  dx_errf(err, sizeof err, DX_ERR_CONFIG, &arg, "x");
  ck_assert_str_eq(err, "<command line>:2: x");
  dx_errf(err, sizeof err, DX_ERR_IO, DX_AT("a/b.png"), "cannot open");
  ck_assert_str_eq(err, "a/b.png: cannot open");
  dx_errf(err, sizeof err, DX_ERR_IO, NULL, "no place");
  ck_assert_str_eq(err, "no place");
  dx_appendf(err, sizeof err, "; %d more", 2);
  ck_assert_str_eq(err, "no place; 2 more");
  /* A small buffer keeps a NUL-terminated prefix; NULL is allowed. */
  char tiny[8];
  dx_errf(tiny, sizeof tiny, DX_ERR_CONFIG, &yaml, "long message");
  ck_assert_str_eq(tiny, "exp.yam");
  ck_assert_int_eq(dx_errf(NULL, 0, DX_ERR_NOMEM, NULL, "x"), DX_ERR_NOMEM);
}
END_TEST

static void temp_path(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "/tmp/dx_test_util_%ld_%s", (long)getpid(), name);
}

START_TEST(file_read_plain_and_gzip) {
  char plain[256], packed[256], err[DX_ERRMSG_MAX];
  const char text[] = "line one\nline two\0after a NUL";
  temp_path(plain, sizeof plain, "plain.bin");
  temp_path(packed, sizeof packed, "packed.gz");
  FILE *f = fopen(plain, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(text, 1, sizeof text, f), sizeof text);
  fclose(f);
  gzFile g = gzopen(packed, "wb");
  ck_assert_ptr_nonnull(g);
  ck_assert_int_eq(gzwrite(g, text, sizeof text), (int)sizeof text);
  gzclose(g);
  const char *paths[2] = {plain, packed};
  for (int i = 0; i < 2; i++) {
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(dx_file_read(paths[i], &buf, &len, err, sizeof err), DX_OK);
    ck_assert_uint_eq(len, sizeof text);
    ck_assert_int_eq(memcmp(buf, text, sizeof text), 0);
    ck_assert_int_eq(buf[len], 0); /* text can be used as a string */
    free(buf);
  }
  /* A gzip stream cut short is a parse error that names the file. */
  FILE *in = fopen(packed, "rb");
  uint8_t whole[512];
  size_t n = fread(whole, 1, sizeof whole, in);
  fclose(in);
  f = fopen(packed, "wb");
  fwrite(whole, 1, n - 6, f);
  fclose(f);
  uint8_t *buf = (uint8_t *)"untouched";
  size_t len = 99;
  ck_assert_int_eq(dx_file_read(packed, &buf, &len, err, sizeof err), DX_ERR_PARSE);
  ck_assert_ptr_null(buf);
  ck_assert_uint_eq(len, 0);
  ck_assert_msg(strncmp(err, packed, strlen(packed)) == 0, "got: %s", err);
  unlink(plain);
  unlink(packed);
  ck_assert_int_eq(dx_file_read(plain, &buf, &len, err, sizeof err), DX_ERR_IO);
  char want[600];
  snprintf(want, sizeof want, "%s: cannot open: No such file or directory", plain);
  ck_assert_str_eq(err, want);
}
END_TEST

/* Every byte from 1 to 255 survives the escaper and the reader. */
START_TEST(json_string_round_trip) {
  char s[256];
  for (int i = 1; i < 256; i++)
    s[i - 1] = (char)i;
  s[255] = '\0';
  dx_strbuf b = {0};
  dx_strbuf_puts(&b, "{\"k\": ");
  dx_json_string(&b, s);
  dx_strbuf_puts(&b, "}");
  char *text = dx_strbuf_take(&b), err[256] = "";
  ck_assert_ptr_nonnull(text);
  for (const char *c = text; *c; c++) /* RFC 8259: no raw control characters */
    ck_assert_int_ge((unsigned char)*c, 0x20);
  dx_json *j = dx_json_parse(text, strlen(text), err, sizeof err);
  ck_assert_msg(j != NULL, "%s in %s", err, text);
  const dx_json *k = dx_json_get(j, "k");
  ck_assert_ptr_nonnull(k);
  ck_assert_int_eq(k->type, DX_JSON_STRING);
  ck_assert_str_eq(k->str, s);
  dx_json_free(j);
  free(text);
}
END_TEST

START_TEST(suggest_counts_edits) {
  const char *const words[] = {"steps", "batch", "lr", "warmup"};
  ck_assert_str_eq(dx_suggest("stpes", words, 4), "steps");   /* a swap */
  ck_assert_str_eq(dx_suggest("btch", words, 4), "batch");    /* a deletion */
  ck_assert_str_eq(dx_suggest("WARMUP", words, 4), "warmup"); /* case only */
  ck_assert_str_eq(dx_suggest("lrr", words, 4), "lr");        /* short: one edit */
  ck_assert_str_eq(dx_suggest("l", words, 4), "lr");          /* an insertion */
  ck_assert_ptr_null(dx_suggest("xyz", words, 4));
  ck_assert_ptr_null(dx_suggest("steps", words, 4)); /* the word itself is no misspelling */
}
END_TEST

/* A fake /proc/self/mountinfo and /proc/self/cgroup in dir; mountinfo is a
 * format whose %1$s is dir, where the fake cgroup trees are mounted. */
static void fake_cgroup(const char *dir, const char *mountinfo, const char *cgroup) {
  char p[512], mi[1024];
  snprintf(mi, sizeof mi, mountinfo, dir);
  snprintf(p, sizeof p, "%s/mountinfo", dir);
  dxt_spit(p, mi);
  snprintf(p, sizeof p, "%s/cgroup", dir);
  dxt_spit(p, cgroup);
}

static double limit_in(const char *dir) {
  char m[512], c[512];
  snprintf(m, sizeof m, "%s/mountinfo", dir);
  snprintf(c, sizeof c, "%s/cgroup", dir);
  return dx_cgroup_cpu_limit(m, c);
}

static void put(const char *dir, const char *file, const char *text) {
  char p[512], cmd[600];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
  ck_assert_int_eq(system(cmd), 0);
  dxt_spit(p, text);
}

START_TEST(cgroup_v2_quota_binds_from_an_ancestor) {
  char dir[] = "/tmp/dx_cpusXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  fake_cgroup(dir,
              "24 1 0:22 / /proc rw - proc proc rw\n"
              "30 23 0:27 / %1$s/fs rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
              "0::/user.slice/job\n");
  ck_assert_double_eq(limit_in(dir), 0); /* no cpu.max anywhere: no quota */
  put(dir, "fs/user.slice/job/cpu.max", "max 100000\n");
  ck_assert_double_eq(limit_in(dir), 0); /* "max": none */
  put(dir, "fs/user.slice/cpu.max", "150000 100000\n");
  ck_assert_double_eq_tol(limit_in(dir), 1.5, 1e-12); /* the parent's binds */
  put(dir, "fs/user.slice/job/cpu.max", "50000 100000\n");
  ck_assert_double_eq_tol(limit_in(dir), 0.5, 1e-12); /* the tighter one */
  dxt_rmtree(dir);
}
END_TEST

START_TEST(cgroup_v1_quota_in_a_container) {
  char dir[] = "/tmp/dx_cpusXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  /* The cpu controller shares a hierarchy with cpuacct; the container sees
   * its own cgroup (/docker/abc) mounted as the top. */
  fake_cgroup(dir,
              "31 23 0:28 / %1$s/mem rw - cgroup cgroup rw,memory\n"
              "32 23 0:29 /docker/abc %1$s/cpu rw - cgroup cgroup rw,cpu,cpuacct\n",
              "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n");
  put(dir, "cpu/cpu.cfs_quota_us", "-1\n");
  put(dir, "cpu/cpu.cfs_period_us", "100000\n");
  ck_assert_double_eq(limit_in(dir), 0); /* -1: none */
  put(dir, "cpu/cpu.cfs_quota_us", "250000\n");
  ck_assert_double_eq_tol(limit_in(dir), 2.5, 1e-12);
  /* Without a cgroup namespace the path is the host's and the mount's root
   * does not match it: the mount point's own files still count. */
  fake_cgroup(dir, "32 23 0:29 / %1$s/cpu rw - cgroup cgroup rw,cpuacct,cpu\n",
              "4:cpuacct,cpu:/docker/abc\n");
  ck_assert_double_eq_tol(limit_in(dir), 2.5, 1e-12);
  /* A cpuacct-only hierarchy is not the cpu controller's. */
  fake_cgroup(dir, "33 23 0:30 / %1$s/cpu rw - cgroup cgroup rw,cpuacct\n", "3:cpuacct:/\n");
  ck_assert_double_eq(limit_in(dir), 0);
  dxt_rmtree(dir);
}
END_TEST

/* What taskset does: the usable CPUs follow the affinity mask. */
START_TEST(cpus_follow_the_affinity_mask) {
  cpu_set_t all, one;
  ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
  int first = 0;
  while (!CPU_ISSET(first, &all))
    first++;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
  ck_assert_int_eq(dx_cpus_usable(), 1);
  ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
  int n = dx_cpus_usable();
  ck_assert_int_ge(n, 1);
  ck_assert_int_le(n, CPU_COUNT(&all));
  /* Run under `taskset -c 0` by ctest (test util_taskset), the count is 1. */
  const char *want = getenv("DXT_WANT_CPUS");
  if (want) ck_assert_int_eq(n, atoi(want));
}
END_TEST

int main(void) {
  Suite *s = suite_create("util");
  TCase *tc = tcase_create("util");
  DXT_ADD(tc, error_line_names_the_place_first);
  DXT_ADD(tc, file_read_plain_and_gzip);
  DXT_ADD(tc, json_string_round_trip);
  DXT_ADD(tc, suggest_counts_edits);
  DXT_ADD(tc, cgroup_v2_quota_binds_from_an_ancestor);
  DXT_ADD(tc, cgroup_v1_quota_in_a_container);
  DXT_ADD(tc, cpus_follow_the_affinity_mask);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
