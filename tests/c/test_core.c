/* test_core.c — the tensor core, the rng, the arena and the tape: known answers, steady-state
 * allocation, no-grad mode, use-after-reset and bad-argument errors. */
#include "harness.h"
#include "internal.h" /* sp_check_numel */

Test(rng, philox_known_answers) {
  /* Random123's kat_vectors for philox4x32_10: counter 0, key 0 -> 6627e8d5 ... */
  sp_rng r;
  sp_rng_init(&r, 0);
  cr_expect_eq(sp_rng_u32(&r), 0x6627e8d5u);
  float u[8], v[8];
  sp_rng_init(&r, 42);
  sp_rng_uniform(&r, u, 8);
  cr_expect_eq(r.counter, 1u, "one draw advances the counter once");
  sp_rng_init(&r, 42);
  sp_rng_uniform(&r, v, 5); /* a shorter draw is a prefix of the same stream */
  for (int i = 0; i < 5; i++) cr_expect_eq(u[i], v[i]);
  for (int i = 0; i < 8; i++) cr_expect(u[i] >= 0.0f && u[i] < 1.0f);
}

Test(rng, normal_moments_and_below) {
  sp_rng r;
  sp_rng_init(&r, 3);
  int n = 200001;
  float *x = malloc(sizeof(float) * n);
  sp_rng_normal(&r, x, n, 1.0f, 2.0f);
  double m = 0, v = 0;
  for (int i = 0; i < n; i++) m += x[i];
  m /= n;
  for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  v /= n;
  cr_expect(fabs(m - 1.0) < 0.02 && fabs(v - 4.0) < 0.08, "mean %g var %g", m, v);
  free(x);
  int counts[3] = {0};
  for (int i = 0; i < 30000; i++) counts[sp_rng_below(&r, 3)]++;
  for (int k = 0; k < 3; k++) cr_expect(abs(counts[k] - 10000) < 400, "bucket %d: %d", k, counts[k]);
}

Test(rng, independent_of_thread_count) {
  int n = 1 << 18;
  float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
  sp_rng r;
  sp_set_num_threads(1);
  sp_rng_init(&r, 9);
  sp_rng_uniform(&r, a, n);
  sp_set_num_threads(2);
  sp_rng_init(&r, 9);
  sp_rng_uniform(&r, b, n);
  cr_expect(memcmp(a, b, sizeof(float) * n) == 0);
  sp_set_num_threads(0);
  free(a);
  free(b);
}

Test(tensor, create_access_and_errors) {
  sp_tensor *t;
  cr_assert_eq(sp_tensor_new(&t, SP_F32, 3, SHAPE(2, 3, 4)), SP_OK);
  cr_expect_eq(sp_tensor_numel(t), 24);
  cr_expect_eq(sp_tensor_dim(t, -1), 4);
  cr_expect_eq(sp_tensor_f32(t)[23], 0.0f, "new tensors are zeroed");
  cr_expect_null(sp_tensor_i32(t));
  sp_tensor_free(t);
  expect_error(sp_tensor_new(&t, SP_F32, 5, SHAPE(1, 1, 1, 1, 1)), SP_ESHAPE, "ndim must be 1..4");
  expect_error(sp_tensor_new(&t, SP_F32, 2, SHAPE(2, -1)), SP_ESHAPE, "negative");
  expect_error(sp_tensor_new(NULL, SP_F32, 1, SHAPE(2)), SP_EINVAL, "NULL");
  expect_error(sp_tensor_new(&t, (sp_dtype)7, 1, SHAPE(2)), SP_EDTYPE, "dtype");
  sp_tensor *i;
  cr_assert_eq(sp_tensor_new(&i, SP_I32, 1, SHAPE(3)), SP_OK);
  expect_error(sp_tensor_set_requires_grad(i, 1), SP_EDTYPE, "float32");
  sp_tensor_free(i);
  cr_expect(strstr(sp_last_error(), "sp_tensor_set_requires_grad") != NULL);
  sp_clear_error();
  cr_expect_str_empty(sp_last_error());
}

/* Sizes are bounded before any allocation: a huge request is an SP_ESHAPE error naming the
 * shape, never a malloc of 100 GB (which ASan's allocator answers by aborting). */
Test(tensor, huge_shapes_are_refused_before_allocating) {
  sp_tensor *t = NULL;
  expect_error(sp_tensor_new(&t, SP_F32, 2, SHAPE(256, 100000000)), SP_ESHAPE,
               "sp_tensor_new: shape (256, 100000000) = 25600000000 elements is too large");
  cr_expect_null(t);
  expect_error(sp_tensor_new(&t, SP_I32, 4, SHAPE(65536, 65536, 65536, 65536)), SP_ESHAPE,
               "= more than 2^63 elements is too large");
  expect_error(sp_tensor_new(&t, SP_F32, 2, SHAPE(65536, 32768)), SP_ESHAPE,
               "at most 2147483647 elements");
  cr_assert_eq(sp_tensor_new(&t, SP_F32, 3, SHAPE(0, 1 << 30, 1 << 30)), SP_OK, "%s",
               sp_last_error());
  cr_expect_eq(sp_tensor_numel(t), 0, "a zero dimension makes an empty tensor, whatever the rest");
  sp_tensor_free(t);
  sp_ctx *ctx;
  cr_assert_eq(sp_ctx_new(&ctx, 1), SP_OK);
  expect_error(sp_ctx_tensor(ctx, &t, SP_F32, 2, SHAPE(256, 100000000)), SP_ESHAPE,
               "arena tensor: shape (256, 100000000)");
  sp_ctx_free(ctx);
  /* the memory bound, with elements larger than any machine's memory allows */
  cr_expect_eq(sp_check_numel("test", "x", 1000, (int64_t)1 << 40), SP_ESHAPE);
  cr_expect(strstr(sp_last_error(), "test: x = 1000 elements is too large") != NULL, "%s",
            sp_last_error());
  cr_expect(strstr(sp_last_error(), "GiB of memory") != NULL, "%s", sp_last_error());
  cr_expect_eq(sp_check_numel("test", "x", 1000, 4), SP_OK);
}

static double tiny_step(sp_ctx *ctx, sp_tensor *w, sp_tensor *x) {
  sp_tensor *h, *a, *l;
  cr_assert_eq(sp_matmul(ctx, &h, x, w, 0, 0), SP_OK);
  cr_assert_eq(sp_tanh(ctx, &a, h), SP_OK);
  cr_assert_eq(sp_mean(ctx, &l, a), SP_OK);
  cr_assert_eq(sp_backward(ctx, l), SP_OK, "%s", sp_last_error());
  return sp_tensor_f32(l)[0];
}

Test(ctx, steady_state_steps_do_not_allocate) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *w = t_randn(1, 2, SHAPE(64, 64), 0.1f), *x = t_randn(2, 2, SHAPE(4096, 64), 1.0f);
  sp_tensor_set_requires_grad(w, 1);
  for (int step = 0; step < 3; step++) { /* warm-up: the arena grows to fit a step */
    tiny_step(ctx, w, x);
    sp_ctx_reset(ctx);
  }
  sp_ctx_stats before, after;
  sp_ctx_get_stats(ctx, &before);
  for (int step = 0; step < 5; step++) {
    tiny_step(ctx, w, x);
    sp_ctx_reset(ctx);
  }
  sp_ctx_get_stats(ctx, &after);
  cr_expect_eq(after.arena_mallocs, before.arena_mallocs, "steps allocated %lld chunks",
               (long long)(after.arena_mallocs - before.arena_mallocs));
  cr_expect_eq(after.generation, before.generation + 5);
  cr_expect(after.arena_capacity > 4096 * 64 * 4, "arena holds a step");
  t_free_all((sp_tensor *[]){w, x}, 2);
  sp_ctx_free(ctx);
}

Test(ctx, gradients_accumulate_and_no_grad_records_nothing) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *w = t_from(1, SHAPE(2), (float[]){1, 2}), *o, *s;
  sp_tensor_set_requires_grad(w, 1);
  cr_assert_eq(sp_scale(ctx, &o, w, 3.0f), SP_OK);
  cr_assert_eq(sp_sum(ctx, &s, o), SP_OK);
  cr_assert_eq(sp_backward(ctx, s), SP_OK);
  sp_ctx_reset(ctx);
  cr_assert_eq(sp_scale(ctx, &o, w, 3.0f), SP_OK);
  cr_assert_eq(sp_sum(ctx, &s, o), SP_OK);
  cr_assert_eq(sp_backward(ctx, s), SP_OK);
  expect_values("accumulated", sp_tensor_grad(w), (float[]){6, 6}, 2, 0);
  sp_tensor_zero_grad(w);
  expect_values("zeroed", sp_tensor_grad(w), (float[]){0, 0}, 2, 0);

  sp_ctx_reset(ctx);
  sp_ctx_set_grad_enabled(ctx, 0);
  cr_assert_eq(sp_scale(ctx, &o, w, 3.0f), SP_OK);
  cr_assert_eq(sp_sum(ctx, &s, o), SP_OK);
  sp_ctx_stats st;
  sp_ctx_get_stats(ctx, &st);
  cr_expect_eq(st.tape_len, 0, "no-grad mode recorded %lld nodes", (long long)st.tape_len);
  expect_error(sp_backward(ctx, s), SP_ESTATE, "no-grad");
  sp_ctx_set_grad_enabled(ctx, 1);
  sp_tensor_free(w);
  sp_ctx_free(ctx);
}

Test(ctx, use_after_reset_and_bad_loss_are_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *w = t_from(1, SHAPE(2), (float[]){1, 2}), *o, *o2;
  sp_tensor_set_requires_grad(w, 1);
  cr_assert_eq(sp_scale(ctx, &o, w, 2.0f), SP_OK);
  expect_error(sp_backward(ctx, o), SP_ESHAPE, "scalar");
  sp_ctx_reset(ctx);
  expect_error(sp_relu(ctx, &o2, o), SP_ESTATE, "after sp_ctx_reset");
  expect_error(sp_backward(NULL, o), SP_EINVAL, "NULL");
  sp_tensor *scratch;
  cr_assert_eq(sp_ctx_tensor(ctx, &scratch, SP_F32, 2, SHAPE(3, 3)), SP_OK);
  cr_expect(sp_tensor_is_arena(scratch));
  expect_error(sp_tensor_set_requires_grad(scratch, 1), SP_EINVAL, "arena");
  sp_tensor_free(w);
  sp_ctx_free(ctx);
}

Test(blas, loads_and_reports_its_kernel) {
  cr_assert_eq(sp_blas_init(), SP_OK, "%s", sp_last_error());
  const char *info = sp_blas_info();
  cr_expect(strstr(info, "core=") != NULL, "info: %s", info);
}

Test(blas, gemm_matches_reference_loop) {
  /* The fast kernel is forced by cpuid; check it against plain loops on an odd shape. */
  int m = 37, n = 29, k = 65;
  sp_tensor *a = t_randn(1, 2, SHAPE(m, k), 1), *b = t_randn(2, 2, SHAPE(k, n), 1), *o;
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_matmul(ctx, &o, a, b, 0, 0), SP_OK);
  const float *A = sp_tensor_f32(a), *B = sp_tensor_f32(b), *O = sp_tensor_f32(o);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0;
      for (int p = 0; p < k; p++) acc += (double)A[i * k + p] * B[p * n + j];
      cr_expect(fabs(acc - O[i * n + j]) < 1e-4 * (1 + fabs(acc)), "(%d,%d) %g vs %g", i, j, acc, O[i * n + j]);
    }
  t_free_all((sp_tensor *[]){a, b}, 2);
  sp_ctx_free(ctx);
}

Test(blas, row_split_gemm_is_bitwise_independent_of_threads) {
  /* Tall-thin products are split over threads by rows; the numbers must not change. */
  int m = 2048 + 37, k = 64, n = 64;
  sp_tensor *a = t_randn(3, 2, SHAPE(m, k), 1), *b = t_randn(4, 2, SHAPE(n, k), 1), *o1, *o2;
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_set_num_threads(1);
  cr_assert_eq(sp_matmul(ctx, &o1, a, b, 0, 1), SP_OK);
  sp_set_num_threads(2);
  cr_assert_eq(sp_matmul(ctx, &o2, a, b, 0, 1), SP_OK);
  cr_expect(memcmp(sp_tensor_data(o1), sp_tensor_data(o2), sizeof(float) * (size_t)m * n) == 0,
            "1 and 2 threads differ");
  sp_tensor *at = t_randn(5, 2, SHAPE(k, m), 1); /* transposed a takes the split too */
  sp_set_num_threads(1);
  cr_assert_eq(sp_matmul(ctx, &o1, at, b, 1, 1), SP_OK);
  sp_set_num_threads(2);
  cr_assert_eq(sp_matmul(ctx, &o2, at, b, 1, 1), SP_OK);
  cr_expect(memcmp(sp_tensor_data(o1), sp_tensor_data(o2), sizeof(float) * (size_t)m * n) == 0,
            "1 and 2 threads differ (a transposed)");
  sp_set_num_threads(0);
  t_free_all((sp_tensor *[]){a, b, at}, 3);
  sp_ctx_free(ctx);
}
