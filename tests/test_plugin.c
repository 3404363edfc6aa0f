/* The plugin loader: search path, ABI and descriptor checks against the test
 * plugins in <build>/tests/plugins/, parameter validation against a spec,
 * listing and documentation. Expected messages are written out in full: they
 * are what a user reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpmx/schedule.h"
#include "dx_test.h"
#include "plugin/loader.h"

/* Sizes chosen so that every message fits with the paths in it. */
#define DIR_MAX 1024
#define MSG_MAX 4096
static char plugin_dir[DIR_MAX];

static void setup(void) {
  const char *build = getenv("DDPMX_BUILD_DIR");
  ck_assert_msg(build != NULL, "DDPMX_BUILD_DIR is not set (run through ctest)");
  int n = snprintf(plugin_dir, sizeof plugin_dir, "%s/tests/plugins", build);
  ck_assert_int_lt(n, DIR_MAX);
  unsetenv("DDPMX_PLUGIN_PATH");
}

static const char *test_plugin(const char *file) {
  static char path[DIR_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", plugin_dir, file);
  return path;
}

/* --- loading ------------------------------------------------------------------------- */

START_TEST(good_plugin_loads) {
  char err[MSG_MAX] = "";
  dx_plugin *p;
  ck_assert_int_eq(dx_plugin_open(test_plugin("good_sched.so"), &p, err, sizeof err), DX_OK);
  ck_assert_str_eq(p->desc->name, "good_sched");
  ck_assert_str_eq(p->desc->version, "1.2.3");
  ck_assert_int_eq(p->desc->kind, DX_KIND_SCHEDULE);
  ck_assert_uint_eq(p->desc->n_params, 6);
  ck_assert_str_eq(p->path, test_plugin("good_sched.so"));
  /* The checksum against coreutils' sha256sum, an independent program. */
  char cmd[DIR_MAX + 96], want[65] = "";
  snprintf(cmd, sizeof cmd, "sha256sum '%s'", p->path);
  FILE *sum = popen(cmd, "r");
  ck_assert(sum && fscanf(sum, "%64s", want) == 1);
  pclose(sum);
  ck_assert_str_eq(p->sha256, want);
  dx_plugin_close(p);
}
END_TEST

static const struct {
  const char *file, *why; /* why: the message after "PATH: " */
} refusals[] = {
    {"bad.so", "not a shared object (invalid ELF header)"},
    {"no_entry.so", "not a ddpmx plugin (no dx_plugin_entry symbol)"},
    {"null_desc.so", "dx_plugin_entry returned NULL"},
    {"wrong_abi.so", "built for plugin ABI version 99, but this ddpmx uses version 2; rebuild the "
                     "plugin against this ddpmx"},
    {"old_abi.so", "built for plugin ABI version 1, but this ddpmx uses version 2; rebuild the "
                   "plugin against this ddpmx"},
    {"old_sdk.so", "cannot be loaded (undefined symbol: dx_numel): it was built against another "
                   "ddpmx SDK; rebuild the plugin against this ddpmx (plugin ABI version 2)"},
    {"bad_kind.so", "plugin 'bad_kind' has an unknown kind 9"},
    {"no_ops.so", "plugin 'no_ops' has no ops table"},
    {"no_name.so", "the descriptor has no name"},
    {"misnamed.so", "the plugin is named 'other_name', so its file must be other_name.so"},
    {"spec_name.so", "plugin 'spec_name': parameter 2 has an invalid name 'Bad-Name' (lowercase "
                     "letters, digits and _; not 'plugin')"},
    {"spec_dup.so", "plugin 'spec_dup': parameter 's' is declared twice"},
    {"spec_type.so", "plugin 'spec_type': parameter 's': unknown type 42"},
    {"spec_default.so", "plugin 'spec_default': parameter 's': default '0.1x' is not a number"},
    {"spec_outside.so",
     "plugin 'spec_outside': parameter 'steps': default 0 is outside its range [1, 100]"},
    {"spec_range.so", "plugin 'spec_range': parameter 's': malformed range '[0, 1' (write it like "
                      "[0, 1) or (0, inf))"},
    {"spec_choice.so", "plugin 'spec_choice': parameter 'mode': empty choice list '' (write the "
                       "words as a|b|c)"},
};

START_TEST(broken_plugin_refused) {
  char err[MSG_MAX] = "", want[MSG_MAX];
  const char *path = test_plugin(refusals[_i].file);
  dx_plugin *p = (dx_plugin *)1;
  ck_assert_int_eq(dx_plugin_open(path, &p, err, sizeof err), DX_ERR_PLUGIN);
  ck_assert_ptr_null(p);
  snprintf(want, sizeof want, "%s: %s", path, refusals[_i].why);
  ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(missing_file_is_named) {
  char err[MSG_MAX] = "";
  dx_plugin_path *sp = dx_plugin_path_create(NULL, 0);
  dx_plugin *p;
  ck_assert_int_eq(dx_plugin_load(sp, "./nowhere/x.so", 0, NULL, &p, err, sizeof err),
                   DX_ERR_PLUGIN);
  ck_assert_str_eq(err, "plugin file ./nowhere/x.so does not exist");
  dx_plugin_path_free(sp);
}
END_TEST

START_TEST(wrong_kind_names_both) {
  char err[MSG_MAX] = "";
  setenv("DDPMX_PLUGIN_PATH", plugin_dir, 1);
  dx_plugin_path *sp = dx_plugin_path_create(NULL, 0);
  dx_plugin *p;
  ck_assert_int_eq(
      dx_plugin_load(sp, "good_sched", DX_KIND_LOSS, "diffusion.loss", &p, err, sizeof err),
      DX_ERR_PLUGIN);
  ck_assert_str_eq(err, "plugin 'good_sched' is a schedule, but diffusion.loss needs a loss");
  ck_assert_int_eq(
      dx_plugin_load(sp, "good_loss", DX_KIND_LOSS, "diffusion.loss", &p, err, sizeof err), DX_OK);
  ck_assert_str_eq(p->desc->name, "good_loss");
  dx_plugin_close(p);
  dx_plugin_path_free(sp);
}
END_TEST

START_TEST(kind_names) {
  ck_assert_str_eq(dx_plugin_kind_name(DX_KIND_SCHEDULE), "schedule");
  ck_assert_str_eq(dx_plugin_kind_name(DX_KIND_BLOCK), "block");
  ck_assert_str_eq(dx_plugin_kind_name(DX_KIND_LOSS), "loss");
  ck_assert_str_eq(dx_plugin_kind_name(DX_KIND_SAMPLER), "sampler");
  ck_assert_ptr_null(dx_plugin_kind_name((dx_plugin_kind)0));
  ck_assert_ptr_null(dx_plugin_kind_name((dx_plugin_kind)5));
}
END_TEST

/* --- the search path ------------------------------------------------------------------- */

/* A temporary folder holding a copy of good_sched.so. */
static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  ck_assert(in && out);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
  fclose(in);
  ck_assert_int_eq(fclose(out), 0);
}

static char *temp_copy_dir(void) {
  static char dir[32];
  snprintf(dir, sizeof dir, "/tmp/dx_plugin_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char to[DIR_MAX];
  snprintf(to, sizeof to, "%s/good_sched.so", dir);
  copy_file(test_plugin("good_sched.so"), to);
  return dir;
}

static void remove_copy_dir(const char *dir) {
  char path[DIR_MAX];
  snprintf(path, sizeof path, "%s/good_sched.so", dir);
  unlink(path);
  rmdir(dir);
}

static char *find(const dx_plugin_path *sp, const char *name) {
  char err[MSG_MAX] = "", *path = NULL;
  ck_assert_msg(dx_plugin_path_find(sp, name, &path, err, sizeof err) == DX_OK, "%s", err);
  return path;
}

START_TEST(path_order_first_match_wins) {
  char *copy = temp_copy_dir(), env[MSG_MAX], want[MSG_MAX];
  const char *extra[] = {plugin_dir, "/nonexistent/folder"};

  snprintf(env, sizeof env, "%s:", copy); /* empty entries are skipped */
  setenv("DDPMX_PLUGIN_PATH", env, 1);
  dx_plugin_path *sp = dx_plugin_path_create(extra, 2);
  size_t n = dx_plugin_path_count(sp);
  ck_assert_str_eq(dx_plugin_path_dir(sp, n - 3), copy);
  ck_assert_str_eq(dx_plugin_path_dir(sp, n - 2), plugin_dir);
  ck_assert_str_eq(dx_plugin_path_dir(sp, n - 1), "/nonexistent/folder");
  char *path = find(sp, "good_sched");
  snprintf(want, sizeof want, "%s/good_sched.so", copy);
  ck_assert_str_eq(path, want);
  free(path);
  dx_plugin_path_free(sp);

  /* The environment comes before the experiment's folders. */
  snprintf(env, sizeof env, "%s:%s", plugin_dir, copy);
  setenv("DDPMX_PLUGIN_PATH", env, 1);
  sp = dx_plugin_path_create(NULL, 0);
  path = find(sp, "good_sched");
  ck_assert_str_eq(path, test_plugin("good_sched.so"));
  free(path);
  dx_plugin_path_free(sp);
  remove_copy_dir(copy);
}
END_TEST

START_TEST(path_drops_duplicate_folders) {
  char env[MSG_MAX];
  snprintf(env, sizeof env, "%s:%s/:%s/../plugins", plugin_dir, plugin_dir, plugin_dir);
  setenv("DDPMX_PLUGIN_PATH", env, 1);
  dx_plugin_path *with = dx_plugin_path_create(NULL, 0);
  unsetenv("DDPMX_PLUGIN_PATH");
  dx_plugin_path *without = dx_plugin_path_create(NULL, 0);
  ck_assert_uint_eq(dx_plugin_path_count(with), dx_plugin_path_count(without) + 1);
  dx_plugin_path_free(with);
  dx_plugin_path_free(without);
}
END_TEST

START_TEST(not_found_suggests_and_lists_folders) {
  char err[MSG_MAX] = "", want[MSG_MAX], *path;
  const char *extra[] = {plugin_dir};
  dx_plugin_path *sp = dx_plugin_path_create(extra, 1);
  ck_assert_int_eq(dx_plugin_path_find(sp, "good_shed", &path, err, sizeof err), DX_ERR_PLUGIN);
  ck_assert_ptr_null(path);
  snprintf(want, sizeof want,
           "plugin 'good_shed' not found (did you mean 'good_sched'?); searched:");
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
  snprintf(want, sizeof want, ", %s (add a folder with DDPMX_PLUGIN_PATH or plugin_path)",
           plugin_dir);
  ck_assert_msg(strstr(err, want) != NULL, "%s", err);
  dx_plugin_path_free(sp);
}
END_TEST

/* --- parameters -------------------------------------------------------------------------- */

#define ARG(k, v, style, line, col)                                                                \
  {                                                                                                \
    (char *)(k), (char *)(v), (style), {"exp.yaml", (line), (col)}, {                              \
      "exp.yaml", (line), (col) + (int)sizeof(k) + 1                                               \
    }                                                                                              \
  }
#define PLAIN DX_SCALAR_PLAIN
#define QUOTED DX_SCALAR_QUOTED

static dx_plugin *open_good(const char *file) {
  char err[MSG_MAX] = "";
  dx_plugin *p;
  ck_assert_msg(dx_plugin_open(test_plugin(file), &p, err, sizeof err) == DX_OK, "%s", err);
  return p;
}

/* `schedule: {plugin: good_sched, ...}` on line 3, the plugin name at col 15. */
static dx_status params_of(const dx_plugin *p, dx_plugin_arg *args, int n, dx_params **out,
                           char *err, size_t errlen) {
  dx_plugin_ref ref = {(char *)p->desc->name, {"exp.yaml", 3, 15}, args, n};
  return dx_params_create(p->desc, &ref, out, err, errlen);
}

/* Every failing case: the plugin, its arguments, the exact message. Most
 * also give the required `scale`, so that only the argument under test is
 * wrong. */
#define G "good_sched.so"
#define SCALE ARG("scale", "1", PLAIN, 3, 30)
static const struct {
  const char *file;
  int n;
  dx_plugin_arg args[2];
  const char *want;
} bad_args[] = {
    {G,
     2,
     {SCALE, ARG("ss", "0.1", PLAIN, 4, 5)},
     "exp.yaml:4:5: plugin 'good_sched' has no parameter 'ss' (did you mean 's'?); its parameters "
     "are: s, steps, clip, mode, label, scale"},
    {G,
     2,
     {SCALE, ARG("zzz", "1", PLAIN, 4, 5)},
     "exp.yaml:4:5: plugin 'good_sched' has no parameter 'zzz'; its parameters are: s, steps, "
     "clip, mode, label, scale"},
    {G,
     2,
     {SCALE, ARG("steps", "1.5", PLAIN, 5, 7)},
     "exp.yaml:5:14: parameter 'steps' of plugin 'good_sched' must be an integer, not '1.5'"},
    {G,
     2,
     {SCALE, ARG("s", "small", PLAIN, 5, 7)},
     "exp.yaml:5:10: parameter 's' of plugin 'good_sched' must be a number, not 'small'"},
    {G,
     2,
     {SCALE, ARG("scale", "2", QUOTED, 5, 7)},
     "exp.yaml:5:14: parameter 'scale' of plugin 'good_sched' "
     "must be a number, not the quoted string '2'"},
    {G,
     2,
     {SCALE, ARG("s", "nan", PLAIN, 5, 7)},
     "exp.yaml:5:10: parameter 's' of plugin 'good_sched' must be a number, not 'nan'"},
    {G,
     2,
     {SCALE, ARG("s", "0x1p-3", PLAIN, 5, 7)},
     "exp.yaml:5:10: parameter 's' of plugin 'good_sched' must be a number, not '0x1p-3'"},
    {G,
     2,
     {SCALE, ARG("clip", "yes", PLAIN, 6, 3)},
     "exp.yaml:6:9: parameter 'clip' of plugin 'good_sched' must be true or false, not 'yes'"},
    {G,
     2,
     {SCALE, ARG("s", "0.5", PLAIN, 7, 3)},
     "exp.yaml:7:6: parameter 's' of plugin 'good_sched' is 0.5, outside [0, 0.5)"},
    {G,
     2,
     {SCALE, ARG("s", "-1e-9", PLAIN, 7, 3)},
     "exp.yaml:7:6: parameter 's' of plugin 'good_sched' is -1e-9, outside [0, 0.5)"},
    {G,
     2,
     {SCALE, ARG("steps", "0", PLAIN, 7, 3)},
     "exp.yaml:7:10: parameter 'steps' of plugin 'good_sched' is 0, outside [1, 1000]"},
    {G,
     2,
     {SCALE, ARG("steps", "1001", PLAIN, 7, 3)},
     "exp.yaml:7:10: parameter 'steps' of plugin 'good_sched' is 1001, outside [1, 1000]"},
    {G,
     2,
     {SCALE, ARG("scale", "0", PLAIN, 7, 3)},
     "exp.yaml:7:10: parameter 'scale' of plugin 'good_sched' is 0, outside (0, inf)"},
    {G,
     2,
     {SCALE, ARG("mode", "tahn", PLAIN, 8, 3)},
     "exp.yaml:8:9: parameter 'mode' of plugin 'good_sched' "
     "must be one of erf, tanh, not 'tahn' (did you mean 'tanh'?)"},
    {G,
     2,
     {SCALE, ARG("mode", "relu", QUOTED, 8, 3)},
     "exp.yaml:8:9: parameter 'mode' of plugin 'good_sched' must be one of erf, tanh, not 'relu'"},
    {G,
     1,
     {ARG("s", "0.1", PLAIN, 4, 5)},
     "exp.yaml:3:15: plugin 'good_sched' needs parameter 'scale' (float in (0, inf))"},
    {"good_loss.so",
     1,
     {ARG("delta", "1", PLAIN, 9, 11)},
     "exp.yaml:9:11: plugin 'good_loss' takes no parameters, but 'delta' is given"},
    {G,
     1,
     {{"scale", "-2", PLAIN, {"<command line>", 0, 3}, {"<command line>", 0, 3}}},
     "<command line>:3: parameter 'scale' of plugin 'good_sched' is -2, outside (0, inf)"},
};

START_TEST(bad_argument_reported_at_its_position) {
  char err[MSG_MAX] = "";
  dx_plugin *p = open_good(bad_args[_i].file);
  dx_plugin_arg args[2] = {bad_args[_i].args[0], bad_args[_i].args[1]};
  dx_params *params = (dx_params *)1;
  ck_assert_int_eq(params_of(p, args, bad_args[_i].n, &params, err, sizeof err), DX_ERR_CONFIG);
  ck_assert_ptr_null(params);
  ck_assert_str_eq(err, bad_args[_i].want);
  dx_plugin_close(p);
}
END_TEST

START_TEST(parameterless_plugin_takes_none) {
  char err[MSG_MAX] = "";
  dx_plugin *p = open_good("good_loss.so");
  dx_params *params;
  ck_assert_int_eq(params_of(p, NULL, 0, &params, err, sizeof err), DX_OK);
  ck_assert_uint_eq(dx_params_count(params), 0);
  dx_params_free(params);
  dx_plugin_close(p);
}
END_TEST

START_TEST(values_and_defaults) {
  char err[MSG_MAX] = "";
  dx_plugin *p = open_good("good_sched.so");
  dx_plugin_arg args[] = {
      ARG("scale", "2.5e-1", PLAIN, 3, 30), ARG("steps", "+7", PLAIN, 4, 5),
      ARG("clip", "False", PLAIN, 5, 5),    ARG("mode", "tanh", QUOTED, 6, 5),
      ARG("label", "42", PLAIN, 7, 5),      ARG("s", "0", PLAIN, 8, 5),
      ARG("s", "1e-1", PLAIN, 9, 5), /* the later of two wins, as overrides do */
  };
  dx_params *v;
  ck_assert_msg(params_of(p, args, 7, &v, err, sizeof err) == DX_OK, "%s", err);
  dx_plugin_close(p); /* the values outlive the plugin */
  ck_assert_double_eq(dx_params_float(v, "scale"), 0.25);
  ck_assert_int_eq(dx_params_int(v, "steps"), 7);
  ck_assert_double_eq(dx_params_float(v, "steps"), 7.0);
  ck_assert(!dx_params_bool(v, "clip"));
  ck_assert_str_eq(dx_params_string(v, "mode"), "tanh");
  ck_assert_str_eq(dx_params_string(v, "label"), "42");
  ck_assert_double_eq(dx_params_float(v, "s"), 0.1);
  /* A name the spec lacks or a type it does not have reads as zero. */
  ck_assert_int_eq(dx_params_int(v, "nope"), 0);
  ck_assert_int_eq(dx_params_int(v, "scale"), 0);
  ck_assert_ptr_null(dx_params_string(v, "steps"));
  const char *names[] = {"s", "steps", "clip", "mode", "label", "scale"};
  const char *texts[] = {"0.1", "7", "false", "tanh", "42", "0.25"};
  ck_assert_uint_eq(dx_params_count(v), 6);
  for (size_t i = 0; i < 6; i++) {
    ck_assert_str_eq(dx_params_name(v, i), names[i]);
    ck_assert_str_eq(dx_params_text(v, i), texts[i]);
  }
  ck_assert_int_eq(dx_params_type(v, 2), DX_PARAM_BOOL);
  dx_params_free(v);
}
END_TEST

START_TEST(defaults_reach_the_plugin) {
  char err[MSG_MAX] = "";
  dx_plugin *p = open_good("good_sched.so");
  dx_plugin_arg args[] = {ARG("scale", "0.5", PLAIN, 3, 30)};
  dx_params *v;
  ck_assert_msg(params_of(p, args, 1, &v, err, sizeof err) == DX_OK, "%s", err);
  ck_assert_double_eq(dx_params_float(v, "s"), 0.008);
  ck_assert_int_eq(dx_params_int(v, "steps"), 10);
  ck_assert(dx_params_bool(v, "clip"));
  ck_assert_str_eq(dx_params_string(v, "mode"), "erf");
  ck_assert_str_eq(dx_params_text(v, 0), "0.008");
  /* The plugin computes beta_t = scale * t / T with the value it is given. */
  const dx_schedule_ops *ops = p->desc->ops;
  double beta[4];
  ck_assert_int_eq(ops->betas(NULL, v, 4, beta), DX_OK);
  ck_assert_double_eq(beta[0], 0.125);
  ck_assert_double_eq(beta[3], 0.5);
  dx_params_free(v);
  dx_plugin_close(p);
}
END_TEST

/* --- ranges and specs in-process ------------------------------------------------------- */

static const struct {
  const char *range;
  bool valid;
} ranges[] = {
    {"[0, 1]", true},
    {"(0, 1)", true},
    {"[0, 1)", true},
    {"(0,1]", true},
    {" [ -1 , 1 ] ", true},
    {"(-inf, inf)", true},
    {"[1, 1]", true},
    {"[.5, 2e3)", true},
    {"[0, 1", false},
    {"0, 1]", false},
    {"[0 1]", false},
    {"[1, 0]", false},
    {"[0, 1]x", false},
    {"[nan, 1]", false},
    {"[0, 1, 2]", false},
    {"[a, b]", false},
    {"", false},
    {"[0, 0x10]", false},
    {"[inf, inf]", false},
    {"(1, 1)", false},
    {"[1, 1)", false},
    {"(1, 1]", false},
};

START_TEST(range_syntax) {
  char err[MSG_MAX] = "";
  dx_param_spec spec = {"x", DX_PARAM_FLOAT, NULL, ranges[_i].range, NULL, "x"};
  dx_plugin_desc d = {DX_PLUGIN_ABI_VERSION, DX_KIND_LOSS, "t", "1", "t", NULL, &spec, 1, &spec};
  bool ok = dx_plugin_spec_check(&d, err, sizeof err);
  ck_assert_msg(ok == ranges[_i].valid, "range '%s': %s", ranges[_i].range, err);
}
END_TEST

/* Each bracket decides whether its end belongs to the interval. */
static bool accepts(const char *range, const char *value) {
  char err[MSG_MAX] = "";
  dx_param_spec spec = {"x", DX_PARAM_FLOAT, NULL, range, NULL, "x"};
  dx_plugin_desc d = {DX_PLUGIN_ABI_VERSION, DX_KIND_LOSS, "t", "1", "t", NULL, &spec, 1, &spec};
  ck_assert(dx_plugin_spec_check(&d, err, sizeof err));
  dx_plugin_arg arg = ARG("x", value, PLAIN, 1, 1);
  dx_plugin_ref ref = {"t", {"e.yaml", 1, 1}, &arg, 1};
  dx_params *p = NULL;
  dx_status st = dx_params_create(&d, &ref, &p, err, sizeof err);
  dx_params_free(p);
  return st == DX_OK;
}

START_TEST(range_ends) {
  ck_assert(accepts("[0, 1]", "0") && accepts("[0, 1]", "1"));
  ck_assert(!accepts("(0, 1]", "0") && accepts("(0, 1]", "1"));
  ck_assert(accepts("[0, 1)", "0") && !accepts("[0, 1)", "1"));
  ck_assert(!accepts("(0, 1)", "0") && !accepts("(0, 1)", "1") && accepts("(0, 1)", "0.5"));
  ck_assert(accepts("(-inf, 0]", "-1e300") && !accepts("(-inf, 0]", "1e-300"));
  ck_assert(accepts("(0, inf)", "1e300"));
}
END_TEST

START_TEST(spec_rules) {
  char err[MSG_MAX] = "";
  dx_param_spec specs[][1] = {
      {{"plugin", DX_PARAM_INT, "1", NULL, NULL, "reserved word"}},
      {{"flag", DX_PARAM_BOOL, "true", "[0, 1]", NULL, "a bool has no range"}},
      {{"mode", DX_PARAM_CHOICE, "c", "a|b", NULL, "default not a choice"}},
      {{"mode", DX_PARAM_CHOICE, "a", "a||b", NULL, "empty word"}},
      {{"n", DX_PARAM_INT, "1.0", NULL, NULL, "not an integer"}},
  };
  const char *want[] = {
      "parameter 1 has an invalid name 'plugin' (lowercase letters, digits and _; not 'plugin')",
      "parameter 'flag': a bool takes no range, but '[0, 1]' is given",
      "parameter 'mode': default 'c' is not one of its choices a|b",
      "parameter 'mode': empty choice list 'a||b' (write the words as a|b|c)",
      "parameter 'n': default '1.0' is not an integer",
  };
  for (size_t i = 0; i < DX_COUNT(want); i++) {
    dx_plugin_desc d = {DX_PLUGIN_ABI_VERSION, DX_KIND_LOSS, "t", "1", "t", NULL, specs[i], 1, &d};
    ck_assert(!dx_plugin_spec_check(&d, err, sizeof err));
    ck_assert_str_eq(err, want[i]);
  }
  dx_plugin_desc none = {DX_PLUGIN_ABI_VERSION, DX_KIND_LOSS, "t", "1", "t", NULL, NULL, 2, &none};
  ck_assert(!dx_plugin_spec_check(&none, err, sizeof err));
  ck_assert_str_eq(err, "descriptor declares 2 parameters but its params table is NULL");
}
END_TEST

/* --- resolve: load + parameters for a YAML reference ------------------------------------ */

START_TEST(resolve_prefixes_position) {
  char err[MSG_MAX] = "";
  const char *extra[] = {plugin_dir};
  dx_plugin_path *sp = dx_plugin_path_create(extra, 1);
  dx_plugin_arg args[] = {ARG("scale", "3", PLAIN, 12, 30)};
  dx_plugin_ref ref = {"good_sched", {"exp.yaml", 12, 15}, args, 1};
  dx_plugin *p;
  dx_params *v;
  ck_assert_int_eq(
      dx_plugin_resolve(sp, &ref, DX_KIND_SAMPLER, "diffusion.sampler", &p, &v, err, sizeof err),
      DX_ERR_PLUGIN);
  ck_assert_str_eq(err, "exp.yaml:12:15: plugin 'good_sched' is a schedule, but diffusion.sampler "
                        "needs a sampler");
  ck_assert_int_eq(
      dx_plugin_resolve(sp, &ref, DX_KIND_SCHEDULE, "diffusion.schedule", &p, &v, err, sizeof err),
      DX_OK);
  ck_assert_double_eq(dx_params_float(v, "scale"), 3.0);
  dx_params_free(v);
  dx_plugin_close(p);
  ref.plugin = "wrong_abi";
  ck_assert_int_eq(
      dx_plugin_resolve(sp, &ref, DX_KIND_SCHEDULE, "diffusion.schedule", &p, &v, err, sizeof err),
      DX_ERR_PLUGIN);
  ck_assert_msg(strncmp(err, "exp.yaml:12:15: /", 17) == 0, "%s", err);
  ck_assert_ptr_nonnull(strstr(err, "/wrong_abi.so: built for plugin ABI version 99"));
  dx_plugin_path_free(sp);
}
END_TEST

/* --- listing and docs ---------------------------------------------------------------------- */

static const dx_plugin_found *listed(const dx_plugin_list *l, const char *path) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i].path, path) == 0) return &l->items[i];
  return NULL;
}

START_TEST(scan_lists_good_and_broken) {
  char err[MSG_MAX] = "", *copy = temp_copy_dir(), env[MSG_MAX], path[MSG_MAX];
  snprintf(env, sizeof env, "%s:%s", plugin_dir, copy);
  setenv("DDPMX_PLUGIN_PATH", env, 1);
  dx_plugin_path *sp = dx_plugin_path_create(NULL, 0);
  dx_plugin_list l;
  ck_assert_int_eq(dx_plugin_scan(sp, &l, err, sizeof err), DX_OK);
  const dx_plugin_found *f = listed(&l, test_plugin("good_sched.so"));
  ck_assert(f && f->plugin && !f->error);
  f = listed(&l, test_plugin("bad.so"));
  ck_assert(f && !f->plugin && f->error);
  snprintf(path, sizeof path, "%s: %s", test_plugin("bad.so"), refusals[0].why);
  ck_assert_str_eq(f->error, path);
  for (size_t i = 0; i < DX_COUNT(refusals); i++) {
    f = listed(&l, test_plugin(refusals[i].file));
    ck_assert_msg(f && !f->plugin && f->error, "%s", refusals[i].file);
  }
  snprintf(path, sizeof path, "%s/good_sched.so", copy);
  f = listed(&l, path);
  ck_assert(f && f->plugin && f->error);
  snprintf(env, sizeof env, "shadowed by %s", test_plugin("good_sched.so"));
  ck_assert_str_eq(f->error, env);
  dx_plugin_list_free(&l);
  dx_plugin_path_free(sp);
  remove_copy_dir(copy);
}
END_TEST

START_TEST(doc_reads_like_a_man_page) {
  dx_plugin *p = open_good("good_sched.so");
  char *doc = dx_plugin_doc(p), want[MSG_MAX];
  ck_assert_ptr_nonnull(doc);
  const char *parts[] = {
      "NAME\n    good_sched - a schedule for tests\n\n",
      "KIND\n    schedule\n\n",
      "VERSION\n    1.2.3\n\n",
      "FORMULA\n    beta_t = scale * t / T\n\n",
      "PARAMETERS\n    s\n        float, default 0.008, range [0, 0.5)\n        offset of the "
      "cosine\n",
      "    steps\n        int, default 10, range [1, 1000], unit: steps\n        how many\n",
      "    mode\n        choice, default erf, one of erf|tanh\n        approximation\n",
      "    scale\n        float, required, range (0, inf)\n        required scale\n",
      "USAGE\n    {plugin: good_sched, s: 0.008, steps: 10, clip: true, mode: erf, label: x, "
      "scale: <float>}\n",
  };
  for (size_t i = 0; i < DX_COUNT(parts); i++)
    ck_assert_msg(strstr(doc, parts[i]) != NULL, "missing:\n%s\nin:\n%s", parts[i], doc);
  snprintf(want, sizeof want, "FILE\n    %s\n", test_plugin("good_sched.so"));
  ck_assert_msg(strstr(doc, want) != NULL, "%s", doc);
  free(doc);
  dx_plugin_close(p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("plugin");
  TCase *tc = tcase_create("loader");
  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_add_test(tc, good_plugin_loads);
  tcase_add_loop_test(tc, broken_plugin_refused, 0, DX_COUNT(refusals));
  tcase_add_test(tc, missing_file_is_named);
  tcase_add_test(tc, wrong_kind_names_both);
  tcase_add_test(tc, kind_names);
  tcase_add_test(tc, path_order_first_match_wins);
  tcase_add_test(tc, path_drops_duplicate_folders);
  tcase_add_test(tc, not_found_suggests_and_lists_folders);
  suite_add_tcase(s, tc);

  tc = tcase_create("params");
  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_add_loop_test(tc, bad_argument_reported_at_its_position, 0, DX_COUNT(bad_args));
  tcase_add_test(tc, parameterless_plugin_takes_none);
  tcase_add_test(tc, values_and_defaults);
  tcase_add_test(tc, defaults_reach_the_plugin);
  tcase_add_loop_test(tc, range_syntax, 0, DX_COUNT(ranges));
  tcase_add_test(tc, range_ends);
  tcase_add_test(tc, spec_rules);
  tcase_add_test(tc, resolve_prefixes_position);
  suite_add_tcase(s, tc);

  tc = tcase_create("listing");
  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_add_test(tc, scan_lists_good_and_broken);
  tcase_add_test(tc, doc_reads_like_a_man_page);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
