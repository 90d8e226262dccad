/* harness.h — the one op-test harness every op goes through:
 *   gradcheck: central finite differences against the tape's gradients, per-op tolerance;
 *   helpers for known-value checks and for error paths (status + message, no crash).
 * An op under test is a builder: given a context and the inputs, it records the op and
 * returns its output (any shape). The scalar checked is L = sum(out * w) for fixed random w. */
#ifndef SPRINT_TEST_HARNESS_H
#define SPRINT_TEST_HARNESS_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sprint.h"

typedef int (*op_builder)(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg);

typedef struct {
  float eps;      /* finite-difference step (default 1e-2) */
  float atol;     /* |analytic - numeric| <= atol + rtol * |numeric| (defaults 1e-3, 2e-2) */
  float rtol;
  int max_checks; /* elements probed per input (default 48, spread over the tensor) */
  const int *skip; /* inputs (by index) not to check, terminated by -1, or NULL */
} gradcheck_opts;

/* Builds, backpropagates and compares every float input that requires grad.
 * Returns the number of mismatches (0 = pass) and reports each through cr_log_error. */
int gradcheck(const char *name, op_builder build, sp_tensor **in, int n_in, const void *arg,
              gradcheck_opts opts);

/* Backend check (the ggml way): runs the builder on a CPU context and on a GPU context from
 * the same inputs (copied to the GPU; int32 ones too) and the same seed, backpropagates
 * L = sum(out * w) on both, and compares the output and every input gradient by normalised
 * error, sum (gpu - cpu)^2 / sum cpu^2 <= max_nmse (default 1e-7; an all-zero reference needs
 * an all-zero result). Returns the number of mismatches. Callers skip it without a GPU
 * (SKIP_WITHOUT_GPU). */
typedef struct {
  double max_nmse;
  int no_backward; /* the op records no tape node (topk) */
} devicecheck_opts;
int devicecheck(const char *name, op_builder build, sp_tensor **in, int n_in, const void *arg,
                devicecheck_opts opts);
/* sum (a - b)^2 / sum b^2 over two CPU float tensors of one size (0 when both are all zero). */
double t_nmse(sp_tensor *a, sp_tensor *b);
/* 1 when a GPU can be used; else 0 with the reason in sp_last_error(). */
int gpu_available(void);
#define SKIP_WITHOUT_GPU()                                                                         \
  do {                                                                                             \
    if (!gpu_available()) cr_skip_test("no GPU: %s", sp_last_error());                             \
  } while (0)

/* Tensors for tests: heap-owned, float32 filled from a seeded normal, or from values. */
sp_tensor *t_randn(uint64_t seed, int ndim, const int *shape, float std);
sp_tensor *t_from(int ndim, const int *shape, const float *values);
sp_tensor *t_from_i32(int ndim, const int *shape, const int32_t *values);
/* Marks tensors as leaves that require grad. */
void t_require_grad(sp_tensor **ts, int n);
void t_free_all(sp_tensor **ts, int n);

/* Asserts every element of t equals expect within tol (abs). */
void expect_values(const char *what, sp_tensor *t, const float *expect, int64_t n, float tol);

/* Asserts rc is the expected failure and the message names the op. */
#define expect_error(rc, status, needle)                                                           \
  do {                                                                                             \
    int expect_rc_ = (rc);                                                                         \
    cr_expect_eq(expect_rc_, (status), "expected status %d, got %d (%s)", (int)(status),           \
                 expect_rc_, sp_last_error());                                                     \
    cr_expect(strstr(sp_last_error(), (needle)) != NULL, "error '%s' does not mention '%s'",       \
              sp_last_error(), (needle));                                                          \
  } while (0)

#define SHAPE(...) ((const int[]){__VA_ARGS__})

#endif
