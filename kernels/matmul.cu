/* matmul.cu — GEMMs through cuBLAS for matmul and linear (forward and backward), mirroring
 * engine/cpu/matmul.c and linear.c call for call. Row-major C = op(A) op(B) is cuBLAS's
 * column-major C^T = op(B)^T op(A)^T, so the operands swap and the transposes stay. Batched
 * products are one strided-batched call. */
#include "common.cuh"

static cublasOperation_t op_of(int t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

__global__ void scale_rows_kernel(float *c, int m, int n, int ldc, float beta) {
  SP_GRID_STRIDE(i, (int64_t)m * n) {
    int64_t r = i / n, j = i % n;
    c[r * ldc + j] = beta == 0.0f ? 0.0f : c[r * ldc + j] * beta;
  }
}

/* k == 0: C = beta C (cuBLAS would refuse the zero leading dimensions). */
static int empty_product(int m, int n, float beta, float *c, int ldc, int64_t stride_c, int batch) {
  if (beta == 1.0f) return SP_OK;
  for (int i = 0; i < batch; i++)
    scale_rows_kernel<<<sp_grid((int64_t)m * n), SP_THREADS, 0, sp_cuda_stream()>>>(
        c + i * stride_c, m, n, ldc, beta);
  CUDA_CHECK_LAUNCH("scale_rows_kernel");
  return SP_OK;
}

extern "C" int sp_cuda_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                             const float *a, int lda, const float *b, int ldb, float beta, float *c,
                             int ldc) {
  if (m <= 0 || n <= 0) return SP_OK;
  if (k <= 0) return empty_product(m, n, beta, c, ldc, 0, 1);
  CUBLAS_CHECK(cublasSgemm(sp_cuda_blas(), op_of(trans_b), op_of(trans_a), n, m, k, &alpha, b, ldb,
                           a, lda, &beta, c, ldc));
  return SP_OK;
}

extern "C" int sp_cuda_sgemm_strided(int trans_a, int trans_b, int m, int n, int k, float alpha,
                                     const float *a, int lda, int64_t stride_a, const float *b,
                                     int ldb, int64_t stride_b, float beta, float *c, int ldc,
                                     int64_t stride_c, int batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return SP_OK;
  if (k <= 0) return empty_product(m, n, beta, c, ldc, stride_c, batch);
  CUBLAS_CHECK(cublasSgemmStridedBatched(sp_cuda_blas(), op_of(trans_b), op_of(trans_a), n, m, k,
                                         &alpha, b, ldb, stride_b, a, lda, stride_a, &beta, c, ldc,
                                         stride_c, batch));
  return SP_OK;
}

extern "C" int sp_cuda_matmul_forward(float *out, const float *a, const float *b, int batch, int m,
                                      int n, int k, int ta, int tb, int b_batched) {
  int lda = ta ? m : k, ldb = tb ? k : n;
  if (!b_batched && !ta) /* all rows of the batch against one b: a single GEMM */
    return sp_cuda_sgemm(0, tb, batch * m, n, k, 1.0f, a, lda, b, ldb, 0.0f, out, n);
  return sp_cuda_sgemm_strided(ta, tb, m, n, k, 1.0f, a, lda, (int64_t)m * k, b, ldb,
                               b_batched ? (int64_t)k * n : 0, 0.0f, out, n, (int64_t)m * n, batch);
}

extern "C" int sp_cuda_matmul_backward(float *da, float *db, const float *dout, const float *a,
                                       const float *b, int batch, int m, int n, int k, int ta,
                                       int tb, int b_batched) {
  int lda = ta ? m : k, ldb = tb ? k : n;
  int64_t sa = (int64_t)m * k, sb = b_batched ? (int64_t)k * n : 0, so = (int64_t)m * n;
  if (da) {
    if (!ta && !b_batched)
      SP_TRY(sp_cuda_sgemm(0, !tb, batch * m, k, n, 1.0f, dout, n, b, ldb, 1.0f, da, k));
    else if (!ta) /* da (m, k) = dout (m, n) B^T */
      SP_TRY(sp_cuda_sgemm_strided(0, !tb, m, k, n, 1.0f, dout, n, so, b, ldb, sb, 1.0f, da, k, sa,
                                   batch));
    else /* da (k, m) = B dout^T */
      SP_TRY(sp_cuda_sgemm_strided(tb, 1, k, m, n, 1.0f, b, ldb, sb, dout, n, so, 1.0f, da, m, sa,
                                   batch));
  }
  if (db) {
    if (!b_batched && !ta) { /* shared b: the whole batch in one GEMM */
      if (!tb)
        SP_TRY(sp_cuda_sgemm(1, 0, k, n, batch * m, 1.0f, a, lda, dout, n, 1.0f, db, n));
      else
        SP_TRY(sp_cuda_sgemm(1, 0, n, k, batch * m, 1.0f, dout, n, a, lda, 1.0f, db, k));
    } else if (b_batched) {
      if (!tb) /* db (k, n) = A^T dout */
        SP_TRY(sp_cuda_sgemm_strided(!ta, 0, k, n, m, 1.0f, a, lda, sa, dout, n, so, 1.0f, db, n,
                                     sb, batch));
      else /* db (n, k) = dout^T A */
        SP_TRY(sp_cuda_sgemm_strided(1, ta, n, k, m, 1.0f, dout, n, so, a, lda, sa, 1.0f, db, k,
                                     sb, batch));
    } else { /* shared b with a transposed a: every batch adds into the same db, in order */
      for (int i = 0; i < batch; i++) {
        const float *ai = a + i * sa, *gi = dout + i * so;
        if (!tb)
          SP_TRY(sp_cuda_sgemm(!ta, 0, k, n, m, 1.0f, ai, lda, gi, n, 1.0f, db, n));
        else
          SP_TRY(sp_cuda_sgemm(1, ta, n, k, m, 1.0f, gi, n, ai, lda, 1.0f, db, k));
      }
    }
  }
  return SP_OK;
}

__global__ void broadcast_rows_kernel(float *out, const float *bias, int64_t rows, int n) {
  SP_GRID_STRIDE(i, rows * n) out[i] = bias[i % n];
}

/* out (n) += sign * column sums of g (rows, n): 32 columns x 8 row lanes per block, each lane
 * walking its rows in order, then the 8 partials in order. */
__global__ void column_sums_kernel(float *out, const float *g, int64_t rows, int64_t n, float sign) {
  __shared__ float part[8][33];
  int64_t j = (int64_t)blockIdx.x * 32 + threadIdx.x;
  float s = 0.0f;
  if (j < n)
    for (int64_t r = threadIdx.y; r < rows; r += 8) s += g[r * n + j];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < n) {
    float t = 0.0f;
    for (int y = 0; y < 8; y++) t += part[y][threadIdx.x];
    out[j] += sign * t;
  }
}

extern "C" void sp_cuda_column_sums(float *out, const float *g, int64_t rows, int64_t n, float sign) {
  if (n <= 0) return;
  column_sums_kernel<<<(unsigned)((n + 31) / 32), dim3(32, 8), 0, sp_cuda_stream()>>>(out, g, rows,
                                                                                     n, sign);
  SP_CUDA_LAUNCHED("column_sums_kernel");
}

extern "C" int sp_cuda_linear_forward(float *out, const float *x, const float *w, const float *bias,
                                      int rows, int d_in, int d_out) {
  if (bias && rows > 0 && d_out > 0) {
    broadcast_rows_kernel<<<sp_grid((int64_t)rows * d_out), SP_THREADS, 0, sp_cuda_stream()>>>(
        out, bias, rows, d_out);
    CUDA_CHECK_LAUNCH("broadcast_rows_kernel");
  }
  return sp_cuda_sgemm(0, 1, rows, d_out, d_in, 1.0f, x, d_in, w, d_in, bias ? 1.0f : 0.0f, out,
                       d_out);
}

extern "C" int sp_cuda_linear_backward(float *dx, float *dw, float *dbias, const float *dout,
                                       const float *x, const float *w, int rows, int d_in,
                                       int d_out) {
  if (dx) SP_TRY(sp_cuda_sgemm(0, 0, rows, d_in, d_out, 1.0f, dout, d_out, w, d_in, 1.0f, dx, d_in));
  if (dw) SP_TRY(sp_cuda_sgemm(1, 0, d_out, d_in, rows, 1.0f, dout, d_out, x, d_in, 1.0f, dw, d_in));
  if (dbias) {
    sp_cuda_column_sums(dbias, dout, rows, d_out, 1.0f);
    CUDA_CHECK_LAUNCH("column_sums_kernel");
  }
  return SP_OK;
}
