/* The shared Philox header (core/backend/philox.h), which the CPU and CUDA
 * backends both compile: its round function against Random123's published
 * known-answer vectors for philox4x32_10 (kat_vectors), and its uniform and
 * normal draws against values the CPU backend produced before the generator
 * moved into the shared header (recorded with %a from the old random.c), so
 * moving it changed no number. Then the CPU backend's rand slot, through the
 * public API, against the header. */
#include <stdlib.h>

#include "backend/philox.h"
#include "dx_test.h"

START_TEST(round_function_matches_random123_known_answers) {
  static const uint32_t in[3][6] = {
      {0, 0, 0, 0, 0, 0},
      {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
      {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u}};
  static const uint32_t out[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                                     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                                     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
  for (int v = 0; v < 3; v++) {
    uint32_t c[4] = {in[v][0], in[v][1], in[v][2], in[v][3]};
    dx_philox4x32_10(c, in[v][4], in[v][5]);
    for (int i = 0; i < 4; i++)
      ck_assert_uint_eq(c[i], out[v][i]);
  }
}
END_TEST

/* (seed, index, uniform, normal) as the CPU backend computed them before. */
static const struct {
  uint64_t seed, index;
  double u, z;
} before[] = {
    {0x0ULL, 0x0ULL, 0x1.989fa35785a7p-2, -0x1.7293e0b2c8f57p-4},
    {0x0ULL, 0x1ULL, 0x1.f1c99948b964p-1, -0x1.d900b611cc6d7p-1},
    {0x0ULL, 0xf4243ULL, 0x1.2b2587f0210fap-1, -0x1.515f432d0f8eap+0},
    {0x0ULL, 0x10000000007ULL, 0x1.6a79464bd7cb8p-1, -0x1.87661ae23b6a7p-1},
    {0x2aULL, 0x0ULL, 0x1.39d5e0a6efea9p-1, 0x1.3c0aeec8cec66p+0},
    {0x2aULL, 0x1ULL, 0x1.f9b6424ea774dp-1, -0x1.7a3f3026c1af2p+1},
    {0x2aULL, 0xf4243ULL, 0x1.0d074f61a0c35p-1, -0x1.19d66af3ae088p+0},
    {0x2aULL, 0x10000000007ULL, 0x1.492f78c72098p-3, 0x1.10033beac582ep-1},
    {0x123456789abcdefULL, 0x0ULL, 0x1.70a0445d8b196p-1, 0x1.6516219bc2a11p+0},
    {0x123456789abcdefULL, 0x1ULL, 0x1.5b9428cca47c1p-1, -0x1.31a3c4d21324ap+0},
    {0x123456789abcdefULL, 0xf4243ULL, 0x1.9f9bf5f094d3ep-1, -0x1.10dd36d63c98cp+0},
    {0x123456789abcdefULL, 0x10000000007ULL, 0x1.32dbac17fe0cap-1, 0x1.c8d4c7402671dp-1},
};

START_TEST(draws_match_the_cpu_backend_before_the_move) {
  for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
    ck_assert_double_eq(dx_philox_uniform(before[i].seed, before[i].index), before[i].u);
    ck_assert_double_eq(dx_philox_normal(before[i].seed, before[i].index), before[i].z);
  }
}
END_TEST

START_TEST(cpu_rand_slot_draws_from_the_header) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t shape[1] = {50000}; /* past the parallel threshold */
  dx_tensor *t = dx_tensor_new_persistent(ctx, DX_F64, 1, shape);
  ck_assert_int_eq(dx_tensor_randn(ctx, t, 42, 17), DX_OK);
  double *v = dxt_values(ctx, t);
  for (int64_t i = 0; i < shape[0]; i += 997)
    ck_assert_double_eq(v[i], dx_philox_normal(42, 17 + (uint64_t)i));
  ck_assert_int_eq(dx_tensor_rand(ctx, t, 7, 0), DX_OK);
  free(v);
  v = dxt_values(ctx, t);
  for (int64_t i = 0; i < shape[0]; i += 997)
    ck_assert_double_eq(v[i], dx_philox_uniform(7, (uint64_t)i));
  free(v);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("philox");
  TCase *tc = tcase_create("philox");
  DXT_ADD(tc, round_function_matches_random123_known_answers);
  DXT_ADD(tc, draws_match_the_cpu_backend_before_the_move);
  DXT_ADD(tc, cpu_rand_slot_draws_from_the_header);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
