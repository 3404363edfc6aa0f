#include "config/schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/rules.h"

#define OFF(field) offsetof(dx_experiment, field)
#define RANGE(l, h, b) .ranged = true, .lo = (l), .hi = (h), .bounds = (b)
#define AT_LEAST(l) RANGE(l, INFINITY, DX_HI_OPEN)
#define SECTION(p, h)                                                                              \
  { .path = p, .type = DX_KEY_SECTION, .help = h }

/* The choices of a CHOICE key are in the order of its enum in experiment.h. */
static const dx_key_spec keys[] = {
    {.path = "name",
     .type = DX_KEY_STRING,
     .required = true,
     .offset = OFF(name),
     .check = dx_check_name,
     .help = "the run's name in the store"},
    {.path = "extends",
     .type = DX_KEY_STRING,
     .offset = OFF(extends),
     .help = "an experiment file to start from, relative to this file"},
    {.path = "seed",
     .type = DX_KEY_INT,
     .default_text = "0",
     AT_LEAST(0),
     .offset = OFF(seed),
     .help = "seed for initialisation, data order, noise and sampling"},
    {.path = "device",
     .type = DX_KEY_STRING,
     .default_text = "cpu",
     .offset = OFF(device),
     .check = dx_check_device,
     .help = "where to train: cpu, cuda, cuda:N or auto"},
    {.path = "plugin_path",
     .type = DX_KEY_PATH_LIST,
     .default_text = "[]",
     .offset = OFF(plugin_path),
     .count_offset = OFF(n_plugin_path),
     .help = "extra folders searched for plugins, relative to this file"},
    {.path = "description",
     .type = DX_KEY_STRING,
     .offset = OFF(description),
     .help = "free text kept with the run"},

    SECTION("data", "the training images"),
    {.path = "data.dataset",
     .type = DX_KEY_CHOICE,
     .default_text = "fashion-mnist",
     .choices = "fashion-mnist|mnist|cifar10|folder",
     .offset = OFF(data.dataset),
     .help = "the dataset's format"},
    {.path = "data.path",
     .type = DX_KEY_STRING,
     .offset = OFF(data.path),
     .help = "folder holding the dataset; required unless dataset is fashion-mnist"},
    {.path = "data.flip",
     .type = DX_KEY_BOOL,
     .default_text = "false",
     .offset = OFF(data.flip),
     .help = "random horizontal flips"},
    {.path = "data.pad_pow2",
     .type = DX_KEY_BOOL,
     .default_text = "false",
     .offset = OFF(data.pad_pow2),
     .help = "pad images to a power-of-two size (28 -> 32)"},

    SECTION("model", "the U-Net"),
    {.path = "model.dim",
     .type = DX_KEY_INT,
     .default_text = "32",
     RANGE(4, 1024, 0),
     .offset = OFF(model.dim),
     .help = "channels at the first level"},
    {.path = "model.dim_mults",
     .type = DX_KEY_INT_LIST,
     .default_text = "[1, 2, 4]",
     AT_LEAST(1),
     .min_items = 1,
     .max_items = DX_EXP_MAX_LEVELS,
     .offset = OFF(model.dim_mults),
     .count_offset = OFF(model.n_levels),
     .help = "channel multiplier of each level, one entry per level"},
    {.path = "model.block",
     .type = DX_KEY_PLUGIN,
     .default_text = "{plugin: resnet}",
     .kind = DX_KIND_BLOCK,
     .offset = OFF(model.block),
     .help = "the residual block plugin"},
    {.path = "model.attention",
     .type = DX_KEY_PLUGIN_LEVELS,
     .default_text = "{plugin: attention_linear}",
     .kind = DX_KIND_BLOCK,
     .offset = OFF(model.attention),
     .help = "attention at every level, or a list with one plugin or null per level"},
    {.path = "model.mid_attention",
     .type = DX_KEY_PLUGIN,
     .default_text = "{plugin: attention_full}",
     .kind = DX_KIND_BLOCK,
     .offset = OFF(model.mid_attention),
     .help = "attention in the middle of the U-Net"},
    {.path = "model.dropout",
     .type = DX_KEY_FLOAT,
     .default_text = "0",
     RANGE(0, 1, DX_HI_OPEN),
     .offset = OFF(model.dropout),
     .help = "dropout probability inside blocks (the block plugin's dropout parameter)"},

    SECTION("diffusion", "the forward process and the objective"),
    {.path = "diffusion.T",
     .type = DX_KEY_INT,
     .default_text = "1000",
     RANGE(2, 100000, 0),
     .offset = OFF(diffusion.T),
     .help = "number of diffusion steps"},
    {.path = "diffusion.predict",
     .type = DX_KEY_CHOICE,
     .default_text = "eps",
     .choices = "eps|x0|v",
     .offset = OFF(diffusion.predict),
     .help = "what the network predicts: the noise, x_0 or v"},
    {.path = "diffusion.schedule",
     .type = DX_KEY_PLUGIN,
     .default_text = "{plugin: linear}",
     .kind = DX_KIND_SCHEDULE,
     .offset = OFF(diffusion.schedule),
     .help = "the noise schedule"},
    {.path = "diffusion.loss",
     .type = DX_KEY_PLUGIN,
     .default_text = "{plugin: mse}",
     .kind = DX_KIND_LOSS,
     .offset = OFF(diffusion.loss),
     .help = "the training loss"},
    {.path = "diffusion.sampler",
     .type = DX_KEY_PLUGIN,
     .default_text = "{plugin: beta_tilde}",
     .kind = DX_KIND_SAMPLER,
     .offset = OFF(diffusion.sampler),
     .help = "the reverse-process variance and step"},
    {.path = "diffusion.timesteps",
     .type = DX_KEY_CHOICE,
     .default_text = "uniform",
     .choices = "uniform|importance",
     .offset = OFF(diffusion.timesteps),
     .help = "how training draws t"},

    SECTION("train", "the optimiser and the training loop"),
    {.path = "train.steps",
     .type = DX_KEY_INT,
     .default_text = "1000",
     AT_LEAST(1),
     .offset = OFF(train.steps),
     .help = "optimiser steps"},
    {.path = "train.batch",
     .type = DX_KEY_INT,
     .default_text = "64",
     RANGE(1, 65536, 0),
     .offset = OFF(train.batch),
     .help = "images per step"},
    {.path = "train.optimizer",
     .type = DX_KEY_CHOICE,
     .default_text = "adam",
     .choices = "adam|adamw",
     .offset = OFF(train.optimizer),
     .help = "the optimiser"},
    {.path = "train.lr",
     .type = DX_KEY_FLOAT,
     .default_text = "2e-4",
     RANGE(0, 1, DX_LO_OPEN),
     .offset = OFF(train.lr),
     .help = "peak learning rate"},
    {.path = "train.betas",
     .type = DX_KEY_FLOAT_LIST,
     .default_text = "[0.9, 0.999]",
     RANGE(0, 1, DX_HI_OPEN),
     .min_items = 2,
     .max_items = 2,
     .offset = OFF(train.betas),
     .help = "Adam's beta1 and beta2"},
    {.path = "train.weight_decay",
     .type = DX_KEY_FLOAT,
     .default_text = "0",
     AT_LEAST(0),
     .offset = OFF(train.weight_decay),
     .help = "weight decay (decoupled for adamw)"},
    {.path = "train.warmup",
     .type = DX_KEY_INT,
     .default_text = "0",
     AT_LEAST(0),
     .offset = OFF(train.warmup),
     .help = "steps of linear learning-rate warm-up"},
    {.path = "train.lr_schedule",
     .type = DX_KEY_CHOICE,
     .default_text = "constant",
     .choices = "constant|cosine",
     .offset = OFF(train.lr_schedule),
     .help = "learning rate after warm-up"},
    {.path = "train.clip_grad",
     .type = DX_KEY_FLOAT,
     .default_text = "1.0",
     AT_LEAST(0),
     .offset = OFF(train.clip_grad),
     .help = "global gradient-norm clip; 0 turns it off"},
    SECTION("train.ema", "the exponential moving average of the weights"),
    {.path = "train.ema.decay",
     .type = DX_KEY_FLOAT,
     .default_text = "0.995",
     RANGE(0, 1, 0),
     .offset = OFF(train.ema.decay),
     .help = "EMA decay per update"},
    {.path = "train.ema.every",
     .type = DX_KEY_INT,
     .default_text = "1",
     AT_LEAST(1),
     .offset = OFF(train.ema.every),
     .help = "steps between EMA updates"},
    {.path = "train.ema.start",
     .type = DX_KEY_INT,
     .default_text = "0",
     AT_LEAST(0),
     .offset = OFF(train.ema.start),
     .help = "step of the first EMA update"},
    {.path = "train.threads",
     .type = DX_KEY_INT,
     .default_text = "0",
     AT_LEAST(0),
     .offset = OFF(train.threads),
     .help = "CPU threads; 0 uses every core"},

    SECTION("log", "metrics"),
    {.path = "log.every",
     .type = DX_KEY_INT,
     .default_text = "50",
     AT_LEAST(1),
     .offset = OFF(log.every),
     .help = "steps between logged losses"},

    SECTION("sample", "sample grids drawn during training"),
    {.path = "sample.every",
     .type = DX_KEY_INT,
     .default_text = "1000",
     AT_LEAST(0),
     .offset = OFF(sample.every),
     .help = "steps between grids; 0 never samples"},
    {.path = "sample.count",
     .type = DX_KEY_INT,
     .default_text = "64",
     RANGE(1, 1024, 0),
     .offset = OFF(sample.count),
     .help = "images per grid"},
    {.path = "sample.nrow",
     .type = DX_KEY_INT,
     .default_text = "8",
     AT_LEAST(1),
     .offset = OFF(sample.nrow),
     .help = "images per grid row"},
    {.path = "sample.steps",
     .type = DX_KEY_INT,
     .default_text = "0",
     AT_LEAST(0),
     .offset = OFF(sample.steps),
     .help = "reverse steps per sample; 0 uses all T"},

    SECTION("eval", "bits/dim on held-out images"),
    {.path = "eval.every",
     .type = DX_KEY_INT,
     .default_text = "0",
     AT_LEAST(0),
     .offset = OFF(eval.every),
     .help = "steps between evaluations; 0 never evaluates"},
    {.path = "eval.images",
     .type = DX_KEY_INT,
     .default_text = "256",
     AT_LEAST(1),
     .offset = OFF(eval.images),
     .help = "test images per evaluation"},
    {.path = "eval.batch",
     .type = DX_KEY_INT,
     .default_text = "64",
     AT_LEAST(1),
     .offset = OFF(eval.batch),
     .help = "images per evaluation batch"},

    SECTION("checkpoint", "checkpoints to resume from"),
    {.path = "checkpoint.every",
     .type = DX_KEY_INT,
     .default_text = "1000",
     AT_LEAST(0),
     .offset = OFF(checkpoint.every),
     .help = "steps between checkpoints; 0 only at the end"},
    {.path = "checkpoint.dir",
     .type = DX_KEY_STRING,
     .default_text = "results/checkpoints",
     .offset = OFF(checkpoint.dir),
     .help = "folder for checkpoint files"},
};

const dx_key_spec *dx_schema_keys(size_t *n) {
  *n = sizeof keys / sizeof keys[0];
  return keys;
}

const dx_key_spec *dx_schema_find(const char *path) {
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(keys[i].path, path) == 0) return &keys[i];
  return NULL;
}

/* Whether `path` sits directly in `section` ("" is the top level). */
static bool directly_in(const char *path, const char *section) {
  size_t n = strlen(section);
  if (n == 0) return strchr(path, '.') == NULL;
  return strncmp(path, section, n) == 0 && path[n] == '.' && !strchr(path + n + 1, '.');
}

size_t dx_schema_children(const char *section, const dx_key_spec **out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (!directly_in(keys[i].path, section)) continue;
    if (n < max) out[n] = &keys[i];
    n++;
  }
  return n;
}

const char *dx_schema_leaf(const dx_key_spec *k) {
  const char *dot = strrchr(k->path, '.');
  return dot ? dot + 1 : k->path;
}

const char *dx_schema_range_text(const dx_key_spec *k, char *buf, size_t len) {
  char hi[32];
  if (isinf(k->hi))
    snprintf(hi, sizeof hi, "inf");
  else
    snprintf(hi, sizeof hi, "%g", k->hi);
  snprintf(buf, len, "%c%g, %s%c", k->bounds & DX_LO_OPEN ? '(' : '[', k->lo, hi,
           k->bounds & DX_HI_OPEN ? ')' : ']');
  return buf;
}

const char *dx_schema_choice(const dx_key_spec *k, int i, char *buf, size_t len) {
  const char *p = k->choices;
  for (; i > 0 && p; i--) {
    p = strchr(p, '|');
    if (p) p++;
  }
  if (!p || i < 0) return NULL;
  size_t n = strcspn(p, "|");
  snprintf(buf, len, "%.*s", (int)n, p);
  return buf;
}
