/* The feature network (core/train/features) on a tiny generated IDX
 * dataset, and the FID commands: training is deterministic (same seed, same
 * SHA-256), the network learns the easy classes, the test split scored
 * against itself in halves is near zero while Gaussian noise scores far
 * worse, and a missing network is one clear line. Never reads
 * /usr/share/datasets. */
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_cli.h"
#include "dxt_files.h"
#include "train/features.h"

static char work[64], data[PATH_MAX], netdir[PATH_MAX], tiny_yaml[PATH_MAX + 32];
static char err[DX_ERRMSG_MAX];

/* 16x16 images (the reader takes any size; small keeps the test quick).
 * Class k: a bright 4x4 square at a place of its own on a noisy dark
 * background, its brightness and the noise drawn per image. */
enum { S = 16, P = S * S };
static void write_split(const char *prefix, uint32_t count, unsigned seed) {
  uint8_t *img = malloc((size_t)count * P), *lab = malloc(count);
  srand(seed);
  for (uint32_t i = 0; i < count; i++) {
    int k = (int)(i % 10), top = 2 + (k / 5) * 8, left = 1 + (k % 5) * 3;
    int level = 150 + rand() % 100;
    lab[i] = (uint8_t)k;
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++) {
        bool in = y >= top && y < top + 4 && x >= left && x < left + 4;
        img[i * P + y * S + x] = (uint8_t)((in ? level : 0) + rand() % 50);
      }
  }
  char path[PATH_MAX + 64];
  unsigned idims[3] = {count, S, S}, ldims[1] = {count};
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", data, prefix);
  dxt_write_idx(path, 3, idims, img, (size_t)count * P);
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", data, prefix);
  dxt_write_idx(path, 1, ldims, lab, count);
  free(img), free(lab);
}

static void setup(void) {
  dxt_ddpmx(); /* resolved before anything changes folder */
  char here[PATH_MAX];
  ck_assert_ptr_nonnull(getcwd(here, sizeof here));
  snprintf(tiny_yaml, sizeof tiny_yaml, "%s/data/cli/tiny.yaml", here);
  snprintf(work, sizeof work, "/tmp/dx_features_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(work));
  snprintf(data, sizeof data, "%s/data", work);
  snprintf(netdir, sizeof netdir, "%s/nets", work);
  ck_assert_int_eq(mkdir(data, 0755), 0);
  write_split("train", 500, 1);
  write_split("t10k", 400, 2);
  ck_assert_int_eq(chdir(work), 0); /* a run writes results/ here */
}

static void teardown(void) { dxt_rmtree(work); }

static dx_features_train_opts tiny(uint64_t seed) {
  return (dx_features_train_opts){.kind = DX_DATA_FASHION_MNIST,
                                  .data_path = data,
                                  .seed = seed,
                                  .epochs = 8,
                                  .batch = 50,
                                  .lr = 5e-3,
                                  .width = 4,
                                  .threads = 1};
}

static void train(uint64_t seed, const char *dir, dx_features_info *in) {
  dx_features_train_opts o = tiny(seed);
  dx_status st = dx_features_train(&o, dir, in, err, sizeof err);
  ck_assert_msg(st == DX_OK, "%s", err);
}

/* The test split against itself in halves (first and second: both hold
 * every class), real training images, and Gaussian noise in [-1, 1]. */
static void check_scores(const char *dir) {
  dx_features *f;
  dx_dataset *test, *train;
  ck_assert_int_eq(dx_features_open(dir, "fashion-mnist", 1, &f, err, sizeof err), DX_OK);
  ck_assert_int_eq(
      dx_dataset_open(DX_DATA_FASHION_MNIST, data, DX_SPLIT_TEST, err, sizeof err, &test), DX_OK);
  ck_assert_int_eq(
      dx_dataset_open(DX_DATA_FASHION_MNIST, data, DX_SPLIT_TRAIN, err, sizeof err, &train), DX_OK);
  float *feat, *tf;
  int *labels, *pred;
  int64_t n, nt, D = dx_features_info_of(f)->dim;
  ck_assert_int_eq(dx_features_of_dataset(f, test, 0, &feat, &labels, &pred, &n, err, sizeof err),
                   DX_OK);
  ck_assert_int_eq(n, 400);
  int64_t right = 0;
  for (int64_t i = 0; i < n; i++)
    right += pred[i] == labels[i] && labels[i] == i % 10;
  ck_assert_double_eq_tol((double)right / (double)n, dx_features_info_of(f)->accuracy, 1e-6);
  ck_assert_int_eq(dx_features_of_dataset(f, train, 200, &tf, NULL, NULL, &nt, err, sizeof err),
                   DX_OK);
  ck_assert_int_eq(nt, 200);
  float *noise = malloc(200 * P * sizeof *noise), *nf = malloc((size_t)(200 * D) * sizeof *nf);
  srand(11);
  for (int i = 0; i < 200 * P; i++) {
    double s = -6;
    for (int k = 0; k < 12; k++)
      s += rand() / (double)RAND_MAX;
    noise[i] = (float)(s < -1 ? -1 : s > 1 ? 1 : s);
  }
  ck_assert_int_eq(dx_features_embed(f, noise, 200, 1, S, S, nf, NULL, err, sizeof err), DX_OK);
  dx_kid_opts ko = {.subsets = 20, .seed = 1};
  dx_fid_score halves, real, vs_noise;
  ck_assert_int_eq(
      dx_features_score(f, feat, 200, feat + 200 * D, 200, &ko, &halves, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_features_score(f, tf, 200, feat, n, &ko, &real, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_features_score(f, nf, 200, feat, n, &ko, &vs_noise, err, sizeof err), DX_OK);
  ck_assert_msg(vs_noise.fid > 20 * halves.fid && vs_noise.fid > 20 * real.fid,
                "FID halves %g, real %g, noise %g", halves.fid, real.fid, vs_noise.fid);
  ck_assert_msg(vs_noise.kid > 20 * (halves.kid > 0 ? halves.kid : 0) + 3 * halves.kid_spread,
                "KID halves %g ± %g, noise %g", halves.kid, halves.kid_spread, vs_noise.kid);
  ck_assert_double_ge(halves.fid, -1e-9);
  /* images padded as data.pad_pow2 pads them are cropped back: the same features */
  enum { Q = (S + 4) * (S + 4) };
  float *pad = malloc(2 * Q * sizeof *pad), *pf = malloc((size_t)(2 * D) * sizeof *pf);
  for (int i = 0; i < 2 * Q; i++)
    pad[i] = -1;
  for (int i = 0; i < 2; i++)
    for (int y = 0; y < S; y++)
      memcpy(pad + i * Q + (y + 2) * (S + 4) + 2, noise + i * P + y * S, S * sizeof *pad);
  ck_assert_int_eq(dx_features_embed(f, pad, 2, 1, S + 4, S + 4, pf, NULL, err, sizeof err), DX_OK);
  for (int64_t i = 0; i < 2 * D; i++)
    ck_assert_float_eq(pf[i], nf[i]);
  ck_assert_int_eq(dx_features_embed(f, pad, 2, 3, S + 4, S + 4, pf, NULL, err, sizeof err),
                   DX_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(err, "takes 1x16x16 images"));
  free(noise), free(nf), free(pad), free(pf), free(tf);
  free(feat), free(labels), free(pred);
  dx_dataset_free(test), dx_dataset_free(train);
  dx_features_free(f);
}

START_TEST(training_is_deterministic_and_learns) {
  char a[PATH_MAX + 8], b[PATH_MAX + 8];
  snprintf(a, sizeof a, "%s/a", netdir), snprintf(b, sizeof b, "%s/b", netdir);
  dx_features_info ia, ib;
  train(3, a, &ia), train(3, b, &ib);
  ck_assert_str_eq(ia.sha256, ib.sha256);
  ck_assert_msg(ia.accuracy > 0.9, "test accuracy %g", ia.accuracy);
  ck_assert_int_eq(ia.dim, 32);
  /* found again by dataset, with what was stored */
  dx_features *f;
  ck_assert_int_eq(dx_features_open(a, "fashion-mnist", 1, &f, err, sizeof err), DX_OK);
  const dx_features_info *in = dx_features_info_of(f);
  ck_assert_str_eq(in->sha256, ia.sha256);
  ck_assert_double_eq_tol(in->accuracy, ia.accuracy, 1e-6);
  ck_assert_int_eq(in->H, S);
  char tag[64], want[64];
  dx_features_tag(f, tag, sizeof tag);
  snprintf(want, sizeof want, "fashion-mnist_%.8s", ia.sha256);
  ck_assert_str_eq(tag, want);
  dx_features_free(f);
  char *note = NULL, path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/fashion-mnist.json", a);
  note = dxt_slurp(path);
  ck_assert_ptr_nonnull(strstr(note, ia.sha256));
  free(note);
  check_scores(a);
  /* another seed, another network (a short run is enough to tell) */
  dx_features_train_opts o = tiny(4);
  o.epochs = 1;
  ck_assert_int_eq(dx_features_train(&o, b, &ib, err, sizeof err), DX_OK);
  ck_assert_str_ne(ia.sha256, ib.sha256);
}
END_TEST

START_TEST(missing_network_says_what_to_run) {
  dx_features *f;
  ck_assert_int_eq(dx_features_open(netdir, "cifar10", 1, &f, err, sizeof err), DX_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "run `ddpmx features train --dataset cifar10` first"));
}
END_TEST

START_TEST(cli_trains_shows_and_scores) {
  char quick[PATH_MAX + 8];
  snprintf(quick, sizeof quick, "%s/quick", netdir);
  const char *train_argv[] = {"features",
                              "train",
                              "--dataset",
                              "fashion-mnist",
                              "--data-path",
                              data,
                              "--width",
                              "2",
                              "--epochs",
                              "1",
                              "--train-images",
                              "100",
                              "--batch",
                              "50",
                              "--lr",
                              "0.005",
                              "--dir",
                              quick,
                              NULL};
  dxt_out o = dxt_cli(train_argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_ptr_nonnull(strstr(o.out, "test accuracy"));
  ck_assert_ptr_nonnull(strstr(o.err, "step 2/2"));
  dxt_out_free(&o);
  dx_features_info in;
  train(6, netdir, &in);
  const char *show_argv[] = {"features", "show", "--dir", netdir, NULL};
  o = dxt_cli(show_argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_ptr_nonnull(strstr(o.out, in.sha256));
  dxt_out_free(&o);
  double fid[2];
  const char *what[2] = {"--real", "--noise"};
  for (int k = 0; k < 2; k++) {
    const char *argv[] = {"features", "fid", "--dataset", "fashion-mnist", "--data-path", data,
                          what[k],    "200", "--dir",     netdir,          NULL};
    o = dxt_cli(argv);
    ck_assert_msg(o.code == 0, "%s", o.err);
    const char *p = strstr(o.out, "FID ");
    ck_assert_ptr_nonnull(p);
    fid[k] = strtod(p + 4, NULL);
    ck_assert_ptr_nonnull(strstr(o.out, "feature network fashion-mnist_"));
    dxt_out_free(&o);
  }
  ck_assert_msg(fid[1] > 20 * fid[0], "FID real %g, noise %g", fid[0], fid[1]);
  /* real test images: part of the reference, said so */
  const char *test_argv[] = {"features", "fid",    "--dataset", "fashion-mnist", "--data-path",
                             data,       "--real", "200",       "--split",       "test",
                             "--dir",    netdir,   NULL};
  o = dxt_cli(test_argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_ptr_nonnull(strstr(o.out, "real test images (part of the reference)"));
  const char *p = strstr(o.out, "FID ");
  ck_assert_ptr_nonnull(p);
  ck_assert_msg(fid[1] > 20 * strtod(p + 4, NULL), "FID test %s", p);
  dxt_out_free(&o);
  test_argv[9] = "val";
  o = dxt_cli(test_argv);
  ck_assert_int_eq(o.code, 2);
  ck_assert_ptr_nonnull(strstr(o.err, "--split val: train or test"));
  dxt_out_free(&o);
  /* a tiny diffusion run on the same data, scored: printed and stored */
  char data_arg[PATH_MAX + 16];
  snprintf(data_arg, sizeof data_arg, "data.path=%s", data);
  char feat_arg[PATH_MAX + 32];
  snprintf(feat_arg, sizeof feat_arg, "eval.fid.features=%s", netdir);
  const char *run_argv[] = {"run",
                            tiny_yaml,
                            "data.dataset=fashion-mnist",
                            data_arg,
                            "checkpoint.every=4",
                            "sample.every=0",
                            "eval.fid.every=4",
                            "eval.fid.samples=10",
                            "eval.batch=4",
                            feat_arg,
                            NULL};
  o = dxt_cli(run_argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
  const char *eval_argv[] = {"eval",    "tiny", "--fid",      "--samples", "20",
                             "--steps", "5",    "--features", netdir,      NULL};
  o = dxt_cli(eval_argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_ptr_nonnull(strstr(o.out, "FID "));
  ck_assert_ptr_nonnull(strstr(o.out, "beta_tilde, 5 steps"));
  dxt_out_free(&o);
  sqlite3 *db;
  sqlite3_stmt *q;
  ck_assert_int_eq(sqlite3_open("results/ddpmx.db", &db), SQLITE_OK);
  ck_assert_int_eq(sqlite3_prepare_v2(db,
                                      "SELECT name, value FROM metrics WHERE name LIKE 'fid/%' "
                                      "OR name LIKE 'kid%' ORDER BY name",
                                      -1, &q, NULL),
                   SQLITE_OK);
  /* eval.fid during the run (T = 20 steps, 10 samples), then ddpmx eval's */
  const char *want[3] = {"fid", "kid", "kid_spread"};
  for (int k = 0; k < 6; k++) {
    char name[128];
    snprintf(name, sizeof name, "%s/beta_tilde-%s/fashion-mnist_%.8s", want[k / 2],
             k % 2 ? "5/n20" : "20/n10", in.sha256);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), name);
    ck_assert(sqlite3_column_type(q, 1) == SQLITE_FLOAT);
  }
  ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
  sqlite3_finalize(q);
  ck_assert_int_eq(sqlite3_prepare_v2(db,
                                      "SELECT value FROM params WHERE key = "
                                      "'features.fashion-mnist.sha256'",
                                      -1, &q, NULL),
                   SQLITE_OK);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), in.sha256);
  sqlite3_finalize(q);
  sqlite3_close(db);

  const char *none_argv[] = {"features", "fid",   "--dataset", "mnist", "--real",
                             "10",       "--dir", netdir,      NULL};
  o = dxt_cli(none_argv);
  ck_assert_int_eq(o.code, 1);
  ck_assert_ptr_nonnull(strstr(o.err, "run `ddpmx features train --dataset mnist` first"));
  dxt_out_free(&o);
}
END_TEST

int main(void) {
  Suite *s = suite_create("features");
  TCase *tc = tcase_create("features");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 600);
  DXT_ADD(tc, training_is_deterministic_and_learns);
  DXT_ADD(tc, missing_network_says_what_to_run);
  DXT_ADD(tc, cli_trains_shows_and_scores);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
