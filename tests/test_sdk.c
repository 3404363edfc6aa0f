/* The SDK as docs/writing-plugins.md tells a plugin author to use it:
 * `cmake --install` into a fresh prefix, the doc's plugin built out of tree
 * with the doc's own command line, then seen by the installed `ddpmx`. The
 * commands and the YAML are read out of the doc, so doc and test cannot
 * drift apart. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_files.h"

static char build[PATH_MAX], tests_dir[PATH_MAX], work[64], prefix[128], libdir[64];

/* The text after `start` up to (not including) `end`, malloc'ed. */
static char *between(const char *text, const char *start, const char *end) {
  const char *a = strstr(text, start);
  ck_assert_msg(a != NULL, "the doc lacks: %s", start);
  a += strlen(start);
  const char *b = strstr(a, end);
  ck_assert_ptr_nonnull(b);
  return strndup(a, (size_t)(b - a));
}

/* CMAKE_INSTALL_LIBDIR as the build configured it ("lib" on Debian). */
static void read_libdir(void) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/CMakeCache.txt", build);
  char *cache = dxt_slurp(path), *v = between(cache, "CMAKE_INSTALL_LIBDIR:PATH=", "\n");
  snprintf(libdir, sizeof libdir, "%s", v);
  free(v);
  free(cache);
}

static void setup(void) {
  const char *b = getenv("DDPMX_BUILD_DIR");
  ck_assert_msg(b != NULL, "DDPMX_BUILD_DIR is not set (run through ctest)");
  ck_assert_ptr_nonnull(realpath(b, build));
  ck_assert_ptr_nonnull(getcwd(tests_dir, sizeof tests_dir));
  read_libdir();
  snprintf(work, sizeof work, "/tmp/dx_sdk_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(work));
  snprintf(prefix, sizeof prefix, "%s/prefix", work);
  unsetenv("DDPMX_PLUGIN_PATH");
}

static void teardown(void) { dxt_rmtree(work); }

/* A tiny Fashion-MNIST-shaped set in work/fmnist, so that the doc's
 * experiment (which uses the default dataset) passes its checks on a machine
 * without the dataset-fashion-mnist package. Returns the data.path override. */
static const char *tiny_fashion_mnist(void) {
  static char arg[PATH_MAX + 16];
  char dir[PATH_MAX], path[PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/fmnist", work);
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  const char *split[2] = {"train", "t10k"};
  for (int s = 0; s < 2; s++) {
    unsigned images[3] = {4, 28, 28}, labels[1] = {4};
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, split[s]);
    dxt_write_idx(path, 3, images, NULL, 4 * 28 * 28);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, split[s]);
    dxt_write_idx(path, 1, labels, NULL, 4);
  }
  snprintf(arg, sizeof arg, "data.path=%s", dir);
  return arg;
}

/* Runs a shell command in `work`, its output into out.txt; returns the exit
 * status and leaves the output in *out (caller frees) when out is given. */
static int sh(const char *cmd, char **out) {
  char line[8192];
  snprintf(line, sizeof line, "cd '%s' && (%s) > out.txt 2>&1", work, cmd);
  int rc = system(line);
  char path[128];
  snprintf(path, sizeof path, "%s/out.txt", work);
  char *text = dxt_slurp(path);
  if (out)
    *out = text;
  else
    free(text);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void install(void) {
  char cmd[PATH_MAX + 256], *out;
  snprintf(cmd, sizeof cmd, "cmake --install '%s' --prefix '%s'", build, prefix);
  ck_assert_msg(sh(cmd, &out) == 0, "%.3000s", out);
  free(out);
}

static void assert_installed(const char *rel) {
  char path[PATH_MAX + 256];
  snprintf(path, sizeof path, "%s/%s", prefix, rel);
  ck_assert_msg(access(path, F_OK) == 0, "not installed: %s", path);
}

/* The plugin source in the doc, byte for byte the one built here. */
START_TEST(doc_shows_the_tested_plugin) {
  char *doc = dxt_slurp("../docs/writing-plugins.md"), *src = dxt_slurp("data/sdk/geometric.c");
  char *block = between(doc, "Save this as `geometric.c`:\n\n```c\n", "```\n");
  ck_assert_str_eq(block, src);
  free(block);
  free(src);
  free(doc);
}
END_TEST

START_TEST(install_layout) {
  char rel[256];
  install();
  assert_installed("include/ddpmx/plugin.h");
  assert_installed("include/ddpmx/schedule.h");
  assert_installed("bin/ddpmx");
  const char *in_lib[] = {"libddpmx.so", "pkgconfig/ddpmx.pc", "cmake/ddpmx/ddpmxConfig.cmake",
                          "cmake/ddpmx/ddpmxTargets.cmake", "ddpmx/plugins/cosine.so"};
  for (size_t i = 0; i < sizeof in_lib / sizeof *in_lib; i++) {
    snprintf(rel, sizeof rel, "%s/%s", libdir, in_lib[i]);
    assert_installed(rel);
  }
}
END_TEST

/* Steps 1 to 5 of the doc, with its own command line, listing and YAML. */
START_TEST(out_of_tree_plugin_builds_and_loads) {
  char *doc = dxt_slurp("../docs/writing-plugins.md"), *out, cmd[PATH_MAX + 512];
  install();
  char *src = dxt_slurp("data/sdk/geometric.c"), path[PATH_MAX];
  snprintf(path, sizeof path, "%s/geometric.c", work);
  dxt_spit(path, src);
  free(src);

  char *cc = between(doc, "\n```sh\ncc ", "\n");
  snprintf(cmd, sizeof cmd, "export PKG_CONFIG_PATH='%s/%s/pkgconfig'; cc %s", prefix, libdir, cc);
  ck_assert_msg(sh(cmd, &out) == 0, "%s\n%.3000s", cmd, out);
  free(out);
  free(cc);

  snprintf(cmd, sizeof cmd, "DDPMX_PLUGIN_PATH='%s' '%s/bin/ddpmx' plugins", work, prefix);
  ck_assert_int_eq(sh(cmd, &out), 0);
  /* Columns are padded to the widest cell: compare field by field. */
  const char *row = strstr(out, "\nschedule  geometric ");
  ck_assert_msg(row != NULL, "%.3000s", out);
  char version[32], file[PATH_MAX], summary[128], want[3 * PATH_MAX];
  ck_assert_int_eq(sscanf(row, " %*s %*s %31s %4095s %127[^\n]", version, file, summary), 3);
  ck_assert_str_eq(version, "1.0.0");
  snprintf(want, sizeof want, "%s/geometric.so", work);
  ck_assert_str_eq(file, want);
  ck_assert_str_eq(summary, "beta growing by a constant factor from beta_start to beta_end");
  /* The installed copies of the built-in plugins are found too, behind the
   * build tree's. */
  snprintf(want, sizeof want, "  %s/%s/ddpmx/plugins/cosine.so: shadowed by %s/plugins/cosine.so",
           prefix, libdir, build);
  ck_assert_msg(strstr(out, want) != NULL, "%s not in:\n%.3000s", want, out);
  free(out);

  snprintf(cmd, sizeof cmd, "DDPMX_PLUGIN_PATH='%s' '%s/bin/ddpmx' plugins geometric", work,
           prefix);
  ck_assert_int_eq(sh(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "FORMULA\n    beta_t = beta_start (beta_end / beta_start)"));
  free(out);

  /* The experiment of step 5, found through its plugin_path alone. */
  char *yaml = between(doc, "```yaml\nname: geometric_schedule\n", "```\n");
  char text[4096];
  snprintf(text, sizeof text, "name: geometric_schedule\n%s", yaml);
  snprintf(path, sizeof path, "%s/geometric.yaml", work);
  dxt_spit(path, text);
  snprintf(cmd, sizeof cmd, "'%s/bin/ddpmx' run geometric.yaml '%s' --dry-run", prefix,
           tiny_fashion_mnist());
  ck_assert_msg(sh(cmd, &out) == 0, "%.3000s", out);
  ck_assert_msg(strstr(out, "beta_start: 0.0001") != NULL, "%.3000s", out);
  free(out);

  /* And the refusal the doc shows, for beta_end: 2. */
  char *good = strstr(text, "beta_end: 0.03"), bad[4096];
  ck_assert_ptr_nonnull(good);
  snprintf(bad, sizeof bad, "%.*sbeta_end: 2%s", (int)(good - text), text,
           good + strlen("beta_end: 0.03"));
  dxt_spit(path, bad);
  char *line = between(doc, "\n```\nddpmx run: geometric.yaml:", "\n");
  snprintf(want, sizeof want, "ddpmx run: geometric.yaml:%s\n", line);
  ck_assert_int_eq(sh(cmd, &out), 3);
  ck_assert_str_eq(out, want);
  free(out);
  free(line);
  free(yaml);
  free(doc);
}
END_TEST

/* The CMake route of step 3: find_package(ddpmx) and ddpmx_add_plugin. */
START_TEST(find_package_builds_the_plugin) {
  char *doc = dxt_slurp("../docs/writing-plugins.md"), *out, cmd[PATH_MAX + 512], path[PATH_MAX];
  install();
  char *src = dxt_slurp("data/sdk/geometric.c"), *lists = between(doc, "```cmake\n", "```\n");
  snprintf(path, sizeof path, "%s/geometric.c", work);
  dxt_spit(path, src);
  snprintf(path, sizeof path, "%s/CMakeLists.txt", work);
  dxt_spit(path, lists);
  snprintf(cmd, sizeof cmd,
           "cmake -S . -B build -DCMAKE_PREFIX_PATH='%s' && cmake --build build && "
           "'%s/bin/ddpmx' plugins build/geometric.so",
           prefix, prefix);
  ck_assert_msg(sh(cmd, &out) == 0, "%.3000s", out);
  ck_assert_msg(strstr(out, "NAME\n    geometric - beta growing") != NULL, "%.3000s", out);
  free(out);
  free(lists);
  free(src);
  free(doc);
}
END_TEST

int main(void) {
  Suite *s = suite_create("sdk");
  TCase *tc = tcase_create("sdk");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, doc_shows_the_tested_plugin);
  tcase_add_test(tc, install_layout);
  tcase_add_test(tc, out_of_tree_plugin_builds_and_loads);
  tcase_add_test(tc, find_package_builds_the_plugin);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
