/* dist.cu — data-parallel training over NCCL, one process per GPU (README: "Beyond one GPU"):
 * rank 0 makes a unique id, every rank joins the communicator with it, and after backward one
 * all-reduce averages a parameter store's contiguous gradient buffer in place on the compute
 * stream, so every rank then takes the same Adam step. libnccl is loaded with dlopen when a
 * communicator is first asked for, so the plugin loads (and one-GPU training runs) where NCCL
 * is not installed. */
#include <dlfcn.h>
#include <stdio.h>

#include "common.cuh"

#if __has_include(<nccl.h>)
#include <nccl.h>

typedef ncclResult_t (*get_unique_id_fn)(ncclUniqueId *);
typedef ncclResult_t (*comm_init_rank_fn)(ncclComm_t *, int, ncclUniqueId, int);
typedef ncclResult_t (*all_reduce_fn)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t,
                                      ncclComm_t, cudaStream_t);
typedef ncclResult_t (*comm_destroy_fn)(ncclComm_t);
typedef const char *(*error_string_fn)(ncclResult_t);

static struct {
  void *lib;
  get_unique_id_fn get_unique_id;
  comm_init_rank_fn comm_init_rank;
  all_reduce_fn all_reduce;
  comm_destroy_fn comm_destroy;
  error_string_fn error_string;
  ncclComm_t comm;
  int world;
} nccl;

static int nccl_load(const char *what) {
  if (nccl.lib) return SP_OK;
  void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) return SP_FAIL(SP_EDEVICE, "%s: NCCL could not be loaded: %s", what, dlerror());
  nccl.get_unique_id = (get_unique_id_fn)dlsym(h, "ncclGetUniqueId");
  nccl.comm_init_rank = (comm_init_rank_fn)dlsym(h, "ncclCommInitRank");
  nccl.all_reduce = (all_reduce_fn)dlsym(h, "ncclAllReduce");
  nccl.comm_destroy = (comm_destroy_fn)dlsym(h, "ncclCommDestroy");
  nccl.error_string = (error_string_fn)dlsym(h, "ncclGetErrorString");
  if (!nccl.get_unique_id || !nccl.comm_init_rank || !nccl.all_reduce || !nccl.comm_destroy ||
      !nccl.error_string) {
    dlclose(h);
    return SP_FAIL(SP_EDEVICE, "%s: the NCCL library lacks the functions used here", what);
  }
  nccl.lib = h;
  return SP_OK;
}

#define NCCL_CHECK(stmt)                                                                           \
  do {                                                                                             \
    ncclResult_t r_ = (stmt);                                                                      \
    if (r_ != ncclSuccess) return sp_cuda_fail(__FILE__, __LINE__, #stmt, nccl.error_string(r_));   \
  } while (0)

/* hex (2 * sizeof(ncclUniqueId) + 1 chars) of a new id: rank 0 makes it, the others receive it */
extern "C" int sp_cuda_dist_unique_id(char *hex, int n) {
  SP_TRY(nccl_load("sp_dist_unique_id"));
  ncclUniqueId id;
  NCCL_CHECK(nccl.get_unique_id(&id));
  if (n < (int)(2 * sizeof id.internal + 1))
    return SP_FAIL(SP_EINVAL, "sp_dist_unique_id: the buffer needs %d bytes",
                   (int)(2 * sizeof id.internal + 1));
  for (size_t i = 0; i < sizeof id.internal; i++)
    snprintf(hex + 2 * i, 3, "%02x", (unsigned char)id.internal[i]);
  return SP_OK;
}

extern "C" int sp_cuda_dist_init(int rank, int world, const char *hex) {
  SP_TRY(nccl_load("sp_dist_init"));
  if (nccl.comm) return SP_FAIL(SP_ESTATE, "sp_dist_init: already joined (world %d)", nccl.world);
  if (world < 1 || rank < 0 || rank >= world)
    return SP_FAIL(SP_EINVAL, "sp_dist_init: rank %d of world %d", rank, world);
  ncclUniqueId id;
  if (!hex || strlen(hex) != 2 * sizeof id.internal)
    return SP_FAIL(SP_EINVAL, "sp_dist_init: the id must be %d hex digits (sp_dist_unique_id)",
                   (int)(2 * sizeof id.internal));
  for (size_t i = 0; i < sizeof id.internal; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return SP_FAIL(SP_EINVAL, "sp_dist_init: bad id");
    id.internal[i] = (char)v;
  }
  NCCL_CHECK(nccl.comm_init_rank(&nccl.comm, world, id, rank));
  nccl.world = world;
  return SP_OK;
}

/* buf (n) = the mean of buf over the ranks, in place, queued on the compute stream */
extern "C" int sp_cuda_dist_allreduce_mean(float *buf, int64_t n) {
  if (!nccl.comm) return SP_FAIL(SP_ESTATE, "all-reduce: no communicator (sp_dist_init)");
  if (nccl.world == 1 || n <= 0) return SP_OK;
  NCCL_CHECK(nccl.all_reduce(buf, buf, (size_t)n, ncclFloat, ncclAvg, nccl.comm, sp_cuda_stream()));
  return SP_OK;
}

extern "C" void sp_cuda_dist_free(void) {
  if (nccl.comm) nccl.comm_destroy(nccl.comm);
  nccl.comm = NULL, nccl.world = 0;
}

#else /* built without nccl.h */

extern "C" int sp_cuda_dist_unique_id(char *hex, int n) {
  return SP_FAIL(SP_EDEVICE, "the CUDA plugin was built without NCCL's header (nccl.h)");
}
extern "C" int sp_cuda_dist_init(int rank, int world, const char *hex) {
  return sp_cuda_dist_unique_id(NULL, 0);
}
extern "C" int sp_cuda_dist_allreduce_mean(float *buf, int64_t n) {
  return sp_cuda_dist_unique_id(NULL, 0);
}
extern "C" void sp_cuda_dist_free(void) {}

#endif
