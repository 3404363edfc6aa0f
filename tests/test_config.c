/* Experiments: YAML to a typed dx_experiment, errors with FILE:LINE:COL,
 * overrides, extends, merge keys, and the JSON / YAML / flattened writers.
 *
 * Expected values come from the schema (typed in here by hand), from
 * the fixtures in data/config/, and from Python's json module for the JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/experiment.h"
#include "config/schema.h"
#include "dx_test.h"
#include "plugin/loader.h"
#include "util/value.h"

#define DATA "data/config/"

/* ---- helpers ------------------------------------------------------------- */

typedef struct tmp_yaml {
  char dir[64];
  char path[96];
} tmp_yaml;

/* Writes text to <fresh temporary folder>/case.yaml. */
static void tmp_write(tmp_yaml *t, const char *text) {
  snprintf(t->dir, sizeof t->dir, "/tmp/dx_config_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(t->dir));
  snprintf(t->path, sizeof t->path, "%s/case.yaml", t->dir);
  FILE *f = fopen(t->path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static void tmp_remove(tmp_yaml *t) {
  unlink(t->path);
  rmdir(t->dir);
}

static dx_experiment *load_ok(const char *path, const char *const *ov, int n) {
  char err[DX_ERRMSG_MAX] = "";
  dx_experiment *e = NULL;
  dx_status st = dx_experiment_load(path, ov, n, &e, err, sizeof err);
  ck_assert_msg(st == DX_OK, "%s: unexpected error: %s", path, err);
  ck_assert_ptr_nonnull(e);
  return e;
}

/* Loads path with the overrides and checks the status and the message. */
static void load_fails(const char *path, const char *const *ov, int n, dx_status want_st,
                       const char *want) {
  char err[DX_ERRMSG_MAX] = "";
  dx_experiment *e = (dx_experiment *)1;
  dx_status st = dx_experiment_load(path, ov, n, &e, err, sizeof err);
  ck_assert_ptr_null(e);
  ck_assert_msg(st == want_st, "status %d, want %d (%s)", st, want_st, err);
  ck_assert_str_eq(err, want);
}

static const dx_plugin_arg *arg(const dx_plugin_ref *r, const char *key) {
  for (int i = 0; i < r->n_args; i++)
    if (strcmp(r->args[i].key, key) == 0) return &r->args[i];
  return NULL;
}

static void ck_arg(const dx_plugin_ref *r, const char *key, const char *value) {
  const dx_plugin_arg *a = arg(r, key);
  ck_assert_msg(a != NULL, "%s has no argument %s", r->plugin, key);
  ck_assert_str_eq(a->value, value);
}

/* ---- broken experiments: one exact message each -------------------------- */

typedef struct error_case {
  const char *input; /* YAML, or one override */
  dx_status status;
  const char *message; /* for YAML: what follows "<path>:" */
} error_case;

static const error_case broken_cases[] = {
    {"name: x\ntrain:\n  lrr: 0.1\n", DX_ERR_CONFIG,
     "3:3: unknown key 'lrr' in train; did you mean 'lr'?"},
    {"name: x\nsed: 3\n", DX_ERR_CONFIG, "2:1: unknown top-level key 'sed'; did you mean 'seed'?"},
    {"name: x\nlr: 3\n", DX_ERR_CONFIG,
     "2:1: unknown top-level key 'lr'; did you mean 'train.lr'?"},
    {"name: x\ntrain:\n  ema:\n    deacy: 0.9\n", DX_ERR_CONFIG,
     "4:5: unknown key 'deacy' in train.ema; did you mean 'decay'?"},
    {"name: x\nlog:\n  zzzzz: 1\n", DX_ERR_CONFIG,
     "3:3: unknown key 'zzzzz' in log; valid keys here: every"},
    {"name: x\ntrain:\n  batch: abc\n", DX_ERR_CONFIG,
     "3:10: train.batch: expected an integer, got 'abc'"},
    {"name: x\ntrain:\n  batch: \"64\"\n", DX_ERR_CONFIG,
     "3:10: train.batch: expected an integer, got the quoted string '64'; remove the quotes"},
    {"name: x\ntrain:\n  steps: 1.5\n", DX_ERR_CONFIG,
     "3:10: train.steps: expected an integer, got '1.5'"},
    {"name: x\ntrain:\n  lr: fast\n", DX_ERR_CONFIG,
     "3:7: train.lr: expected a number, got 'fast'"},
    {"name: x\ntrain:\n  lr: 0x1p-3\n", DX_ERR_CONFIG,
     "3:7: train.lr: expected a number, got '0x1p-3'"},
    {"name: x\ndata:\n  flip: yes\n", DX_ERR_CONFIG,
     "3:9: data.flip: expected true or false, got 'yes'"},
    {"name: x\ntrain:\n  batch: 0\n", DX_ERR_CONFIG,
     "3:10: train.batch: 0 is out of range [1, 65536]"},
    {"name: x\ntrain:\n  lr: 0\n", DX_ERR_CONFIG, "3:7: train.lr: 0 is out of range (0, 1]"},
    {"name: x\nmodel: {dropout: 1}\n", DX_ERR_CONFIG,
     "2:18: model.dropout: 1 is out of range [0, 1)"},
    {"name: x\nseed: -1\n", DX_ERR_CONFIG, "2:7: seed: -1 is out of range [0, inf)"},
    {"name: x\ndiffusion:\n  predict: epz\n", DX_ERR_CONFIG,
     "3:12: diffusion.predict: 'epz' is not one of eps, x0, v; did you mean 'eps'?"},
    {"name: x\ntrain:\n  optimizer: Adam\n", DX_ERR_CONFIG,
     "3:14: train.optimizer: 'Adam' is not one of adam, adamw; did you mean 'adam'?"},
    {"name: x\ndiffusion:\n  predict: noise\n", DX_ERR_CONFIG,
     "3:12: diffusion.predict: 'noise' is not one of eps, x0, v"},
    {"seed: 1\n", DX_ERR_CONFIG,
     "1:1: missing required key 'name' (the run's name in the store); add it"},
    {"", DX_ERR_CONFIG, "1:1: missing required key 'name' (the run's name in the store); add it"},
    {"name: x\ntrain:\n  lr: 0.1\n  steps: 3\n  lr: 0.2\n", DX_ERR_PARSE,
     "5:3: duplicate key 'lr' (first at line 3); remove one of them"},
    {"name: x\n  seed: 1\n", DX_ERR_PARSE,
     "2:7: YAML syntax error: mapping values are not allowed in this context"},
    {"name: x\ntrain:\n  betas: [0.9, 0.99\n", DX_ERR_PARSE,
     "4:1: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence "
     "started at line 3"},
    {"name: x\ntrain:\n\tlr: 1\n", DX_ERR_PARSE,
     "3:1: YAML syntax error: found character that cannot start any token while scanning for the "
     "next token; indent with spaces, not tabs"},
    {"name: my run\n", DX_ERR_CONFIG,
     "1:7: name: 'my run' may only use letters, digits, '_', '.' and '-'"},
    {"name: x\ndevice: gpu\n", DX_ERR_CONFIG,
     "2:9: device: 'gpu' is not a device; use cpu, cuda, cuda:N or auto"},
    {"name: x\ndevice: cpu:0\n", DX_ERR_CONFIG,
     "2:9: device: 'cpu:0' is not a device; use cpu, cuda, cuda:N or auto"},
    {"name: x\ndevice: cuda:12345\n", DX_ERR_CONFIG,
     "2:9: device: 'cuda:12345' is not a device; use cpu, cuda, cuda:N or auto"},
    {"name: x\ndevice: 'cuda:'\n", DX_ERR_CONFIG,
     "2:9: device: 'cuda:' is not a device; use cpu, cuda, cuda:N or auto"},
    {"name: x\nmodel:\n  dim_mults: 3\n", DX_ERR_CONFIG,
     "3:14: model.dim_mults: expected a list, got '3'"},
    {"name: x\nmodel:\n  dim_mults: [1, x, 4]\n", DX_ERR_CONFIG,
     "3:18: model.dim_mults[1]: expected an integer, got 'x'"},
    {"name: x\nmodel:\n  dim_mults: [1, 1, 1, 1, 1, 1, 1]\n", DX_ERR_CONFIG,
     "3:14: model.dim_mults has 7 entries; it takes 1 to 6"},
    {"name: x\ntrain:\n  betas: [0.9]\n", DX_ERR_CONFIG,
     "3:10: train.betas has 1 entry; it takes exactly 2"},
    {"name: x\ntrain: 5\n", DX_ERR_CONFIG,
     "2:8: train: expected a mapping of keys (the optimiser and the training loop), got '5'"},
    {"name: x\ndiffusion:\n  schedule: cosine\n", DX_ERR_CONFIG,
     "3:13: diffusion.schedule: expected a plugin such as {plugin: linear}, got 'cosine'"},
    {"name: x\ndiffusion:\n  schedule: {plugin: cosine, s: [1]}\n", DX_ERR_CONFIG,
     "3:33: diffusion.schedule.s: a plugin parameter takes a single value, got a list"},
    {"name: x\nmodel:\n  attention: [null, {heads: 2}, null]\n", DX_ERR_CONFIG,
     "3:21: model.attention[1]: missing 'plugin: NAME'; say which plugin to use"},
    {"name: x\nmodel:\n  attention: [null, {plugin: a}]\n", DX_ERR_CONFIG,
     "3:14: model.attention has 2 entries but model.dim_mults has 3 levels; give one per level "
     "(null for none)"},
    {"name: x\ndata:\n  dataset: mnist\n", DX_ERR_CONFIG,
     "3:12: data.path is required for the dataset 'mnist'; add the folder that holds it under "
     "data"},
    {"name: x\ndata:\n  dataset: svhn\n", DX_ERR_CONFIG,
     "3:12: data.dataset: 'svhn' is not one of fashion-mnist, mnist, cifar10, folder"},
    {"name: x\ntrain: *nope\n", DX_ERR_PARSE,
     "2:8: unknown alias '*nope'; define the anchor '&nope' earlier in the file"},
    {"name: x\ntrain:\n  <<: 5\n", DX_ERR_PARSE,
     "3:7: the merge key << takes a mapping or a list of mappings, such as *base or [*a, *b]"},
    {"name: x\n---\nname: y\n", DX_ERR_PARSE,
     "2:1: a second YAML document starts here; an experiment holds one document"},
    {"- a\n- b\n", DX_ERR_CONFIG,
     "1:1: an experiment is a mapping of keys (name: ..., train: ...), got a list"},
    {"name: !!int 5\n", DX_ERR_PARSE,
     "1:7: unsupported YAML tag '!!int'; the only tag allowed is !!str"},
    {"name: x\nextends: [a, b]\n", DX_ERR_CONFIG,
     "2:10: extends: expected the name of an experiment file, got a list"},
    {"name: x\nseed: 99999999999999999999999\n", DX_ERR_CONFIG,
     "2:7: seed: 99999999999999999999999 is too large"},
};

START_TEST(broken_experiment) {
  const error_case *c = &broken_cases[_i];
  tmp_yaml t;
  tmp_write(&t, c->input);
  char want[DX_ERRMSG_MAX];
  snprintf(want, sizeof want, "%s:%s", t.path, c->message);
  load_fails(t.path, NULL, 0, c->status, want);
  tmp_remove(&t);
}
END_TEST

START_TEST(unreadable_files) {
  load_fails(DATA "no_such.yaml", NULL, 0, DX_ERR_IO,
             DATA "no_such.yaml: cannot read the experiment: No such file or directory");
  load_fails(DATA "sub", NULL, 0, DX_ERR_IO,
             DATA "sub: cannot read the experiment: Is a directory");
}
END_TEST

START_TEST(aliases_cannot_explode) {
  /* Ten aliases per level, nine levels: 10^9 nodes if expanded. */
  char yaml[4096] = "name: x\na0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n";
  for (int i = 1; i < 9; i++) {
    size_t n = strlen(yaml);
    snprintf(yaml + n, sizeof yaml - n, "a%d: &a%d [", i, i);
    for (int j = 0; j < 10; j++) {
      n = strlen(yaml);
      snprintf(yaml + n, sizeof yaml - n, "%s*a%d", j ? ", " : "", i - 1);
    }
    strcat(yaml, "]\n");
  }
  tmp_yaml t;
  tmp_write(&t, yaml);
  char err[DX_ERRMSG_MAX];
  dx_experiment *e;
  ck_assert_int_eq(dx_experiment_load(t.path, NULL, 0, &e, err, sizeof err), DX_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "aliases expand to more than 1000000 nodes"));
  tmp_remove(&t);
}
END_TEST

/* ---- values -------------------------------------------------------------- */

/* Every default, as the issue states it. */
START_TEST(defaults_applied) {
  dx_experiment *e = load_ok(DATA "minimal.yaml", NULL, 0);
  ck_assert_str_eq(e->name, "minimal");
  ck_assert_ptr_null(e->extends);
  ck_assert_ptr_null(e->description);
  ck_assert_int_eq(e->seed, 0);
  ck_assert_str_eq(e->device, "cpu");
  ck_assert_int_eq(e->device_v.kind, DX_DEVICE_CPU);
  ck_assert(!e->device_auto);
  ck_assert_int_eq(e->n_plugin_path, 0);
  ck_assert_int_eq(e->data.dataset, DX_DATA_FASHION_MNIST);
  ck_assert_str_eq(e->data.path, "/usr/share/datasets/fashion-mnist");
  ck_assert(!e->data.flip && !e->data.pad_pow2);
  const dx_exp_model *m = &e->model;
  ck_assert_int_eq(m->dim, 32);
  ck_assert_int_eq(m->n_levels, 3);
  ck_assert_int_eq(m->dim_mults[0], 1);
  ck_assert_int_eq(m->dim_mults[1], 2);
  ck_assert_int_eq(m->dim_mults[2], 4);
  ck_assert_str_eq(m->block.plugin, "resnet");
  ck_assert_int_eq(m->block.n_args, 0);
  ck_assert(!m->attention_per_level);
  for (int l = 0; l < 3; l++)
    ck_assert_str_eq(m->attention[l].plugin, "attention_linear");
  ck_assert_ptr_null(m->attention[3].plugin);
  ck_assert_str_eq(m->mid_attention.plugin, "attention_full");
  ck_assert_double_eq(m->dropout, 0);
  const dx_exp_diffusion *d = &e->diffusion;
  ck_assert_int_eq(d->T, 1000);
  ck_assert_int_eq(d->predict, DX_PREDICT_EPS);
  ck_assert_str_eq(d->schedule.plugin, "linear");
  ck_assert_str_eq(d->loss.plugin, "mse");
  ck_assert_str_eq(d->sampler.plugin, "beta_tilde");
  ck_assert_int_eq(d->timesteps, DX_TIMESTEPS_UNIFORM);
  const dx_exp_train *tr = &e->train;
  ck_assert_int_eq(tr->steps, 1000);
  ck_assert_int_eq(tr->batch, 64);
  ck_assert_int_eq(tr->optimizer, DX_OPTIMIZER_ADAM);
  ck_assert_double_eq(tr->lr, 2e-4);
  ck_assert_double_eq(tr->betas[0], 0.9);
  ck_assert_double_eq(tr->betas[1], 0.999);
  ck_assert_double_eq(tr->weight_decay, 0);
  ck_assert_int_eq(tr->warmup, 0);
  ck_assert_int_eq(tr->lr_schedule, DX_EXP_LR_CONSTANT);
  ck_assert_double_eq(tr->clip_grad, 1.0);
  ck_assert_double_eq(tr->ema.decay, 0.995);
  ck_assert_int_eq(tr->ema.every, 1);
  ck_assert_int_eq(tr->ema.start, 0);
  ck_assert_int_eq(tr->threads, 0);
  ck_assert_int_eq(e->log.every, 50);
  ck_assert_int_eq(e->sample.every, 1000);
  ck_assert_int_eq(e->sample.count, 64);
  ck_assert_int_eq(e->sample.nrow, 8);
  ck_assert_int_eq(e->sample.steps, 0);
  ck_assert_int_eq(e->eval.every, 0);
  ck_assert_int_eq(e->eval.images, 256);
  ck_assert_int_eq(e->eval.batch, 64);
  ck_assert_int_eq(e->checkpoint.every, 1000);
  ck_assert_str_eq(e->checkpoint.dir, "results/checkpoints");
  ck_assert_str_eq(e->path, DATA "minimal.yaml");
  ck_assert_str_eq(e->source, "name: minimal\n");
  dx_experiment_free(e);
}
END_TEST

START_TEST(every_key_written) {
  dx_experiment *e = load_ok(DATA "full.yaml", NULL, 0);
  ck_assert_int_eq(e->seed, 7);
  ck_assert_str_eq(e->description, "cosine schedule with a Huber loss");
  ck_assert_int_eq(e->device_v.kind, DX_DEVICE_CUDA);
  ck_assert_int_eq(e->device_v.index, 1);
  ck_assert_int_eq(e->n_plugin_path, 1);
  char cwd[4096];
  ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
  char want[4200];
  snprintf(want, sizeof want, "%s/" DATA "my-plugins", cwd);
  ck_assert_str_eq(e->plugin_path[0], want); /* relative to the file */
  ck_assert(e->data.flip);
  const dx_exp_model *m = &e->model;
  ck_assert_int_eq(m->dim, 48);
  ck_assert_int_eq(m->n_levels, 4);
  ck_assert_int_eq(m->dim_mults[3], 4);
  ck_arg(&m->block, "groups", "4");
  ck_assert(m->attention_per_level);
  ck_assert_ptr_null(m->attention[0].plugin);
  ck_assert_ptr_null(m->attention[1].plugin);
  ck_assert_str_eq(m->attention[2].plugin, "attention_linear");
  ck_arg(&m->attention[2], "dim_head", "32");
  ck_assert_str_eq(m->attention[3].plugin, "attention_full");
  ck_assert_double_eq(m->dropout, 0.1);
  const dx_exp_diffusion *d = &e->diffusion;
  ck_assert_int_eq(d->T, 500);
  ck_assert_int_eq(d->predict, DX_PREDICT_V);
  ck_assert_str_eq(d->schedule.plugin, "cosine");
  ck_arg(&d->schedule, "s", "0.008");
  /* Positions for the plugin loader's messages. */
  ck_assert_str_eq(d->schedule.pos.file, DATA "full.yaml");
  ck_assert_int_eq(d->schedule.pos.line, 20);
  ck_assert_int_eq(d->schedule.pos.col, 22);
  ck_assert_int_eq(arg(&d->schedule, "s")->value_pos.col, 33);
  ck_assert_int_eq(arg(&d->schedule, "s")->style, DX_SCALAR_PLAIN);
  ck_assert_int_eq(d->timesteps, DX_TIMESTEPS_IMPORTANCE);
  const dx_exp_train *tr = &e->train;
  ck_assert_int_eq(tr->optimizer, DX_OPTIMIZER_ADAMW);
  ck_assert_double_eq(tr->betas[1], 0.99);
  ck_assert_int_eq(tr->lr_schedule, DX_EXP_LR_COSINE);
  ck_assert_double_eq(tr->clip_grad, 0);
  ck_assert_double_eq(tr->ema.decay, 0.9999);
  ck_assert_int_eq(tr->ema.start, 1000);
  ck_assert_int_eq(e->sample.steps, 250);
  ck_assert_int_eq(e->eval.batch, 32);
  ck_assert_str_eq(e->checkpoint.dir, "out/ckpt");
  dx_experiment_free(e);
}
END_TEST

START_TEST(plugin_slots_and_defaults) {
  dx_experiment *e = load_ok(DATA "full.yaml", NULL, 0);
  dx_exp_plugin_slot s[DX_EXP_MAX_PLUGIN_SLOTS];
  int n = dx_experiment_plugin_slots(e, s);
  ck_assert_int_eq(n, 7); /* block, 2 attention levels, mid, schedule, loss, sampler */
  ck_assert_str_eq(s[0].role, "model.block");
  ck_assert_str_eq(s[1].role, "model.attention");
  ck_assert_int_eq(s[1].level, 2);
  ck_assert_int_eq(s[2].level, 3);
  ck_assert_int_eq(s[4].kind, DX_KIND_SCHEDULE);
  ck_assert_int_eq(s[5].kind, DX_KIND_LOSS);
  ck_assert_str_eq(s[6].ref->plugin, "beta");
  /* The loader adds a plugin's declared defaults; written values stay. */
  ck_assert_int_eq(dx_plugin_ref_add_default(s[4].ref, "s", "0.5", DX_SCALAR_PLAIN), DX_OK);
  ck_assert_int_eq(dx_plugin_ref_add_default(s[4].ref, "clip", "0.999", DX_SCALAR_PLAIN), DX_OK);
  ck_arg(&e->diffusion.schedule, "s", "0.008");
  ck_arg(&e->diffusion.schedule, "clip", "0.999");
  ck_assert_str_eq(arg(&e->diffusion.schedule, "clip")->value_pos.file, "<default>");
  char *json = dx_experiment_to_json(e);
  ck_assert_ptr_nonnull(strstr(json, "\"clip\": 0.999"));
  free(json);
  dx_experiment_free(e);
}
END_TEST

/* ---- extends, merge keys, aliases ---------------------------------------- */

START_TEST(extends_two_levels) {
  dx_experiment *e = load_ok(DATA "child.yaml", NULL, 0);
  ck_assert_str_eq(e->name, "child");
  ck_assert_str_eq(e->extends, "sub/mid.yaml");
  ck_assert_int_eq(e->seed, 11);          /* base */
  ck_assert_int_eq(e->train.steps, 100);  /* base */
  ck_assert_int_eq(e->train.batch, 32);   /* mid */
  ck_assert_double_eq(e->train.lr, 5e-4); /* child over base */
  ck_assert_double_eq(e->train.ema.decay, 0.9);
  ck_assert_int_eq(e->train.ema.every, 1); /* default beside base's decay */
  ck_assert_str_eq(e->diffusion.schedule.plugin, "cosine");
  ck_assert_int_eq(e->diffusion.schedule.n_args, 1);
  ck_arg(&e->diffusion.schedule, "s", "0.01"); /* same plugin: arguments merge */
  ck_assert_str_eq(e->diffusion.loss.plugin, "mse");
  ck_assert_int_eq(e->diffusion.loss.n_args, 0); /* another plugin: huber's delta gone */
  ck_assert_int_eq(e->n_sources, 3);
  ck_assert_str_eq(e->sources[0].path, DATA "child.yaml");
  ck_assert_str_eq(e->sources[1].path, DATA "sub/mid.yaml");
  ck_assert_str_eq(e->sources[2].path, DATA "sub/../base.yaml");
  ck_assert_ptr_nonnull(strstr(e->sources[2].text, "name: base"));
  /* base's plugin_path is relative to base.yaml, not to child.yaml. */
  ck_assert_int_eq(e->n_plugin_path, 1);
  const char *p = e->plugin_path[0];
  ck_assert_str_eq(p + strlen(p) - strlen("/data/config/plugins"), "/data/config/plugins");
  /* Where a value came from is still known: an arg from mid.yaml. */
  ck_assert_str_eq(arg(&e->diffusion.schedule, "s")->value_pos.file, DATA "sub/mid.yaml");
  ck_assert_int_eq(arg(&e->diffusion.schedule, "s")->value_pos.line, 6);
  dx_experiment_free(e);
}
END_TEST

START_TEST(extends_errors) {
  load_fails(DATA "cycle_a.yaml", NULL, 0, DX_ERR_CONFIG,
             DATA "cycle_b.yaml:1:10: extends cycle: " DATA "cycle_a.yaml -> " DATA
                  "cycle_b.yaml -> " DATA "cycle_a.yaml; remove one of these extends");
  load_fails(DATA "bad_child.yaml", NULL, 0, DX_ERR_CONFIG,
             DATA "bad_base.yaml:3:10: train.batch: expected an integer, got 'lots'");
  tmp_yaml t;
  tmp_write(&t, "name: x\nextends: missing.yaml\n");
  char want[DX_ERRMSG_MAX];
  snprintf(want, sizeof want,
           "%s:2:10: cannot read '%s/missing.yaml' named by extends: No such file or directory",
           t.path, t.dir);
  load_fails(t.path, NULL, 0, DX_ERR_IO, want);
  tmp_remove(&t);
  tmp_write(&t, "name: x\nextends: case.yaml\n");
  snprintf(want, sizeof want,
           "%s:2:10: extends cycle: %s -> %s/case.yaml; remove one of these extends", t.path,
           t.path, t.dir);
  load_fails(t.path, NULL, 0, DX_ERR_CONFIG, want);
  tmp_remove(&t);
}
END_TEST

START_TEST(merge_keys_and_aliases) {
  dx_experiment *e = load_ok(DATA "merge.yaml", NULL, 0);
  const dx_exp_model *m = &e->model;
  ck_arg(&m->block, "groups", "8");
  ck_assert(m->attention_per_level);
  ck_assert_str_eq(m->attention[0].plugin, "attention_full");
  ck_arg(&m->attention[0], "heads", "2");
  ck_assert_ptr_null(m->attention[1].plugin);
  ck_arg(&m->attention[2], "heads", "2");
  ck_assert_str_eq(e->diffusion.loss.plugin, "mse"); /* written key beats merged one */
  ck_arg(&e->diffusion.loss, "groups", "8");
  ck_assert_int_eq(e->train.steps, 10);
  ck_assert_int_eq(e->train.batch, 8); /* the first merged mapping wins */
  ck_assert_double_eq(e->train.lr, 1e-3);
  ck_assert_int_eq(e->train.warmup, 7);
  ck_assert_int_eq(e->sample.every, 77);
  ck_assert_int_eq(e->eval.every, 77);
  ck_assert_int_eq(e->eval.images, 99);
  dx_experiment_free(e);
}
END_TEST

/* ---- overrides ----------------------------------------------------------- */

START_TEST(overrides_are_typed) {
  const char *ov[] = {"train.lr=1e-4",
                      "model.dim_mults=[1,2]",
                      "data.flip=false",
                      "diffusion.predict=x0",
                      "train.betas=[0.5, 0.6]",
                      "device=auto",
                      "train.ema={decay: 0.5}",
                      "description=two words",
                      "seed=5",
                      "model.attention={plugin: attention_full}"};
  dx_experiment *e = load_ok(DATA "full.yaml", ov, 10);
  ck_assert_double_eq(e->train.lr, 1e-4);
  ck_assert_int_eq(e->model.n_levels, 2);
  ck_assert_int_eq(e->model.dim_mults[1], 2);
  ck_assert(!e->data.flip);
  ck_assert_int_eq(e->diffusion.predict, DX_PREDICT_X0);
  ck_assert(!e->model.attention_per_level); /* a mapping replaces the file's list */
  ck_assert_str_eq(e->model.attention[1].plugin, "attention_full");
  ck_assert_ptr_null(e->model.attention[2].plugin);
  ck_assert_double_eq(e->train.betas[0], 0.5);
  ck_assert(e->device_auto);
  ck_assert_double_eq(e->train.ema.decay, 0.5);
  ck_assert_int_eq(e->train.ema.every, 10); /* a mapping merges: the file's other keys stay */
  ck_assert_str_eq(e->description, "two words");
  ck_assert_int_eq(e->seed, 5);
  ck_assert_int_eq(e->n_overrides, 10);
  ck_assert_str_eq(e->overrides[1], "model.dim_mults=[1,2]");
  dx_experiment_free(e);
}
END_TEST

START_TEST(overrides_of_plugins) {
  const char *args[] = {"diffusion.schedule.s=0.01", "diffusion.loss.plugin=mse",
                        "model.block.groups=2", "diffusion.sampler.eta='0.5'"};
  dx_experiment *e = load_ok(DATA "full.yaml", args, 4);
  ck_assert_str_eq(e->diffusion.schedule.plugin, "cosine");
  ck_arg(&e->diffusion.schedule, "s", "0.01");
  const dx_plugin_arg *s = arg(&e->diffusion.schedule, "s");
  ck_assert_str_eq(s->value_pos.file, "<command line>");
  ck_assert_int_eq(s->value_pos.line, 0);
  ck_assert_int_eq(s->value_pos.col, 1);
  ck_assert_str_eq(e->diffusion.loss.plugin, "mse");
  ck_assert_int_eq(e->diffusion.loss.n_args, 0); /* huber's delta dropped */
  ck_arg(&e->model.block, "groups", "2");
  ck_assert_int_eq(arg(&e->diffusion.sampler, "eta")->style, DX_SCALAR_QUOTED);
  dx_experiment_free(e);
  /* The same plugin named again keeps its arguments; a default gets one. */
  const char *same[] = {"diffusion.schedule.plugin=cosine", "diffusion.loss.delta=3"};
  e = load_ok(DATA "full.yaml", same, 2);
  ck_arg(&e->diffusion.schedule, "s", "0.008");
  ck_arg(&e->diffusion.loss, "delta", "3");
  dx_experiment_free(e);
  const char *dflt[] = {"diffusion.schedule.s=0.02"};
  e = load_ok(DATA "minimal.yaml", dflt, 1);
  ck_assert_str_eq(e->diffusion.schedule.plugin, "linear");
  ck_arg(&e->diffusion.schedule, "s", "0.02");
  dx_experiment_free(e);
}
END_TEST

/* Same form as broken_cases: the override, its status and its message. */
static const error_case bad_overrides[] = {
    {"train.lrr=1", DX_ERR_CONFIG,
     "<command line>:2: unknown key 'train.lrr'; did you mean 'train.lr'?"},
    {"trian.lr=1", DX_ERR_CONFIG, "<command line>:2: unknown key 'trian'; did you mean 'train'?"},
    {"lr=1", DX_ERR_CONFIG, "<command line>:2: unknown key 'lr'; did you mean 'train.lr'?"},
    {"train.lr", DX_ERR_CONFIG,
     "<command line>:2: malformed override 'train.lr'; write KEY=VALUE, e.g. train.lr=1e-4"},
    {"=3", DX_ERR_CONFIG,
     "<command line>:2: malformed override '=3'; write KEY=VALUE, e.g. train.lr=1e-4"},
    {"train..lr=1", DX_ERR_CONFIG,
     "<command line>:2: malformed override 'train..lr=1'; write KEY=VALUE, e.g. train.lr=1e-4"},
    {"train.lr=abc", DX_ERR_CONFIG, "<command line>:2: train.lr: expected a number, got 'abc'"},
    {"train.batch=0", DX_ERR_CONFIG, "<command line>:2: train.batch: 0 is out of range [1, 65536]"},
    {"model.dim_mults=[1,0]", DX_ERR_CONFIG,
     "<command line>:2: model.dim_mults[1]: 0 is out of range [1, inf)"},
    {"model.dim_mults=[1,2", DX_ERR_PARSE,
     "<command line>:2: YAML syntax error: did not find expected ',' or ']' while parsing a flow "
     "sequence"},
    {"diffusion.predict=epsilon", DX_ERR_CONFIG,
     "<command line>:2: diffusion.predict: 'epsilon' is not one of eps, x0, v"},
    {"train.lr.x=1", DX_ERR_CONFIG,
     "<command line>:2: unknown key 'train.lr.x'; train.lr takes a value and has no keys under it"},
    {"diffusion.schedule.s.x=1", DX_ERR_CONFIG,
     "<command line>:2: unknown key 'diffusion.schedule.s.x'; diffusion.schedule takes 'plugin' "
     "and the plugin's parameters, which have no keys under them"},
    {"extends=other.yaml", DX_ERR_CONFIG,
     "<command line>:2: extends cannot be overridden; edit the experiment file instead"},
    {"model.attention.heads=4", DX_ERR_CONFIG,
     "<command line>:2: cannot set 'model.attention.heads': model.attention holds a list, not a "
     "mapping; set model.attention as a whole"},
    {"train={lrr: 1}", DX_ERR_CONFIG,
     "<command line>:2: unknown key 'lrr' in train; did you mean 'lr'?"},
    {"diffusion.schedule.plugin=", DX_ERR_CONFIG,
     "<command line>:2: diffusion.schedule.plugin: expected a plugin name, got nothing"},
};

START_TEST(override_errors) {
  const error_case *c = &bad_overrides[_i];
  const char *ov[] = {"seed=1", c->input};
  load_fails(DATA "full.yaml", ov, 2, c->status, c->message);
}
END_TEST

START_TEST(file_errors_come_before_override_errors) {
  tmp_yaml t;
  tmp_write(&t, "name: x\ntrain:\n  stepz: 1\n");
  const char *ov[] = {"train.lrr=1"};
  char want[DX_ERRMSG_MAX];
  snprintf(want, sizeof want, "%s:3:3: unknown key 'stepz' in train; did you mean 'steps'?",
           t.path);
  load_fails(t.path, ov, 1, DX_ERR_CONFIG, want);
  tmp_remove(&t);
}
END_TEST

/* ---- writers ------------------------------------------------------------- */

/* Runs a Python check on the JSON: an independent parser. */
START_TEST(json_parses_and_holds_everything) {
  const char *ov[] = {"description=say \"hi\"\\ttab"};
  dx_experiment *e = load_ok(DATA "full.yaml", ov, 1);
  char *json = dx_experiment_to_json(e);
  ck_assert_ptr_nonnull(json);
  tmp_yaml t;
  tmp_write(&t, json);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); "
           "assert j[\"train\"][\"lr\"] == 2e-4, j[\"train\"]; "
           "assert j[\"train\"][\"clip_grad\"] == 0.0; "
           "assert j[\"model\"][\"dim_mults\"] == [1, 2, 2, 4]; "
           "assert j[\"model\"][\"attention\"][:2] == [None, None]; "
           "assert j[\"model\"][\"attention\"][2][\"heads\"] == 4; "
           "assert j[\"diffusion\"][\"schedule\"] == {\"plugin\": \"cosine\", \"s\": 0.008}; "
           "assert j[\"data\"][\"flip\"] is True; "
           "assert j[\"description\"] == \"say \\\"hi\\\"\\\\ttab\", j[\"description\"]; "
           "assert \"extends\" not in j; "
           "assert j[\"cuda\"] == {\"deterministic\": True, \"tf32\": False, \"pool_mb\": 0}; "
           "assert len(j) == 14, sorted(j)' %s",
           t.path);
  ck_assert_int_eq(system(cmd), 0);
  tmp_remove(&t);
  free(json);
  dx_experiment_free(e);
}
END_TEST

START_TEST(yaml_round_trip) {
  dx_experiment *e = load_ok(DATA "child.yaml", NULL, 0);
  char *yaml = dx_experiment_to_yaml(e);
  char *json = dx_experiment_to_json(e);
  ck_assert_ptr_nonnull(yaml);
  ck_assert_ptr_nonnull(strstr(yaml, "\n  schedule: {plugin: cosine, s: 0.01}\n"));
  ck_assert_ptr_nonnull(strstr(yaml, "\n  lr: 0.0005\n"));
  ck_assert_ptr_null(strstr(yaml, "extends"));
  tmp_yaml t;
  tmp_write(&t, yaml);
  dx_experiment *back = load_ok(t.path, NULL, 0);
  char *json2 = dx_experiment_to_json(back);
  ck_assert_str_eq(json, json2);
  tmp_remove(&t);
  free(json2);
  dx_experiment_free(back);
  free(json);
  free(yaml);
  dx_experiment_free(e);
}
END_TEST

START_TEST(yaml_quotes_strings_that_look_typed) {
  tmp_yaml t;
  tmp_write(&t, "name: '007'\ndescription: 'yes'\ndata: {dataset: folder, path: '1.5'}\n"
                "diffusion:\n  loss: {plugin: l, a: 'true', b: 'x, y', c: 3, d: }\n");
  dx_experiment *e = load_ok(t.path, NULL, 0);
  tmp_remove(&t);
  char *yaml = dx_experiment_to_yaml(e);
  ck_assert_ptr_nonnull(strstr(yaml, "name: '007'\n"));
  ck_assert_ptr_nonnull(strstr(yaml, "description: 'yes'\n"));
  ck_assert_ptr_nonnull(strstr(yaml, "{plugin: l, a: 'true', b: 'x, y', c: 3, d: null}"));
  tmp_write(&t, yaml);
  dx_experiment *back = load_ok(t.path, NULL, 0);
  ck_assert_str_eq(back->name, "007");
  ck_assert_str_eq(back->data.path, "1.5");
  ck_assert_int_eq(arg(&back->diffusion.loss, "a")->style, DX_SCALAR_QUOTED);
  ck_assert_int_eq(arg(&back->diffusion.loss, "c")->style, DX_SCALAR_PLAIN);
  tmp_remove(&t);
  dx_experiment_free(back);
  free(yaml);
  dx_experiment_free(e);
}
END_TEST

typedef struct rows {
  char keys[128][64], values[128][128];
  int n;
} rows;

static dx_status collect(void *user, const char *key, const char *value) {
  rows *r = user;
  ck_assert_int_lt(r->n, 128);
  snprintf(r->keys[r->n], sizeof r->keys[0], "%s", key);
  snprintf(r->values[r->n], sizeof r->values[0], "%s", value);
  r->n++;
  return DX_OK;
}

static const char *row(const rows *r, const char *key) {
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->keys[i], key) == 0) return r->values[i];
  ck_abort_msg("no row %s", key);
  return NULL;
}

static dx_status stop_at_third(void *user, const char *key, const char *value) {
  (void)key;
  (void)value;
  return ++*(int *)user == 3 ? DX_ERR_DB : DX_OK;
}

START_TEST(flattened_rows) {
  const char *ov[] = {"diffusion.schedule.plugin=linear", "diffusion.sampler.eta=0.5"};
  dx_experiment *e = load_ok(DATA "full.yaml", ov, 2);
  rows *r = calloc(1, sizeof *r);
  ck_assert_int_eq(dx_experiment_flatten(e, collect, r), DX_OK);
  ck_assert_str_eq(row(r, "name"), "cosine_huber");
  ck_assert_str_eq(row(r, "model.dim_mults"), "[1, 2, 2, 4]");
  ck_assert_str_eq(row(r, "train.betas"), "[0.9, 0.99]");
  ck_assert_str_eq(row(r, "train.lr"), "0.0002");
  ck_assert_str_eq(row(r, "train.clip_grad"), "0.0");
  ck_assert_str_eq(row(r, "train.ema.decay"), "0.9999");
  ck_assert_str_eq(row(r, "diffusion.schedule.plugin"), "linear");
  ck_assert_str_eq(row(r, "diffusion.sampler.eta"), "0.5");
  ck_assert_str_eq(row(r, "diffusion.loss.delta"), "1.0");
  ck_assert_str_eq(row(r, "model.attention.0"), "null");
  ck_assert_str_eq(row(r, "model.attention.2.plugin"), "attention_linear");
  ck_assert_str_eq(row(r, "model.attention.2.heads"), "4");
  ck_assert_str_eq(row(r, "data.flip"), "true");
  ck_assert_str_eq(row(r, "diffusion.predict"), "v");
  /* Counted by hand from full.yaml and the schema (extends has no row). */
  int top = 5;                       /* name seed device plugin_path description */
  int data = 4;                      /* dataset path flip pad_pow2 */
  int model = 2 + 2 + 6 + 1 + 1 + 2; /* dim dim_mults, block (2), attention: null null 3 1, mid,
                                        dropout, classes self_condition */
  int diffusion = 9; /* T predict schedule.plugin loss (2) sampler (2) timesteps offset_noise */
  int train = 16;    /* 13 keys + ema's 3 */
  int rest = 1 + 6 + 3 + 3 + 2 + 3; /* log, sample (with classes and guidance), eval, eval.fid,
                                       checkpoint, cuda */
  ck_assert_int_eq(r->n, top + data + model + diffusion + train + rest);
  for (int i = 0; i < r->n; i++)
    for (int j = i + 1; j < r->n; j++)
      ck_assert_str_ne(r->keys[i], r->keys[j]);
  int calls = 0;
  ck_assert_int_eq(dx_experiment_flatten(e, stop_at_third, &calls), DX_ERR_DB);
  ck_assert_int_eq(calls, 3);
  free(r);
  dx_experiment_free(e);
}
END_TEST

/* ---- the schema and its documentation ------------------------------------ */

/* The row of a key in docs/experiment.md: "| `path` | ... |" up to the end
 * of its line; NULL if there is none. */
static const char *doc_row(const char *doc, const char *path, char *row, size_t len) {
  char head[96];
  snprintf(head, sizeof head, "\n| `%s` |", path);
  const char *at = strstr(doc, head);
  if (!at) return NULL;
  snprintf(row, len, "%.*s", (int)strcspn(at + 1, "\n"), at + 1);
  return row;
}

static bool row_says(const char *row, const char *text) {
  char quoted[128];
  snprintf(quoted, sizeof quoted, "`%s`", text);
  return strstr(row, quoted) != NULL;
}

/* Each key has a row in docs/experiment.md that gives its default and its
 * range or words as the schema has them. */
START_TEST(every_key_is_documented) {
  FILE *f = fopen("../docs/experiment.md", "r");
  ck_assert_msg(f != NULL, "docs/experiment.md is missing");
  static char doc[1 << 17];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[n] = '\0';
  size_t nk;
  const dx_key_spec *keys = dx_schema_keys(&nk);
  ck_assert_int_ge(nk, 50);
  for (size_t i = 0; i < nk; i++) {
    const dx_param_spec *s = &keys[i].spec;
    char row[1024];
    ck_assert_msg(doc_row(doc, s->name, row, sizeof row), "docs/experiment.md has no row for %s",
                  s->name);
    ck_assert_msg(s->help && *s->help, "%s has no help", s->name);
    if (s->default_value)
      ck_assert_msg(row_says(row, s->default_value), "%s: the docs do not give the default %s",
                    s->name, s->default_value);
    if (s->range && s->type != DX_PARAM_CHOICE)
      ck_assert_msg(row_says(row, s->range), "%s: the docs do not give the range %s", s->name,
                    s->range);
    char word[64];
    for (int w = 0; s->type == DX_PARAM_CHOICE && dx_words_at(s->range, w, word, sizeof word); w++)
      ck_assert_msg(row_says(row, word), "%s: the docs do not name '%s'", s->name, word);
  }
}
END_TEST

/* The schema's values pass the checks a plugin's parameters pass: ranges
 * and words well formed, defaults inside them. */
START_TEST(every_key_spec_is_sound) {
  size_t nk;
  const dx_key_spec *keys = dx_schema_keys(&nk);
  int values = 0;
  for (size_t i = 0; i < nk; i++) {
    if (keys[i].shape != DX_KEY_VALUE && keys[i].shape != DX_KEY_LIST) continue;
    dx_param_spec s = keys[i].spec;
    if (keys[i].shape == DX_KEY_LIST) s.default_value = NULL; /* a YAML list, not one item */
    char err[256] = "";
    ck_assert_msg(dx_param_spec_check_value(&s, err, sizeof err), "%s", err);
    values++;
  }
  ck_assert_int_ge(values, 35);
  /* The check can fail: a default outside its range. */
  dx_param_spec bad = {"train.lr", DX_PARAM_FLOAT, "2", "(0, 1]", NULL, "x"};
  char err[256] = "";
  ck_assert(!dx_param_spec_check_value(&bad, err, sizeof err));
  ck_assert_str_eq(err, "parameter 'train.lr': default 2 is outside its range (0, 1]");
}
END_TEST

/* One text, one verdict: an experiment key and a plugin parameter of the
 * same type and range accept and refuse the same spellings (the two used to
 * disagree on hex floats). The expected verdicts are typed in by hand. */
static const struct {
  const char *key, *range, *text;
  dx_param_type type;
  bool ok;
} spellings[] = {
    {"train.lr", "(0, 1]", "0.5", DX_PARAM_FLOAT, true},
    {"train.lr", "(0, 1]", ".5", DX_PARAM_FLOAT, true},
    {"train.lr", "(0, 1]", "+5e-1", DX_PARAM_FLOAT, true},
    {"train.lr", "(0, 1]", "1", DX_PARAM_FLOAT, true},
    {"train.lr", "(0, 1]", "0x1p-3", DX_PARAM_FLOAT, false},
    {"train.lr", "(0, 1]", "0X.8P0", DX_PARAM_FLOAT, false},
    {"train.lr", "(0, 1]", ".inf", DX_PARAM_FLOAT, false},
    {"train.lr", "(0, 1]", "nan", DX_PARAM_FLOAT, false},
    {"train.lr", "(0, 1]", "1e-400", DX_PARAM_FLOAT, false},
    {"train.lr", "(0, 1]", "1_0e-1", DX_PARAM_FLOAT, false},
    {"train.lr", "(0, 1]", "0", DX_PARAM_FLOAT, false},
    {"train.lr", "(0, 1]", "'0.5'", DX_PARAM_FLOAT, false},
    {"train.batch", "[1, 65536]", "64", DX_PARAM_INT, true},
    {"train.batch", "[1, 65536]", "+64", DX_PARAM_INT, true},
    {"train.batch", "[1, 65536]", "0x40", DX_PARAM_INT, false},
    {"train.batch", "[1, 65536]", "6.4e1", DX_PARAM_INT, false},
    {"train.batch", "[1, 65536]", "99999999999999999999", DX_PARAM_INT, false},
    {"train.batch", "[1, 65536]", "65537", DX_PARAM_INT, false},
    {"data.flip", NULL, "True", DX_PARAM_BOOL, true},
    {"data.flip", NULL, "yes", DX_PARAM_BOOL, false},
};

START_TEST(keys_and_parameters_agree) {
  const char *text = spellings[_i].text;
  char ov[96], err[DX_ERRMSG_MAX] = "";
  snprintf(ov, sizeof ov, "%s=%s", spellings[_i].key, text);
  const char *ovs[] = {ov};
  dx_experiment *e = NULL;
  bool key_ok = dx_experiment_load(DATA "minimal.yaml", ovs, 1, &e, err, sizeof err) == DX_OK;
  dx_experiment_free(e);
  const char *range = dx_schema_find(spellings[_i].key)->spec.range;
  ck_assert_str_eq(range ? range : "none", spellings[_i].range ? spellings[_i].range : "none");
  /* The same text as a plugin parameter, quotes taken off as YAML would. */
  bool quoted = text[0] == '\'';
  char value[64];
  snprintf(value, sizeof value, "%.*s", (int)strlen(text) - 2 * quoted, text + quoted);
  dx_param_spec spec = {"x", spellings[_i].type, NULL, spellings[_i].range, NULL, "x"};
  dx_plugin_desc d = {DX_PLUGIN_ABI_VERSION, DX_KIND_LOSS, "t", "1", "t", NULL, &spec, 1, &spec};
  dx_plugin_arg arg = {
      "x", value, quoted ? DX_SCALAR_QUOTED : DX_SCALAR_PLAIN, {"e.yaml", 1, 1}, {"e.yaml", 1, 4}};
  dx_plugin_ref ref = {"t", {"e.yaml", 1, 1}, &arg, 1};
  dx_params *p = NULL;
  bool param_ok = dx_params_create(&d, &ref, &p, err, sizeof err) == DX_OK;
  dx_params_free(p);
  ck_assert_msg(key_ok == spellings[_i].ok, "%s=%s: the key says %d", spellings[_i].key, text,
                key_ok);
  ck_assert_msg(param_ok == spellings[_i].ok, "%s: the parameter says %d", text, param_ok);
}
END_TEST

/* Each enum of the experiment and its word list, typed in by hand: the words
 * name the values in order, and loading the word gives the value. */
static const struct {
  const char *key, *words, *word;
  int value;
} enum_words[] = {
    {"data.dataset", DX_DATA_KIND_WORDS, "fashion-mnist", DX_DATA_FASHION_MNIST},
    {"data.dataset", DX_DATA_KIND_WORDS, "mnist", DX_DATA_MNIST},
    {"data.dataset", DX_DATA_KIND_WORDS, "cifar10", DX_DATA_CIFAR10},
    {"data.dataset", DX_DATA_KIND_WORDS, "folder", DX_DATA_FOLDER},
    {"diffusion.predict", DX_PREDICT_WORDS, "eps", DX_PREDICT_EPS},
    {"diffusion.predict", DX_PREDICT_WORDS, "x0", DX_PREDICT_X0},
    {"diffusion.predict", DX_PREDICT_WORDS, "v", DX_PREDICT_V},
    {"diffusion.timesteps", DX_TIMESTEPS_WORDS, "uniform", DX_TIMESTEPS_UNIFORM},
    {"diffusion.timesteps", DX_TIMESTEPS_WORDS, "importance", DX_TIMESTEPS_IMPORTANCE},
    {"train.optimizer", DX_OPTIMIZER_WORDS, "adam", DX_OPTIMIZER_ADAM},
    {"train.optimizer", DX_OPTIMIZER_WORDS, "adamw", DX_OPTIMIZER_ADAMW},
    {"train.lr_schedule", DX_EXP_LR_WORDS, "constant", DX_EXP_LR_CONSTANT},
    {"train.lr_schedule", DX_EXP_LR_WORDS, "cosine", DX_EXP_LR_COSINE},
    {"device", DX_DEVICE_WORDS, "cpu", DX_DEVICE_CPU},
    {"device", DX_DEVICE_WORDS, "cuda", DX_DEVICE_CUDA},
    {"device", DX_DEVICE_WORDS, "auto", DX_DEVICE_AUTO},
};

static int loaded_value(const dx_experiment *e, const char *key) {
  if (!strcmp(key, "data.dataset")) return (int)e->data.dataset;
  if (!strcmp(key, "diffusion.predict")) return (int)e->diffusion.predict;
  if (!strcmp(key, "diffusion.timesteps")) return (int)e->diffusion.timesteps;
  if (!strcmp(key, "train.optimizer")) return (int)e->train.optimizer;
  if (!strcmp(key, "device")) return e->device_auto ? DX_DEVICE_AUTO : (int)e->device_v.kind;
  return (int)e->train.lr_schedule;
}

START_TEST(enum_words_round_trip) {
  const char *key = enum_words[_i].key, *words = enum_words[_i].words;
  int value = enum_words[_i].value, count = 0;
  for (size_t j = 0; j < sizeof enum_words / sizeof *enum_words; j++)
    count += !strcmp(enum_words[j].key, key);
  char word[64];
  ck_assert_str_eq(dx_words_at(words, value, word, sizeof word), enum_words[_i].word);
  ck_assert_int_eq(dx_words_find(words, enum_words[_i].word), value);
  ck_assert_ptr_null(dx_words_at(words, count, word, sizeof word)); /* no word left over */
  const dx_param_spec *spec = &dx_schema_find(key)->spec;
  if (spec->type == DX_PARAM_CHOICE) ck_assert_str_eq(spec->range, words);
  char ov[2][96];
  snprintf(ov[0], sizeof ov[0], "%s=%s", key, enum_words[_i].word);
  snprintf(ov[1], sizeof ov[1], "data.path=/nowhere");
  const char *ovs[] = {ov[0], ov[1]};
  dx_experiment *e = load_ok(DATA "minimal.yaml", ovs, 2);
  ck_assert_int_eq(loaded_value(e, key), value);
  dx_experiment_free(e);
}
END_TEST

Suite *config_suite(void) {
  Suite *s = suite_create("config");
  TCase *tc = tcase_create("errors");
  tcase_add_loop_test(tc, broken_experiment, 0, (int)(sizeof broken_cases / sizeof *broken_cases));
  DXT_ADD(tc, unreadable_files);
  DXT_ADD(tc, aliases_cannot_explode);
  suite_add_tcase(s, tc);
  tc = tcase_create("values");
  DXT_ADD(tc, defaults_applied);
  DXT_ADD(tc, every_key_written);
  DXT_ADD(tc, plugin_slots_and_defaults);
  suite_add_tcase(s, tc);
  tc = tcase_create("extends");
  DXT_ADD(tc, extends_two_levels);
  DXT_ADD(tc, extends_errors);
  DXT_ADD(tc, merge_keys_and_aliases);
  suite_add_tcase(s, tc);
  tc = tcase_create("overrides");
  DXT_ADD(tc, overrides_are_typed);
  DXT_ADD(tc, overrides_of_plugins);
  tcase_add_loop_test(tc, override_errors, 0, (int)(sizeof bad_overrides / sizeof *bad_overrides));
  DXT_ADD(tc, file_errors_come_before_override_errors);
  suite_add_tcase(s, tc);
  tc = tcase_create("writers");
  DXT_ADD(tc, json_parses_and_holds_everything);
  DXT_ADD(tc, yaml_round_trip);
  DXT_ADD(tc, yaml_quotes_strings_that_look_typed);
  DXT_ADD(tc, flattened_rows);
  DXT_ADD(tc, every_key_is_documented);
  DXT_ADD(tc, every_key_spec_is_sound);
  tcase_add_loop_test(tc, keys_and_parameters_agree, 0,
                      (int)(sizeof spellings / sizeof *spellings));
  tcase_add_loop_test(tc, enum_words_round_trip, 0, (int)(sizeof enum_words / sizeof *enum_words));
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return dxt_run(config_suite()); }
