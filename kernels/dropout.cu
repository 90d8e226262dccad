/* dropout.cu — inverted dropout with the CPU's counter hash (engine/cpu/dropout.c), bit for
 * bit: element i is kept iff 16 bits of mix64(key + (i / 4) * golden) at slot i % 4 are at
 * least round(p 65536). Backward regenerates the same decisions; no mask is stored. */
#include "common.cuh"

__device__ inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t mix64_host(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__global__ void dropout_kernel(float *dst, const float *src, int64_t n, uint64_t key,
                               uint32_t threshold, float scale, int accumulate) {
  SP_GRID_STRIDE(i, n) {
    uint64_t bits = mix64(key + (uint64_t)(i / 4) * 0x9e3779b97f4a7c15ull);
    float f = (((uint32_t)(bits >> (16 * (i % 4))) & 0xffffu) >= threshold) * scale;
    float v = src[i] * f;
    dst[i] = accumulate ? dst[i] + v : v;
  }
}

static void apply_mask(float *dst, const float *src, int64_t n, float p, uint64_t seed,
                       uint64_t counter, int accumulate) {
  if (n <= 0) return;
  const float scale = 1.0f / (1.0f - p);
  const uint32_t threshold = (uint32_t)lrintf(p * 65536.0f);
  const uint64_t key = mix64_host(seed ^ mix64_host(counter + 0x9e3779b97f4a7c15ull));
  dropout_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(dst, src, n, key, threshold,
                                                                 scale, accumulate);
  SP_CUDA_LAUNCHED("dropout_kernel");
}

extern "C" void sp_cuda_dropout_forward(float *out, const float *x, int64_t n, float p,
                                        uint64_t seed, uint64_t counter) {
  apply_mask(out, x, n, p, seed, counter, 0);
}

extern "C" void sp_cuda_dropout_backward(float *dx, const float *dout, int64_t n, float p,
                                         uint64_t seed, uint64_t counter) {
  apply_mask(dx, dout, n, p, seed, counter, 1);
}
