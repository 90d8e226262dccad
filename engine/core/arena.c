/* arena.c — per-step activation memory. Allocation bumps a pointer; reset keeps the memory.
 * When a step outgrows the arena it chains a new chunk, and the next reset replaces the
 * chain by one chunk of the total size, so steady-state training steps never malloc. The same
 * code keeps a GPU context's activations: its chunks come from the device's caching allocator
 * (engine/core/device.h) and zeroing is a memset queued on the stream. */
#include "device.h"
#include "internal.h"

#include <string.h>

#define ARENA_ALIGN 64

struct sp_arena_chunk {
  sp_arena_chunk *next;
  int64_t size, used;
  unsigned char *base; /* aligned start of the usable bytes */
};

static sp_arena_chunk *chunk_new(sp_arena *a, int64_t size) {
  /* more than the machine has cannot succeed (and ASan's allocator would abort): NULL, which
   * callers report as out of memory */
  if (size < 0 || (a->device == SP_CPU && size > ((int64_t)1 << 30) && size > sp_memory_bytes()))
    return NULL;
  sp_arena_chunk *c = malloc(sizeof *c);
  if (!c) return NULL;
  int64_t bytes = (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  if (a->device == SP_CPU) {
    c->base = aligned_alloc(ARENA_ALIGN, (size_t)bytes);
  } else {
    void *p = NULL;
    c->base = sp_dev_alloc(&p, bytes, "arena") == SP_OK ? p : NULL;
  }
  if (!c->base) {
    free(c);
    return NULL;
  }
  c->size = size;
  c->used = 0;
  c->next = NULL;
  a->capacity += size;
  a->mallocs++;
  return c;
}

static void chunk_free_list(const sp_arena *a, sp_arena_chunk *c) {
  while (c) {
    sp_arena_chunk *next = c->next;
    if (a->device == SP_CPU)
      free(c->base);
    else
      sp_dev_release(c->base);
    free(c);
    c = next;
  }
}

void sp_arena_init(sp_arena *a, int64_t initial) {
  memset(a, 0, sizeof *a);
  a->head = chunk_new(a, initial > 0 ? initial : (1 << 20));
}

void sp_arena_init_on(sp_arena *a, int64_t initial, sp_device device) {
  memset(a, 0, sizeof *a);
  a->device = device;
  if (initial > 0) a->head = chunk_new(a, initial);
}

void sp_arena_destroy(sp_arena *a) {
  chunk_free_list(a, a->head);
  chunk_free_list(a, a->full);
  memset(a, 0, sizeof *a);
}

static void *arena_take(sp_arena *a, int64_t bytes, int64_t *need_out);

void *sp_arena_alloc(sp_arena *a, int64_t bytes) {
  int64_t need;
  void *p = arena_take(a, bytes, &need);
  if (p && a->device == SP_CPU) memset(p, 0, (size_t)need);
  if (p && a->device != SP_CPU && sp_dev_zero(p, need) != SP_OK) return NULL;
  return p;
}

void *sp_arena_alloc_uninit(sp_arena *a, int64_t bytes) {
  int64_t need;
  return arena_take(a, bytes, &need);
}

static void *arena_take(sp_arena *a, int64_t bytes, int64_t *need_out) {
  int64_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  if (need == 0) need = ARENA_ALIGN;
  if (!a->head || a->head->used + need > a->head->size) {
    int64_t size = a->head ? a->head->size * 2 : (1 << 20);
    if (size < need) size = need;
    sp_arena_chunk *c = chunk_new(a, size);
    if (!c) return NULL;
    if (a->head) {
      a->used_before += a->head->used;
      a->head->next = a->full;
      a->full = a->head;
    }
    a->head = c;
  }
  void *p = a->head->base + a->head->used;
  a->head->used += need;
  *need_out = need;
  return p;
}

void sp_arena_reset(sp_arena *a) {
  if (a->full) {
    /* Outgrown this generation: one chunk with room for this generation's use plus a
     * quarter, so a like step fits without growing again. */
    int64_t used = a->used_before + (a->head ? a->head->used : 0);
    int64_t total = used + used / 4;
    chunk_free_list(a, a->full);
    chunk_free_list(a, a->head);
    a->full = NULL;
    a->head = NULL;
    a->capacity = 0;
    a->head = chunk_new(a, total);
  } else if (a->head) {
    a->head->used = 0;
  }
  a->used_before = 0;
}

int64_t sp_arena_used(const sp_arena *a) { return a->used_before + (a->head ? a->head->used : 0); }
