/* Datasets: IDX, CIFAR-10 and PNG-folder readers, the float batch with flip
 * and padding, the batch order, and every error message.
 *
 * The files are written here by hand-rolled encoders that share no code with
 * the library: gzip and PNG streams use stored (uncompressed) deflate blocks
 * with their own CRC-32 and Adler-32, so a reader bug cannot be cancelled by
 * the same bug in a writer. */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset.h"
#include "dx_test.h"

/* ---- byte buffers and the encoders ---- */

typedef struct bytes {
  uint8_t *p;
  size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    ck_assert_ptr_nonnull(b->p);
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}

static void put8(bytes *b, uint8_t v) { put(b, &v, 1); }

static void put_be32(bytes *b, uint32_t v) {
  uint8_t q[4] = {v >> 24, v >> 16, v >> 8, v};
  put(b, q, 4);
}

static void put_le32(bytes *b, uint32_t v) {
  uint8_t q[4] = {v, v >> 8, v >> 16, v >> 24};
  put(b, q, 4);
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
  }
  return ~c;
}

static uint32_t adler32_of(const uint8_t *p, size_t n) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n; i++) {
    a = (a + p[i]) % 65521;
    b = (b + a) % 65521;
  }
  return b << 16 | a;
}

/* RFC 1951 stored blocks: header bits BFINAL, BTYPE=00, then LEN and ~LEN. */
static void put_deflate_stored(bytes *b, const uint8_t *p, size_t n) {
  size_t off = 0;
  do {
    size_t len = n - off > 65535 ? 65535 : n - off;
    put8(b, off + len == n);
    uint8_t hdr[4] = {len & 0xff, len >> 8, ~len & 0xff, (~len >> 8) & 0xff};
    put(b, hdr, 4);
    put(b, p + off, len);
    off += len;
  } while (off < n);
}

/* RFC 1952 member: magic, CM=8, no flags, no mtime, OS=3, data, CRC, ISIZE. */
static bytes gzip_of(const bytes *raw) {
  bytes g = {0};
  uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  put(&g, hdr, sizeof hdr);
  put_deflate_stored(&g, raw->p, raw->n);
  put_le32(&g, crc32_of(raw->p, raw->n));
  put_le32(&g, (uint32_t)raw->n);
  return g;
}

static void put_png_chunk(bytes *b, const char *type, const uint8_t *data, size_t n) {
  bytes c = {0};
  put(&c, type, 4);
  if (n) put(&c, data, n);
  put_be32(b, (uint32_t)n);
  put(b, c.p, c.n);
  put_be32(b, crc32_of(c.p, c.n));
  free(c.p);
}

/* Sample c of palette entry k for colour type 3 images. */
static uint8_t palette(int k, int c) {
  return (uint8_t)(c == 0 ? k * 3 : c == 1 ? 255 - k : k ^ 0x5a);
}

static int samples_of(int ct) { return ct == 0 || ct == 3 ? 1 : ct == 2 ? 3 : ct == 4 ? 2 : 4; }

/* An 8-bit PNG of colour type ct (0 gray, 2 RGB, 3 palette, 4 gray+alpha,
 * 6 RGBA); px holds h rows of w * samples bytes. */
static bytes png_of(int64_t w, int64_t h, int ct, const uint8_t *px) {
  int samples = samples_of(ct);
  bytes rows = {0}, z = {0}, ihdr = {0}, png = {0};
  for (int64_t y = 0; y < h; y++) {
    put8(&rows, 0); /* filter: none */
    put(&rows, px + y * w * samples, (size_t)(w * samples));
  }
  put8(&z, 0x78);
  put8(&z, 0x01);
  put_deflate_stored(&z, rows.p, rows.n);
  put_be32(&z, adler32_of(rows.p, rows.n));
  put_be32(&ihdr, (uint32_t)w);
  put_be32(&ihdr, (uint32_t)h);
  uint8_t rest[5] = {8, (uint8_t)ct, 0, 0, 0};
  put(&ihdr, rest, 5);
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  put(&png, sig, 8);
  put_png_chunk(&png, "IHDR", ihdr.p, ihdr.n);
  if (ct == 3) {
    uint8_t plte[256 * 3];
    for (int k = 0; k < 256 * 3; k++)
      plte[k] = palette(k / 3, k % 3);
    put_png_chunk(&png, "PLTE", plte, sizeof plte);
  }
  put_png_chunk(&png, "IDAT", z.p, z.n);
  put_png_chunk(&png, "IEND", NULL, 0);
  free(rows.p);
  free(z.p);
  free(ihdr.p);
  return png;
}

/* ---- temp folders and messages ---- */

static void fresh_dir(char *dir, size_t n) {
  snprintf(dir, n, "/tmp/ddpmx_test_data_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_dir(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void write_bytes(const char *dir, const char *name, const uint8_t *p, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void write_free(const char *dir, const char *name, bytes b) {
  write_bytes(dir, name, b.p, b.n);
  free(b.p);
}

static void make_subdir(const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  ck_assert_int_eq(mkdir(path, 0755), 0);
}

/* Opens and expects failure with status want and exactly the formatted message. */
__attribute__((format(printf, 5, 6))) static void
expect_open_error(dx_data_kind kind, const char *path, dx_data_split split, dx_status want,
                  const char *fmt, ...) {
  char expected[1024], err[DX_ERRMSG_MAX] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(expected, sizeof expected, fmt, ap);
  va_end(ap);
  dx_dataset *ds = (dx_dataset *)1;
  dx_status s = dx_dataset_open(kind, path, split, err, sizeof err, &ds);
  ck_assert_ptr_null(ds);
  ck_assert_int_eq(s, want);
  ck_assert_str_eq(err, expected);
}

static dx_dataset *open_ok(dx_data_kind kind, const char *path, dx_data_split split) {
  char err[DX_ERRMSG_MAX] = "";
  dx_dataset *ds = NULL;
  dx_status s = dx_dataset_open(kind, path, split, err, sizeof err, &ds);
  ck_assert_msg(s == DX_OK, "open %s: %s", path, err);
  return ds;
}

/* The spec's scaling, evaluated in double and rounded once. */
static float scaled(int v) { return (float)(v / 127.5 - 1.0); }

/* ---- IDX ---- */

static uint8_t idx_px(int64_t i, int64_t y, int64_t x) {
  if (i == 1 && y == 2 && x == 3) return 255;
  return (uint8_t)((i * 97 + y * 13 + x * 5) % 256);
}

/* IDX image file: magic 0x803, count, rows, cols, then the bytes. */
static bytes idx_images(int64_t count, int64_t rows, int64_t cols) {
  bytes b = {0};
  put_be32(&b, 0x803);
  put_be32(&b, (uint32_t)count);
  put_be32(&b, (uint32_t)rows);
  put_be32(&b, (uint32_t)cols);
  for (int64_t i = 0; i < count; i++)
    for (int64_t y = 0; y < rows; y++)
      for (int64_t x = 0; x < cols; x++)
        put8(&b, idx_px(i, y, x));
  return b;
}

static bytes idx_labels(int64_t count) {
  bytes b = {0};
  put_be32(&b, 0x801);
  put_be32(&b, (uint32_t)count);
  for (int64_t i = 0; i < count; i++)
    put8(&b, (uint8_t)((i * 7 + 3) % 10));
  return b;
}

static void gz_free(const char *dir, const char *name, bytes raw) {
  bytes g = gzip_of(&raw);
  free(raw.p);
  write_free(dir, name, g);
}

/* train-* gzipped, t10k-* plain: both routes through the reader. */
static void write_mnist(const char *dir, int64_t n_train, int64_t n_test, int64_t rows,
                        int64_t cols) {
  gz_free(dir, "train-images-idx3-ubyte.gz", idx_images(n_train, rows, cols));
  gz_free(dir, "train-labels-idx1-ubyte.gz", idx_labels(n_train));
  write_free(dir, "t10k-images-idx3-ubyte", idx_images(n_test, rows, cols));
  write_free(dir, "t10k-labels-idx1-ubyte", idx_labels(n_test));
}

/* A fresh temp folder holding an MNIST-style dataset of `count` images per split. */
static void fresh_mnist(char *dir, size_t size, int64_t count, int64_t rows, int64_t cols) {
  fresh_dir(dir, size);
  write_mnist(dir, count, count, rows, cols);
}

static void check_idx_split(const char *dir, dx_data_split split, int64_t n) {
  dx_dataset *ds = open_ok(DX_DATA_MNIST, dir, split);
  ck_assert_int_eq(dx_dataset_count(ds), n);
  ck_assert_int_eq(dx_dataset_channels(ds), 1);
  ck_assert_int_eq(dx_dataset_height(ds, false), 5);
  ck_assert_int_eq(dx_dataset_width(ds, false), 4);
  int64_t idx[3] = {2, 0, 1};
  float out[3 * 20];
  char err[256];
  ck_assert_int_eq(dx_dataset_batch(ds, idx, 3, NULL, out, err, sizeof err), DX_OK);
  for (int j = 0; j < 3; j++) {
    ck_assert_int_eq(dx_dataset_label(ds, idx[j]), (idx[j] * 7 + 3) % 10);
    for (int y = 0; y < 5; y++)
      for (int x = 0; x < 4; x++)
        ck_assert_float_eq(out[j * 20 + y * 4 + x], scaled(idx_px(idx[j], y, x)));
  }
  /* The ends of the range are exact: 0 -> -1 (image 0, pixel 0), 255 -> 1. */
  ck_assert_float_eq(out[1 * 20 + 0], -1.0f);
  ck_assert_float_eq(out[2 * 20 + 2 * 4 + 3], 1.0f);
  dx_dataset_free(ds);
}

START_TEST(idx_gzip_and_plain_round_trip) {
  char dir[256];
  fresh_mnist(dir, sizeof dir, 3, 5, 4);
  check_idx_split(dir, DX_SPLIT_TRAIN, 3);
  check_idx_split(dir, DX_SPLIT_TEST, 3);
  remove_dir(dir);
}
END_TEST

START_TEST(idx_prefers_gz_over_plain) {
  char dir[256];
  fresh_mnist(dir, sizeof dir, 3, 5, 4);
  /* A plain train file beside the .gz one, with a different count: ignored. */
  write_free(dir, "train-images-idx3-ubyte", idx_images(1, 5, 4));
  dx_dataset *ds = open_ok(DX_DATA_MNIST, dir, DX_SPLIT_TRAIN);
  ck_assert_int_eq(dx_dataset_count(ds), 3);
  dx_dataset_free(ds);
  remove_dir(dir);
}
END_TEST

/* An IDX file with any header and `payload` bytes of pixel value 7. */
static bytes idx_raw(uint32_t magic, int ndims, const uint32_t *dims, size_t payload) {
  bytes b = {0};
  put_be32(&b, magic);
  for (int d = 0; d < ndims; d++)
    put_be32(&b, dims[d]);
  for (size_t i = 0; i < payload; i++)
    put8(&b, 7);
  return b;
}

/* Replaces the plain train image file of a fresh MNIST folder and checks the
 * message that names it. */
static void expect_bad_images(bytes file, const char *what_fmt) {
  char dir[256], path[512];
  fresh_mnist(dir, sizeof dir, 3, 5, 4);
  remove(strcat(strcpy(path, dir), "/train-images-idx3-ubyte.gz"));
  write_free(dir, "train-images-idx3-ubyte", file);
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
  expect_open_error(DX_DATA_MNIST, dir, DX_SPLIT_TRAIN, DX_ERR_PARSE, what_fmt, path);
  remove_dir(dir);
}

START_TEST(idx_corrupt_files_are_named) {
  uint32_t ok[3] = {3, 5, 4}, zero_rows[3] = {3, 0, 4};
  expect_bad_images(idx_raw(0x802, 3, ok, 60),
                    "%s: bad magic 0x00000802 (expected 0x00000803); not an IDX image file");
  expect_bad_images(idx_raw(0x803, 3, zero_rows, 0),
                    "%s: image side 0 is out of range (1..4096); corrupt header");
  expect_bad_images(idx_raw(0x803, 3, ok, 40),
                    "%s: header promises 60 bytes of data but the file holds 40; truncated");
  expect_bad_images(
      idx_raw(0x803, 3, ok, 61),
      "%s: header promises 60 bytes of data but the file holds more; trailing garbage");
  expect_bad_images(idx_raw(0x803, 1, ok, 2),
                    "%s: truncated: 10 bytes, shorter than the 16-byte IDX header");
}
END_TEST

START_TEST(idx_labels_checked_against_images) {
  char dir[256], ipath[512], lpath[512];
  fresh_mnist(dir, sizeof dir, 3, 5, 4);
  snprintf(ipath, sizeof ipath, "%s/t10k-images-idx3-ubyte", dir);
  snprintf(lpath, sizeof lpath, "%s/t10k-labels-idx1-ubyte", dir);
  uint32_t n3[1] = {3}, n2[1] = {2};
  write_free(dir, "t10k-labels-idx1-ubyte", idx_raw(0x803, 1, n3, 3));
  expect_open_error(DX_DATA_MNIST, dir, DX_SPLIT_TEST, DX_ERR_PARSE,
                    "%s: bad magic 0x00000803 (expected 0x00000801); not an IDX label file", lpath);
  write_free(dir, "t10k-labels-idx1-ubyte", idx_raw(0x801, 1, n2, 2));
  expect_open_error(DX_DATA_MNIST, dir, DX_SPLIT_TEST, DX_ERR_PARSE,
                    "%s has 3 images but %s has 2 labels; the two files must match", ipath, lpath);
  remove_dir(dir);
}
END_TEST

START_TEST(idx_broken_gzip_is_named) {
  char dir[256], path[512];
  fresh_mnist(dir, sizeof dir, 3, 5, 4);
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
  bytes raw = idx_images(3, 5, 4), g = gzip_of(&raw);
  write_bytes(dir, "train-images-idx3-ubyte.gz", g.p, g.n - 30); /* cut inside the data */
  expect_open_error(DX_DATA_MNIST, dir, DX_SPLIT_TRAIN, DX_ERR_PARSE,
                    "%s: truncated or corrupt gzip stream (zlib: unexpected end of file); "
                    "download it again",
                    path);
  g.p[g.n - 5] ^= 0x55; /* CRC-32 of the data: the stream is complete but wrong */
  write_bytes(dir, "train-images-idx3-ubyte.gz", g.p, g.n);
  expect_open_error(DX_DATA_MNIST, dir, DX_SPLIT_TRAIN, DX_ERR_PARSE,
                    "%s: truncated or corrupt gzip stream (zlib: incorrect data check); "
                    "download it again",
                    path);
  free(raw.p);
  free(g.p);
  remove_dir(dir);
}
END_TEST

START_TEST(idx_missing_files_are_named) {
  char dir[256], gone[512];
  fresh_dir(dir, sizeof dir);
  snprintf(gone, sizeof gone, "%s/nowhere", dir);
  expect_open_error(DX_DATA_MNIST, gone, DX_SPLIT_TRAIN, DX_ERR_IO,
                    "%s not found or not a folder; check data.path", gone);
  expect_open_error(DX_DATA_FASHION_MNIST, gone, DX_SPLIT_TRAIN, DX_ERR_IO,
                    "%s not found or not a folder; check data.path", gone);
  expect_open_error(DX_DATA_MNIST, dir, DX_SPLIT_TRAIN, DX_ERR_IO,
                    "%s/train-images-idx3-ubyte.gz not found (nor without .gz); check data.path",
                    dir);
  write_mnist(dir, 3, 3, 5, 4);
  char path[512];
  remove(strcat(strcpy(path, dir), "/t10k-labels-idx1-ubyte"));
  expect_open_error(DX_DATA_MNIST, dir, DX_SPLIT_TEST, DX_ERR_IO,
                    "%s/t10k-labels-idx1-ubyte.gz not found (nor without .gz); check data.path",
                    dir);
  expect_open_error(DX_DATA_MNIST, NULL, DX_SPLIT_TRAIN, DX_ERR_CONFIG,
                    "dataset mnist needs data.path (a folder)");
  remove_dir(dir);
}
END_TEST

/* Only checkable where the package is absent: the message names the package. */
START_TEST(fashion_mnist_default_missing_names_package) {
  if (access(DX_FASHION_MNIST_PATH, F_OK) == 0) {
    fprintf(stderr, "note: %s is installed; the missing-package message is not checked here\n",
            DX_FASHION_MNIST_PATH);
    return;
  }
  const char *want = DX_FASHION_MNIST_PATH " not found; install it with: apt-get install "
                                           "dataset-fashion-mnist (or set data.path)";
  expect_open_error(DX_DATA_FASHION_MNIST, NULL, DX_SPLIT_TRAIN, DX_ERR_IO, "%s", want);
  expect_open_error(DX_DATA_FASHION_MNIST, DX_FASHION_MNIST_PATH, DX_SPLIT_TEST, DX_ERR_IO, "%s",
                    want);
}
END_TEST

static void check_real_split(dx_data_split split, int64_t n) {
  dx_dataset *ds = open_ok(DX_DATA_FASHION_MNIST, NULL, split);
  ck_assert_int_eq(dx_dataset_count(ds), n);
  ck_assert_int_eq(dx_dataset_channels(ds), 1);
  ck_assert_int_eq(dx_dataset_height(ds, false), 28);
  ck_assert_int_eq(dx_dataset_width(ds, false), 28);
  ck_assert_int_eq(dx_dataset_height(ds, true), 32);
  int lo = 255, hi = 0, classes[10] = {0};
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *p = dx_dataset_image(ds, i);
    for (int k = 0; k < 784; k++) {
      lo = p[k] < lo ? p[k] : lo;
      hi = p[k] > hi ? p[k] : hi;
    }
    int label = dx_dataset_label(ds, i);
    ck_assert(label >= 0 && label < 10);
    classes[label]++;
  }
  ck_assert_int_eq(lo, 0);
  ck_assert_int_eq(hi, 255);
  /* Fashion-MNIST is balanced: 6000 (train) or 1000 (test) of each class. */
  for (int c = 0; c < 10; c++)
    ck_assert_int_eq(classes[c], n / 10);
  dx_dataset_free(ds);
}

START_TEST(real_fashion_mnist_when_installed) {
  if (access(DX_FASHION_MNIST_PATH, F_OK) != 0) {
    fprintf(stderr, "skip: %s absent (apt-get install dataset-fashion-mnist)\n",
            DX_FASHION_MNIST_PATH);
    return;
  }
  check_real_split(DX_SPLIT_TRAIN, 60000);
  check_real_split(DX_SPLIT_TEST, 10000);
}
END_TEST

/* ---- CIFAR-10 ---- */

static uint8_t cifar_px(int f, int r, int c, int y, int x) {
  return (uint8_t)((f * 31 + r * 17 + c * 101 + y * 7 + x * 3) % 256);
}

/* File f (0..4 train, 5 test) with n records, labels (f + r) % 10. */
static bytes cifar_batch(int f, int n) {
  bytes b = {0};
  for (int r = 0; r < n; r++) {
    put8(&b, (uint8_t)((f + r) % 10));
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
          put8(&b, cifar_px(f, r, c, y, x));
  }
  return b;
}

static void write_cifar(const char *dir) {
  char name[64];
  for (int f = 0; f < 5; f++) {
    snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
    write_free(dir, name, cifar_batch(f, 2));
  }
  write_free(dir, "test_batch.bin", cifar_batch(5, 3));
}

START_TEST(cifar_records_in_file_order) {
  char dir[256], err[256];
  fresh_dir(dir, sizeof dir);
  write_cifar(dir);
  dx_dataset *ds = open_ok(DX_DATA_CIFAR10, dir, DX_SPLIT_TRAIN);
  ck_assert_int_eq(dx_dataset_count(ds), 10);
  ck_assert_int_eq(dx_dataset_channels(ds), 3);
  ck_assert_int_eq(dx_dataset_height(ds, true), 32);
  float *out = malloc(10 * 3072 * sizeof *out);
  int64_t idx[10];
  for (int i = 0; i < 10; i++)
    idx[i] = i;
  ck_assert_int_eq(dx_dataset_batch(ds, idx, 10, NULL, out, err, sizeof err), DX_OK);
  for (int i = 0; i < 10; i++) {
    int f = i / 2, r = i % 2; /* two records per file, files in order 1..5 */
    ck_assert_int_eq(dx_dataset_label(ds, i), (f + r) % 10);
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 32; y += 5)
        for (int x = 0; x < 32; x += 3)
          ck_assert_float_eq(out[i * 3072 + c * 1024 + y * 32 + x],
                             scaled(cifar_px(f, r, c, y, x)));
  }
  free(out);
  dx_dataset_free(ds);
  ds = open_ok(DX_DATA_CIFAR10, dir, DX_SPLIT_TEST);
  ck_assert_int_eq(dx_dataset_count(ds), 3);
  ck_assert_int_eq(dx_dataset_image(ds, 2)[2 * 1024 + 31 * 32 + 30], cifar_px(5, 2, 2, 31, 30));
  dx_dataset_free(ds);
  remove_dir(dir);
}
END_TEST

START_TEST(cifar_errors_are_named) {
  char dir[256], path[512];
  fresh_dir(dir, sizeof dir);
  write_cifar(dir);
  snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
  bytes b = cifar_batch(2, 2);
  write_bytes(dir, "data_batch_3.bin", b.p, b.n - 100);
  expect_open_error(DX_DATA_CIFAR10, dir, DX_SPLIT_TRAIN, DX_ERR_PARSE,
                    "%s: 6046 bytes is not a whole number of 3073-byte CIFAR-10 records; "
                    "truncated or not a CIFAR-10 binary batch",
                    path);
  b.p[3073] = 12; /* label of record 1 */
  write_bytes(dir, "data_batch_3.bin", b.p, b.n);
  expect_open_error(DX_DATA_CIFAR10, dir, DX_SPLIT_TRAIN, DX_ERR_PARSE,
                    "%s: record 1 has label 12 (expected 0..9); not a CIFAR-10 binary batch", path);
  remove(path);
  expect_open_error(DX_DATA_CIFAR10, dir, DX_SPLIT_TRAIN, DX_ERR_IO,
                    "%s not found; check data.path (CIFAR-10 binary version: "
                    "data_batch_1..5.bin, test_batch.bin)",
                    path);
  free(b.p);
  remove_dir(dir);
}
END_TEST

/* ---- PNG folders ---- */

static uint8_t png_px(int img, int y, int x, int c) {
  return (uint8_t)((img * 60 + y * 17 + x * 5 + c * 80) % 256);
}

/* A w x h PNG of colour type ct whose sample s of pixel (y, x) is png_px. */
static void write_png(const char *dir, const char *name, int img, int w, int h, int ct) {
  int samples = samples_of(ct);
  uint8_t *px = malloc((size_t)(w * h * samples));
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int s = 0; s < samples; s++)
        px[(y * w + x) * samples + s] = png_px(img, y, x, s);
  write_free(dir, name, png_of(w, h, ct, px));
  free(px);
}

START_TEST(png_gray_folder_sorted_by_name) {
  char dir[256];
  fresh_dir(dir, sizeof dir);
  write_png(dir, "b.png", 1, 5, 3, 0);
  write_png(dir, "a.png", 0, 5, 3, 0);
  write_png(dir, "c.PNG", 2, 5, 3, 0);
  write_png(dir, ".hidden.png", 3, 9, 9, 0);
  write_bytes(dir, "notes.txt", (const uint8_t *)"x", 1);
  dx_dataset *ds = open_ok(DX_DATA_FOLDER, dir, DX_SPLIT_TRAIN);
  ck_assert_int_eq(dx_dataset_count(ds), 3);
  ck_assert_int_eq(dx_dataset_channels(ds), 1);
  ck_assert_int_eq(dx_dataset_height(ds, false), 3);
  ck_assert_int_eq(dx_dataset_width(ds, false), 5);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(dx_dataset_label(ds, i), -1);
    for (int y = 0; y < 3; y++)
      for (int x = 0; x < 5; x++)
        ck_assert_int_eq(dx_dataset_image(ds, i)[y * 5 + x], png_px(i, y, x, 0));
  }
  dx_dataset_free(ds);
  remove_dir(dir);
}
END_TEST

/* The value colour type ct puts in channel c of pixel (y, x) of image i:
 * palette images look their index up, gray ones repeat it over R, G, B. */
static uint8_t expected_rgb(int ct, int i, int y, int x, int c) {
  if (ct == 3) return palette(png_px(i, y, x, 0), c);
  return png_px(i, y, x, ct & 2 ? c : 0);
}

/* Colour types 2 (RGB), 6 (RGBA), 0 (gray), 4 (gray+alpha), 3 (palette):
 * alpha dropped, gray repeated over R, G and B, palette looked up. */
START_TEST(png_rgb_folder_drops_alpha) {
  char dir[256];
  fresh_dir(dir, sizeof dir);
  const int types[5] = {2, 6, 0, 4, 3};
  const char *names[5] = {"1.png", "2.png", "3.png", "4.png", "5.png"};
  for (int i = 0; i < 5; i++)
    write_png(dir, names[i], i, 4, 6, types[i]);
  dx_dataset *ds = open_ok(DX_DATA_FOLDER, dir, DX_SPLIT_TEST);
  ck_assert_int_eq(dx_dataset_count(ds), 5);
  ck_assert_int_eq(dx_dataset_channels(ds), 3);
  for (int i = 0; i < 5; i++)
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 6; y++)
        for (int x = 0; x < 4; x++)
          ck_assert_int_eq(dx_dataset_image(ds, i)[(c * 6 + y) * 4 + x],
                           expected_rgb(types[i], i, y, x, c));
  dx_dataset_free(ds);
  remove_dir(dir);
}
END_TEST

START_TEST(png_folder_split_subfolders) {
  char dir[256], sub[512];
  fresh_dir(dir, sizeof dir);
  make_subdir(dir, "train");
  make_subdir(dir, "test");
  snprintf(sub, sizeof sub, "%s/train", dir);
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "%d.png", i);
    write_png(sub, name, i, 2, 2, 0);
  }
  snprintf(sub, sizeof sub, "%s/test", dir);
  write_png(sub, "only.png", 7, 2, 2, 0);
  dx_dataset *tr = open_ok(DX_DATA_FOLDER, dir, DX_SPLIT_TRAIN);
  dx_dataset *te = open_ok(DX_DATA_FOLDER, dir, DX_SPLIT_TEST);
  ck_assert_int_eq(dx_dataset_count(tr), 3);
  ck_assert_int_eq(dx_dataset_count(te), 1);
  ck_assert_int_eq(dx_dataset_image(te, 0)[3], png_px(7, 1, 1, 0));
  dx_dataset_free(tr);
  dx_dataset_free(te);
  remove_dir(dir);
}
END_TEST

START_TEST(png_folder_errors_are_named) {
  char dir[256], gone[512], p1[512], p2[512];
  fresh_dir(dir, sizeof dir);
  expect_open_error(DX_DATA_FOLDER, dir, DX_SPLIT_TRAIN, DX_ERR_IO,
                    "%s: no .png files in the folder; check data.path", dir);
  snprintf(gone, sizeof gone, "%s/none", dir);
  expect_open_error(DX_DATA_FOLDER, gone, DX_SPLIT_TRAIN, DX_ERR_IO,
                    "%s not found or not a folder; check data.path", gone);
  write_png(dir, "a.png", 0, 5, 3, 0);
  write_png(dir, "b.png", 1, 5, 3, 2);
  write_png(dir, "c.png", 2, 4, 3, 0);
  write_png(dir, "d.png", 3, 2, 2, 0);
  snprintf(p1, sizeof p1, "%s/c.png", dir);
  snprintf(p2, sizeof p2, "%s/a.png", dir);
  expect_open_error(DX_DATA_FOLDER, dir, DX_SPLIT_TRAIN, DX_ERR_PARSE,
                    "%s is 4x3 but the first image, %s, is 5x3; all images in the folder must be "
                    "the same size",
                    p1, p2);
  write_png(dir, "c.png", 2, 5, 3, 0);
  write_png(dir, "d.png", 3, 5, 3, 0);
  write_bytes(dir, "b.png", (const uint8_t *)"GIF89a, not a png", 17);
  snprintf(p1, sizeof p1, "%s/b.png", dir);
  expect_open_error(DX_DATA_FOLDER, dir, DX_SPLIT_TRAIN, DX_ERR_PARSE, "%s: not a PNG file", p1);
  remove_dir(dir);
}
END_TEST

/* A PNG whose pixel data is damaged: the header scan passes, the decode fails,
 * and the message names the file (libpng's own words follow in brackets). */
START_TEST(png_corrupt_data_is_named) {
  char dir[256], path[512], err[DX_ERRMSG_MAX], want[600];
  fresh_dir(dir, sizeof dir);
  uint8_t px[12] = {0};
  bytes b = png_of(4, 3, 0, px);
  b.p[b.n - 12 - 1] ^= 0xff; /* last byte of the IDAT CRC, just before IEND */
  write_free(dir, "a.png", b);
  snprintf(path, sizeof path, "%s/a.png", dir);
  dx_dataset *ds = NULL;
  ck_assert_int_eq(dx_dataset_open(DX_DATA_FOLDER, dir, DX_SPLIT_TRAIN, err, sizeof err, &ds),
                   DX_ERR_PARSE);
  ck_assert_ptr_null(ds);
  snprintf(want, sizeof want, "%s: corrupt PNG (", path);
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
  remove_dir(dir);
}
END_TEST

/* ---- transform: scaling, flip, padding ---- */

/* Image 1 of write_mnist(.., 3, 5) (3 high, 5 wide) as it must appear on a
 * 4 x 8 canvas: one column of padding left, two right, one row below. */
static void expect_padded(const float *out, bool mirror) {
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 8; x++) {
      bool inside = y < 3 && x >= 1 && x < 6;
      int sx = mirror ? 4 - (x - 1) : x - 1;
      float want = inside ? scaled(idx_px(1, y, sx)) : -1.0f;
      ck_assert_float_eq(out[y * 8 + x], want);
    }
}

START_TEST(pad_to_pow2_is_centred) {
  char dir[256], err[256];
  fresh_mnist(dir, sizeof dir, 2, 28, 28);
  dx_dataset *ds = open_ok(DX_DATA_MNIST, dir, DX_SPLIT_TRAIN);
  ck_assert_int_eq(dx_dataset_height(ds, true), 32);
  ck_assert_int_eq(dx_dataset_width(ds, true), 32);
  float out[32 * 32];
  int64_t one = 1;
  dx_data_transform tf = {.pad_pow2 = true};
  ck_assert_int_eq(dx_dataset_batch(ds, &one, 1, &tf, out, err, sizeof err), DX_OK);
  /* 28 -> 32: two rows and columns of -1 on every side. */
  for (int k = 0; k < 32; k++) {
    ck_assert_float_eq(out[0 * 32 + k], -1.0f);
    ck_assert_float_eq(out[31 * 32 + k], -1.0f);
    ck_assert_float_eq(out[k * 32 + 1], -1.0f);
    ck_assert_float_eq(out[k * 32 + 30], -1.0f);
  }
  ck_assert_float_eq(out[(2 + 2) * 32 + (3 + 2)], 1.0f); /* idx_px(1, 2, 3) = 255 */
  ck_assert_float_eq(out[2 * 32 + 2], scaled(97));       /* idx_px(1, 0, 0) */
  dx_dataset_free(ds);
  remove_dir(dir);
}
END_TEST

START_TEST(flip_and_pad_on_asymmetric_image) {
  char dir[256], err[256];
  fresh_mnist(dir, sizeof dir, 3, 3, 5);
  dx_dataset *ds = open_ok(DX_DATA_MNIST, dir, DX_SPLIT_TRAIN);
  enum { N = 64, SLOT = 4 * 8 };
  int64_t idx[N];
  for (int j = 0; j < N; j++)
    idx[j] = 1;
  float *a = malloc(N * SLOT * sizeof *a), *b = malloc(N * SLOT * sizeof *b);
  dx_data_transform tf = {.flip = true, .pad_pow2 = true, .seed = 5, .step = 9};
  ck_assert_int_eq(dx_dataset_batch(ds, idx, N, &tf, a, err, sizeof err), DX_OK);
  int flipped = 0;
  for (int j = 0; j < N; j++) {
    bool m = a[j * SLOT + 1] != scaled(idx_px(1, 0, 0)); /* first real pixel tells */
    expect_padded(a + j * SLOT, m);
    flipped += m;
  }
  ck_assert_int_gt(flipped, 0);
  ck_assert_int_lt(flipped, N);
  /* Same (seed, step): same flips. Another step or seed: another pattern. */
  ck_assert_int_eq(dx_dataset_batch(ds, idx, N, &tf, b, err, sizeof err), DX_OK);
  ck_assert_int_eq(memcmp(a, b, N * SLOT * sizeof *a), 0);
  tf.step = 10;
  ck_assert_int_eq(dx_dataset_batch(ds, idx, N, &tf, b, err, sizeof err), DX_OK);
  ck_assert_int_ne(memcmp(a, b, N * SLOT * sizeof *a), 0);
  tf = (dx_data_transform){.flip = true, .pad_pow2 = true, .seed = 6, .step = 9};
  ck_assert_int_eq(dx_dataset_batch(ds, idx, N, &tf, b, err, sizeof err), DX_OK);
  ck_assert_int_ne(memcmp(a, b, N * SLOT * sizeof *a), 0);
  tf.flip = false;
  ck_assert_int_eq(dx_dataset_batch(ds, idx, N, &tf, b, err, sizeof err), DX_OK);
  for (int j = 0; j < N; j++)
    expect_padded(b + j * SLOT, false);
  int64_t bad = 3;
  ck_assert_int_eq(dx_dataset_batch(ds, &bad, 1, &tf, b, err, sizeof err), DX_ERR_INVALID);
  ck_assert_str_eq(err, "batch index 3 is outside the dataset (0..2)");
  free(a);
  free(b);
  dx_dataset_free(ds);
  remove_dir(dir);
}
END_TEST

/* ---- batch order ---- */

static bool is_permutation(const int64_t *p, int64_t n) {
  bool *seen = calloc((size_t)n, 1);
  bool ok = true;
  for (int64_t i = 0; i < n && ok; i++) {
    ok = p[i] >= 0 && p[i] < n && !seen[p[i]];
    if (ok) seen[p[i]] = true;
  }
  free(seen);
  return ok;
}

START_TEST(epochs_are_distinct_permutations) {
  enum { N = 100 };
  int64_t p[5][N];
  for (int e = 0; e < 5; e++) {
    dx_epoch_permutation(N, 42, e, p[e]);
    ck_assert(is_permutation(p[e], N));
    for (int f = 0; f < e; f++)
      ck_assert_int_ne(memcmp(p[e], p[f], sizeof p[e]), 0);
  }
  int64_t q[N];
  dx_epoch_permutation(N, 43, 0, q);
  ck_assert_int_ne(memcmp(p[0], q, sizeof q), 0);
  dx_epoch_permutation(N, 42, 3, q);
  ck_assert_int_eq(memcmp(p[3], q, sizeof q), 0);
}
END_TEST

/* All 24 orders of 4 items, 24000 epochs: each within 20% of 1000. A biased
 * shuffle (say, j drawn from the whole range) fails this by far. */
START_TEST(epoch_permutations_are_uniform) {
  int counts[4 * 4 * 4 * 4] = {0};
  for (int e = 0; e < 24000; e++) {
    int64_t p[4];
    dx_epoch_permutation(4, 7, e, p);
    counts[((p[0] * 4 + p[1]) * 4 + p[2]) * 4 + p[3]]++;
  }
  int distinct = 0;
  for (int k = 0; k < 256; k++)
    if (counts[k]) {
      distinct++;
      ck_assert_int_gt(counts[k], 800);
      ck_assert_int_lt(counts[k], 1200);
    }
  ck_assert_int_eq(distinct, 24);
}
END_TEST

/* Count 10, batch 3: the stream of steps 0..9 is exactly epoch 0, 1, 2's
 * permutations back to back (batches 3, 6 straddle epochs). */
START_TEST(steps_walk_the_epochs) {
  char err[128];
  dx_batch_order *bo = NULL;
  ck_assert_int_eq(dx_batch_order_create(10, 99, err, sizeof err, &bo), DX_OK);
  int64_t stream[30], want[30];
  for (int s = 0; s < 10; s++)
    dx_batch_order_indices(bo, s, 3, stream + 3 * s);
  for (int e = 0; e < 3; e++)
    dx_epoch_permutation(10, 99, e, want + 10 * e);
  ck_assert_int_eq(memcmp(stream, want, sizeof want), 0);
  /* Step -1 is the tail of epoch -1: the stream extends backwards. */
  dx_batch_order_indices(bo, -1, 3, stream);
  dx_epoch_permutation(10, 99, -1, want);
  ck_assert_int_eq(memcmp(stream, want + 7, 3 * sizeof *want), 0);
  dx_batch_order_free(bo);
  ck_assert_int_eq(dx_batch_order_create(0, 1, err, sizeof err, &bo), DX_ERR_INVALID);
  ck_assert_ptr_null(bo);
  ck_assert_str_eq(err, "batch order over 0 images; need >= 1");
}
END_TEST

/* A run resumed at step k (a fresh order, nothing replayed) gets the batches
 * an uninterrupted run gets; so does one that jumps backwards. */
START_TEST(resume_gives_the_same_batches) {
  char err[128];
  dx_batch_order *full = NULL, *resumed = NULL;
  ck_assert_int_eq(dx_batch_order_create(37, 5, err, sizeof err, &full), DX_OK);
  int64_t a[8][8];
  for (int s = 0; s < 40; s++)
    dx_batch_order_indices(full, s, 8, a[s % 8]);
  for (int k = 32; k < 40; k += 3) {
    ck_assert_int_eq(dx_batch_order_create(37, 5, err, sizeof err, &resumed), DX_OK);
    int64_t b[8];
    dx_batch_order_indices(resumed, k, 8, b);
    ck_assert_int_eq(memcmp(a[k % 8], b, sizeof b), 0);
    dx_batch_order_indices(full, k, 8, b);
    ck_assert_int_eq(memcmp(a[k % 8], b, sizeof b), 0);
    dx_batch_order_free(resumed);
  }
  dx_batch_order_free(full);
}
END_TEST

int main(void) {
  Suite *s = suite_create("data");
  TCase *tc = tcase_create("data");
  tcase_set_timeout(tc, 120);
  DXT_ADD(tc, idx_gzip_and_plain_round_trip);
  DXT_ADD(tc, idx_prefers_gz_over_plain);
  DXT_ADD(tc, idx_corrupt_files_are_named);
  DXT_ADD(tc, idx_labels_checked_against_images);
  DXT_ADD(tc, idx_broken_gzip_is_named);
  DXT_ADD(tc, idx_missing_files_are_named);
  DXT_ADD(tc, fashion_mnist_default_missing_names_package);
  DXT_ADD(tc, real_fashion_mnist_when_installed);
  DXT_ADD(tc, cifar_records_in_file_order);
  DXT_ADD(tc, cifar_errors_are_named);
  DXT_ADD(tc, png_gray_folder_sorted_by_name);
  DXT_ADD(tc, png_rgb_folder_drops_alpha);
  DXT_ADD(tc, png_folder_split_subfolders);
  DXT_ADD(tc, png_folder_errors_are_named);
  DXT_ADD(tc, png_corrupt_data_is_named);
  DXT_ADD(tc, pad_to_pow2_is_centred);
  DXT_ADD(tc, flip_and_pad_on_asymmetric_image);
  DXT_ADD(tc, epochs_are_distinct_permutations);
  DXT_ADD(tc, epoch_permutations_are_uniform);
  DXT_ADD(tc, steps_walk_the_epochs);
  DXT_ADD(tc, resume_gives_the_same_batches);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
