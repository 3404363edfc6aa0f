/* core/util: the error formatter and source positions, whole-file reading
 * (plain and gzip, the gzip side written by zlib itself), the JSON escaper
 * read back by the JSON reader, and the suggestion's edit distance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dx_test.h"
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

int main(void) {
  Suite *s = suite_create("util");
  TCase *tc = tcase_create("util");
  DXT_ADD(tc, error_line_names_the_place_first);
  DXT_ADD(tc, file_read_plain_and_gzip);
  DXT_ADD(tc, json_string_round_trip);
  DXT_ADD(tc, suggest_counts_edits);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
