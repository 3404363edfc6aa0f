/* safetensors: reading PyTorch's reference dumps and writing files that an
 * independent parser (Python's json + struct) reads back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dx_test.h"
#include "model/safetensors.h"
#include "util/json.h"

#define RESNET_WEIGHTS "data/unet/unet_resnet.weights.safetensors"

START_TEST(reads_the_reference_weights) {
  char err[512];
  dx_safetensors *st;
  ck_assert_msg(dx_safetensors_read(RESNET_WEIGHTS, &st, err, sizeof err) == DX_OK, "%s", err);
  /* 231 tensors holding 210,817 parameters (tests/data/unet/SOURCE.md). */
  ck_assert_int_eq(st->n, 231);
  int64_t total = 0;
  for (int64_t i = 0; i < st->n; i++) {
    int64_t c = 1;
    for (int d = 0; d < st->entries[i].ndim; d++)
      c *= st->entries[i].shape[d];
    total += c;
  }
  ck_assert_int_eq(total, 210817);
  ck_assert_str_eq(dx_safetensors_meta(st, "params"), "210817");
  const dx_st_entry *w = dx_safetensors_find(st, "init_conv.weight");
  ck_assert_ptr_nonnull(w);
  ck_assert_int_eq(w->ndim, 4);
  ck_assert_int_eq(w->shape[0], 8);
  ck_assert_int_eq(w->shape[1], 1);
  dx_safetensors_free(st);
}
END_TEST

START_TEST(rejects_broken_files) {
  char err[512];
  dx_safetensors *st;
  ck_assert_int_eq(dx_safetensors_read("data/unet/missing.safetensors", &st, err, sizeof err),
                   DX_ERR_IO);
  ck_assert_ptr_null(st);
  ck_assert_ptr_nonnull(strstr(err, "data/unet/missing.safetensors: cannot open"));
  char path[] = "/tmp/dx_st_bad_XXXXXX";
  int fd = mkstemp(path);
  const char junk[] = "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":}}   ";
  ck_assert_int_eq(write(fd, junk, sizeof junk - 1), (long)sizeof junk - 1);
  close(fd);
  ck_assert_int_eq(dx_safetensors_read(path, &st, err, sizeof err), DX_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "header is not a JSON object"));
  unlink(path);
}
END_TEST

START_TEST(written_file_is_read_by_an_independent_parser) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s1[4] = {2, 3, 1, 1}, s2[1] = {5};
  dx_tensor *a = dxt_param(ctx, DX_F32, 4, s1, -1, 1, 1),
            *b = dxt_param(ctx, DX_F32, 1, s2, -1, 1, 2);
  dx_st_item items[2] = {{"downs.0.0.block1.proj.weight", a}, {"final_conv.bias", b}};
  const char *meta[4] = {"experiment", "{\"name\": \"x\\\"y\"}", "step", "12"};
  char path[] = "/tmp/dx_st_XXXXXX", err[512];
  close(mkstemp(path));
  ck_assert_msg(dx_safetensors_write(ctx, path, items, 2, meta, 2, err, sizeof err) == DX_OK, "%s",
                err);
  /* Round trip through our reader. */
  dx_safetensors *st;
  ck_assert_msg(dx_safetensors_read(path, &st, err, sizeof err) == DX_OK, "%s", err);
  ck_assert_str_eq(dx_safetensors_meta(st, "experiment"), "{\"name\": \"x\\\"y\"}");
  dx_tensor *a2 = dx_tensor_new(ctx, DX_F32, 4, s1);
  ck_assert_int_eq(dx_safetensors_load(ctx, st, "downs.0.0.block1.proj.weight", a2), DX_OK);
  double *va = dxt_values(ctx, a), *va2 = dxt_values(ctx, a2);
  for (int i = 0; i < 6; i++)
    ck_assert_double_eq(va[i], va2[i]);
  dx_safetensors_free(st);
  /* Python reads the header as plain JSON and the data with struct. */
  char cmd[1024];
  snprintf(
      cmd, sizeof cmd,
      "python3 -c \"import json,struct,sys;b=open('%s','rb').read();n=struct.unpack('<Q',b[:8])[0];"
      "h=json.loads(b[8:8+n]);e=h['final_conv.bias'];o=8+n+e['data_offsets'][0];"
      "v=struct.unpack('<5f',b[o:o+20]);"
      "assert e['dtype']=='F32' and e['shape']==[5] and h['__metadata__']['step']=='12';"
      "print(' '.join('%%.9g'%%x for x in v))\"",
      path);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  double got[5] = {0}, *vb = dxt_values(ctx, b);
  int nread = 0;
  while (nread < 5 && fscanf(p, "%lf", &got[nread]) == 1)
    nread++;
  ck_assert_int_eq(pclose(p), 0);
  ck_assert_int_eq(nread, 5);
  for (int i = 0; i < 5; i++)
    ck_assert_double_eq_tol(got[i], vb[i], 1e-7);
  free(va), free(va2), free(vb);
  unlink(path);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(json_parser_handles_escapes_and_rejects_garbage) {
  char err[128];
  const char *txt = "{\"a\": [1, -2.5e3, true, null], \"b\": \"x\\u00e9\\n\\\"\"}";
  dx_json *j = dx_json_parse(txt, strlen(txt), err, sizeof err);
  ck_assert_ptr_nonnull(j);
  ck_assert_uint_eq(dx_json_count(dx_json_get(j, "a")), 4);
  ck_assert_double_eq(dx_json_get(j, "a")->child->next->num, -2500);
  ck_assert_str_eq(dx_json_get(j, "b")->str, "x\xc3\xa9\n\"");
  dx_json_free(j);
  const char *bad[] = {"{\"a\":1,}", "[1 2]", "{\"a\" 1}", "\"abc", "{} x", "tru"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(dx_json_parse(bad[i], strlen(bad[i]), err, sizeof err) == NULL, "accepted %s",
                  bad[i]);
}
END_TEST

int main(void) {
  Suite *s = suite_create("safetensors");
  TCase *tc = tcase_create("safetensors");
  DXT_ADD(tc, reads_the_reference_weights);
  DXT_ADD(tc, rejects_broken_files);
  DXT_ADD(tc, written_file_is_read_by_an_independent_parser);
  DXT_ADD(tc, json_parser_handles_escapes_and_rejects_garbage);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
