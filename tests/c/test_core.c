/* test_core.c — the tensor core, the rng, the arena and the tape: known answers, steady-state
 * allocation, no-grad mode, use-after-reset and bad-argument errors. */
#include "harness.h"
#include "internal.h" /* sp_check_numel, sp_sgemm */

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

/* Every GEMM shape the models make (and some odd ones): the same bits on 1, 2 and 3 threads,
 * in every transpose and with beta 0 (forward) and 1 (gradient accumulation). The reductions
 * are not multiples of any blocking size (11,750 = 250 rows x 47 positions, 12,345, 1,897,
 * 100,003), where OpenBLAS's threaded driver sums in a different order from its serial one;
 * padded leading dimensions check the tiles' offsets against a reference loop. */
Test(blas, every_gemm_is_bitwise_independent_of_threads) {
  static const int shapes[][3] = {
      {2085, 64, 64},  {64, 64, 11750}, {200, 40, 12345}, {40, 1000, 37},
      {256, 1897, 64}, {256, 64, 1897}, {7, 5, 100003},   {161, 161, 161},
  };
  const int saved = sp_get_num_threads();
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (int beta = 0; beta < 2; beta++) {
          const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
          const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
          float *a = malloc(sizeof(float) * (size_t)lda * (ta ? k : m));
          float *b = malloc(sizeof(float) * (size_t)ldb * (tb ? n : k));
          float *c0 = malloc(sizeof(float) * (size_t)ldc * m), *c[3];
          sp_rng rng;
          sp_rng_init(&rng, 7 + s);
          sp_rng_uniform(&rng, a, (int64_t)lda * (ta ? k : m));
          sp_rng_uniform(&rng, b, (int64_t)ldb * (tb ? n : k));
          sp_rng_uniform(&rng, c0, (int64_t)ldc * m);
          for (int t = 0; t < 3; t++) {
            c[t] = malloc(sizeof(float) * (size_t)ldc * m);
            memcpy(c[t], c0, sizeof(float) * (size_t)ldc * m);
            sp_set_num_threads(t + 1);
            cr_assert_eq(sp_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, (float)beta, c[t], ldc), SP_OK);
          }
          for (int t = 1; t < 3; t++)
            cr_expect(memcmp(c[0], c[t], sizeof(float) * (size_t)ldc * m) == 0,
                      "%dx%dx%d ta %d tb %d beta %d: 1 and %d threads differ", m, n, k, ta, tb, beta, t + 1);
          /* a few elements (and the padding) against a double-precision loop */
          for (int probe = 0; probe < 16; probe++) {
            const int i = (probe * 7919) % m, j = (probe * 104729) % n;
            double acc = beta ? c0[(int64_t)i * ldc + j] : 0.0, mag = fabs(acc);
            for (int p = 0; p < k; p++) {
              double x = ta ? a[(int64_t)p * lda + i] : a[(int64_t)i * lda + p];
              double y = tb ? b[(int64_t)j * ldb + p] : b[(int64_t)p * ldb + j];
              acc += x * y, mag += fabs(x * y);
            }
            cr_expect(fabs(acc - c[0][(int64_t)i * ldc + j]) <= 1e-5 * (1 + mag), "%dx%dx%d (%d,%d): %g vs %g",
                      m, n, k, i, j, acc, (double)c[0][(int64_t)i * ldc + j]);
            cr_expect(c[0][(int64_t)i * ldc + n + 1] == c0[(int64_t)i * ldc + n + 1], "padding column written");
          }
          free(a), free(b), free(c0), free(c[0]), free(c[1]), free(c[2]);
        }
  sp_set_num_threads(saved);
}
