#include "config/schema.h"

#include <string.h>

#include "config/internal.h"
#include "config/yaml_read.h"

#define OFF(field) offsetof(dx_experiment, field)
/* A key of one value: path, type, default, range (or words), field, help. */
#define VALUE(p, t, d, r, f, h) {p, DX_PARAM_##t, d, r, NULL, h}, DX_KEY_VALUE, .offset = OFF(f)
/* A list key: the same, with the type and range of an item. */
#define LIST(p, t, d, r, f, h) {p, DX_PARAM_##t, d, r, NULL, h}, DX_KEY_LIST, .offset = OFF(f)
#define PLUGIN(p, d, k, f, h)                                                                      \
  { {p, 0, d, NULL, NULL, h}, DX_KEY_PLUGIN, .kind = DX_KIND_##k, .offset = OFF(f) }
#define SECTION(p, h)                                                                              \
  { {p, 0, NULL, NULL, NULL, h}, .shape = DX_KEY_SECTION }

static const dx_key_spec keys[] = {
    {VALUE("name", STRING, NULL, NULL, name, "the run's name in the store"), .required = true,
     .check = dx_check_name},
    {VALUE("extends", STRING, NULL, NULL, extends,
           "an experiment file to start from, relative to this file")},
    {VALUE("seed", INT, "0", "[0, inf)", seed,
           "seed for initialisation, data order, noise and sampling")},
    {VALUE("device", STRING, "cpu", NULL, device, "where to train: cpu, cuda, cuda:N or auto"),
     .check = dx_check_device},
    {{"plugin_path", DX_PARAM_STRING, "[]", NULL, NULL,
      "extra folders searched for plugins, relative to this file"},
     DX_KEY_PATH_LIST,
     .offset = OFF(plugin_path),
     .count_offset = OFF(n_plugin_path)},
    {VALUE("description", STRING, NULL, NULL, description, "free text kept with the run")},

    SECTION("data", "the training images"),
    {VALUE("data.dataset", CHOICE, "fashion-mnist", DX_DATA_KIND_WORDS, data.dataset,
           "the dataset's format")},
    {VALUE("data.path", STRING, NULL, NULL, data.path,
           "folder holding the dataset; required unless dataset is fashion-mnist")},
    {VALUE("data.flip", BOOL, "false", NULL, data.flip, "random horizontal flips")},
    {VALUE("data.pad_pow2", BOOL, "false", NULL, data.pad_pow2,
           "pad images to a power-of-two size (28 -> 32)")},

    SECTION("model", "the U-Net"),
    {VALUE("model.dim", INT, "32", "[4, 1024]", model.dim, "channels at the first level")},
    {LIST("model.dim_mults", INT, "[1, 2, 4]", "[1, inf)", model.dim_mults,
          "channel multiplier of each level, one entry per level"),
     .min_items = 1, .max_items = DX_EXP_MAX_LEVELS, .count_offset = OFF(model.n_levels)},
    PLUGIN("model.block", "{plugin: resnet}", BLOCK, model.block, "the residual block plugin"),
    {{"model.attention", 0, "{plugin: attention_linear}", NULL, NULL,
      "attention at every level, or a list with one plugin or null per level"},
     DX_KEY_PLUGIN_LEVELS,
     .kind = DX_KIND_BLOCK,
     .offset = OFF(model.attention)},
    PLUGIN("model.mid_attention", "{plugin: attention_full}", BLOCK, model.mid_attention,
           "attention in the middle of the U-Net"),
    {VALUE("model.dropout", FLOAT, "0", "[0, 1)", model.dropout,
           "dropout probability inside blocks (the block plugin's dropout parameter)")},
    {VALUE("model.classes", INT, "0", "[0, 10000]", model.classes,
           "number of classes to condition on (a class embedding); 0: unconditional")},
    {VALUE("model.self_condition", BOOL, "false", NULL, model.self_condition,
           "feed the model its own x0 estimate as extra input channels (self-conditioning)")},

    SECTION("diffusion", "the forward process and the objective"),
    {VALUE("diffusion.T", INT, "1000", "[2, 100000]", diffusion.T, "number of diffusion steps")},
    {VALUE("diffusion.predict", CHOICE, "eps", DX_PREDICT_WORDS, diffusion.predict,
           "what the network predicts: the noise, x_0 or v")},
    PLUGIN("diffusion.schedule", "{plugin: linear}", SCHEDULE, diffusion.schedule,
           "the noise schedule"),
    PLUGIN("diffusion.loss", "{plugin: mse}", LOSS, diffusion.loss, "the training loss"),
    PLUGIN("diffusion.sampler", "{plugin: beta_tilde}", SAMPLER, diffusion.sampler,
           "the reverse-process variance and step"),
    {VALUE("diffusion.timesteps", CHOICE, "uniform", DX_TIMESTEPS_WORDS, diffusion.timesteps,
           "how training draws t")},
    {VALUE("diffusion.offset_noise", FLOAT, "0", "[0, inf)", diffusion.offset_noise,
           "offset noise: add this times N(0, 1) per image and channel to the noise")},

    SECTION("train", "the optimiser and the training loop"),
    {VALUE("train.steps", INT, "1000", "[1, inf)", train.steps, "optimiser steps")},
    {VALUE("train.batch", INT, "64", "[1, 65536]", train.batch,
           "images per forward pass (per optimiser step unless accumulate > 1)")},
    {VALUE("train.accumulate", INT, "1", "[1, 4096]", train.accumulate,
           "forward passes of train.batch images summed into one optimiser step")},
    {VALUE("train.recompute", BOOL, "false", NULL, train.recompute,
           "keep only each U-Net level's outputs and recompute the rest in the backward pass")},
    {VALUE("train.optimizer", CHOICE, "adam", DX_OPTIMIZER_WORDS, train.optimizer,
           "the optimiser")},
    {VALUE("train.lr", FLOAT, "2e-4", "(0, 1]", train.lr, "peak learning rate")},
    {LIST("train.betas", FLOAT, "[0.9, 0.999]", "[0, 1)", train.betas, "Adam's beta1 and beta2"),
     .min_items = 2, .max_items = 2},
    {VALUE("train.weight_decay", FLOAT, "0", "[0, inf)", train.weight_decay,
           "weight decay (decoupled for adamw)")},
    {VALUE("train.warmup", INT, "0", "[0, inf)", train.warmup,
           "steps of linear learning-rate warm-up")},
    {VALUE("train.lr_schedule", CHOICE, "constant", DX_EXP_LR_WORDS, train.lr_schedule,
           "learning rate after warm-up")},
    {VALUE("train.clip_grad", FLOAT, "1.0", "[0, inf)", train.clip_grad,
           "global gradient-norm clip; 0 turns it off")},
    SECTION("train.ema", "the exponential moving average of the weights"),
    {VALUE("train.ema.decay", FLOAT, "0.995", "[0, 1]", train.ema.decay, "EMA decay per update")},
    {VALUE("train.ema.every", INT, "1", "[1, inf)", train.ema.every, "steps between EMA updates")},
    {VALUE("train.ema.start", INT, "0", "[0, inf)", train.ema.start,
           "step of the first EMA update")},
    {VALUE("train.threads", INT, "0", "[0, inf)", train.threads,
           "CPU threads; 0 uses every core the process may use (affinity, cgroup quota)")},
    {VALUE("train.cond_drop", FLOAT, "0", "[0, 1]", train.cond_drop,
           "probability of replacing a sample's class by 'no class' (classifier-free guidance)")},

    SECTION("log", "metrics"),
    {VALUE("log.every", INT, "50", "[1, inf)", log.every, "steps between logged losses")},

    SECTION("sample", "sample grids drawn during training"),
    {VALUE("sample.every", INT, "1000", "[0, inf)", sample.every,
           "steps between grids; 0 never samples")},
    {VALUE("sample.count", INT, "64", "[1, 1024]", sample.count, "images per grid")},
    {VALUE("sample.nrow", INT, "8", "[1, inf)", sample.nrow, "images per grid row")},
    {VALUE("sample.steps", INT, "0", "[0, inf)", sample.steps,
           "reverse steps per sample; 0 uses all T")},
    {LIST("sample.classes", INT, "[]", "[0, inf)", sample.classes,
          "a conditional model's class of each grid row, repeated; [] shows every class"),
     .max_items = DX_EXP_MAX_CLASSES, .count_offset = OFF(sample.n_classes)},
    {VALUE("sample.guidance", FLOAT, "0", "[-1, inf)", sample.guidance,
           "classifier-free guidance weight w: (1 + w) eps(x, c) - w eps(x)")},

    SECTION("eval", "bits/dim on held-out images"),
    {VALUE("eval.every", INT, "0", "[0, inf)", eval.every,
           "steps between evaluations; 0 never evaluates")},
    {VALUE("eval.images", INT, "256", "[1, inf)", eval.images, "test images per evaluation")},
    {VALUE("eval.batch", INT, "64", "[1, inf)", eval.batch, "images per evaluation batch")},

    SECTION("eval.fid", "FID and KID of samples during training (docs/generation.md)"),
    {VALUE("eval.fid.every", INT, "0", "[0, inf)", eval.fid.every,
           "steps between scores; 0 never scores")},
    {VALUE("eval.fid.samples", INT, "1000", "[2, inf)", eval.fid.samples,
           "samples per score, drawn in chunks of eval.batch")},
    {VALUE("eval.fid.features", STRING, "results/features", NULL, eval.fid.features,
           "folder of the feature networks (ddpmx features train)")},

    SECTION("checkpoint", "checkpoints to resume from"),
    {VALUE("checkpoint.every", INT, "1000", "[0, inf)", checkpoint.every,
           "steps between checkpoints; 0 only at the end")},
    {VALUE("checkpoint.dir", STRING, "results/checkpoints", NULL, checkpoint.dir,
           "folder for checkpoint files")},

    SECTION("cuda", "settings of the CUDA backend; the CPU ignores them"),
    {VALUE("cuda.deterministic", BOOL, "true", NULL, cuda.deterministic,
           "cuDNN uses only algorithms that give the same bits every run")},
    {VALUE("cuda.tf32", BOOL, "false", NULL, cuda.tf32,
           "allow TF32 tensor cores in matrix products and convolutions")},
    {VALUE("cuda.pool_mb", INT, "0", "[0, 16777216]", cuda.pool_mb,
           "MiB of device memory reserved up front; 0: 8 GiB or half the free memory")},
};

const dx_key_spec *dx_schema_keys(size_t *n) {
  *n = sizeof keys / sizeof keys[0];
  return keys;
}

const dx_key_spec *dx_schema_find(const char *path) {
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(keys[i].spec.name, path) == 0) return &keys[i];
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
    if (!directly_in(keys[i].spec.name, section)) continue;
    if (n < max) out[n] = &keys[i];
    n++;
  }
  return n;
}

const char *dx_schema_leaf(const dx_key_spec *k) {
  const char *dot = strrchr(k->spec.name, '.');
  return dot ? dot + 1 : k->spec.name;
}

static dx_status default_value(const dx_key_spec *k, dx_ynode **out, char *err, size_t errlen) {
  static const dx_srcpos pos = {DX_POS_DEFAULT, 0, 0};
  if (k->shape == DX_KEY_SECTION) {
    *out = dx_ynode_new(DX_YNODE_MAP, pos);
    return *out ? DX_OK : DX_ERR_NOMEM;
  }
  return dx_yaml_parse(k->spec.default_value, strlen(k->spec.default_value), pos.file, &pos, out,
                       err, errlen);
}

dx_status dx_cfg_defaults(dx_ynode **out, char *err, size_t errlen) {
  static const dx_srcpos pos = {DX_POS_DEFAULT, 0, 0};
  dx_ynode *root = dx_ynode_new(DX_YNODE_MAP, pos);
  size_t n;
  const dx_key_spec *keys = dx_schema_keys(&n);
  dx_status st = root ? DX_OK : DX_ERR_NOMEM;
  for (size_t i = 0; i < n && st == DX_OK; i++) {
    const dx_key_spec *k = &keys[i];
    if (k->shape != DX_KEY_SECTION && !k->spec.default_value) continue;
    /* Sections come before their keys in the schema, so the parent exists. */
    dx_ynode *parent = dx_ynode_parent(root, k->spec.name);
    dx_ynode *value = NULL;
    st = default_value(k, &value, err, errlen);
    if (st == DX_OK) st = dx_ynode_put(parent, dx_schema_leaf(k), pos, value);
  }
  if (st != DX_OK) {
    dx_ynode_free(root);
    root = NULL;
  }
  *out = root;
  return st;
}
