/* file_io.c — atomic, checksummed binary files for parameters and optimiser state. A file
 * is written to "<path>.tmp.<pid>", fsynced and renamed over <path>, so a crash leaves the
 * old file or the new one, never half of one. Every such rename goes through commit_rename,
 * where a test-only fault injection can kill the process (see below). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "file_io.h"

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
  return h;
}

/* Test-only fault injection: SPRINT_FAULT_KILL_BEFORE_RENAME=N / SPRINT_FAULT_KILL_AFTER_RENAME=N
 * kill the process with SIGKILL just before / just after the N-th atomic rename it makes
 * (counted from 1 over the whole process). The checkpoint tests use it to die at every step
 * of a checkpoint write, as `kill -9` would; a kill, not an error, because an error would let
 * the caller clean up. Unset (the normal case), it costs a getenv per file written. */
static void fault_here(const char *var, long n, const char *path) {
  const char *want = getenv(var);
  if (!want || atol(want) != n) return;
  fprintf(stderr, "sprint: fault injection %s=%ld: killing the process at %s\n", var, n, path);
  fflush(stderr);
  raise(SIGKILL);
}

/* fsyncs the folder holding path, so that a rename in it survives a power cut too (the
 * rename is only in the folder's metadata). Best effort: some file systems refuse it. */
static void sync_parent(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) >= (int)sizeof dir)
    return;
  if (!dir[0]) snprintf(dir, sizeof dir, "/");
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

/* Renames the finished temporary file over path: the moment the new file becomes visible. */
static int commit_rename(const char *tmp, const char *path) {
  static long renames; /* atomic: writers may run on several threads */
  long n = __atomic_add_fetch(&renames, 1, __ATOMIC_SEQ_CST);
  fault_here("SPRINT_FAULT_KILL_BEFORE_RENAME", n, path);
  int rc = rename(tmp, path), err = errno; /* the caller reads errno */
  if (rc == 0) sync_parent(path);
  fault_here("SPRINT_FAULT_KILL_AFTER_RENAME", n, path);
  errno = err;
  return rc;
}

int sp_writer_open(sp_writer *w, const char *path, const char magic[8]) {
  memset(w, 0, sizeof *w);
  w->path = path;
  w->hash = FNV_OFFSET;
  if (snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof w->tmp_path)
    return SP_FAIL(SP_EINVAL, "path too long: %s", path);
  w->f = fopen(w->tmp_path, "wb");
  if (!w->f) return SP_FAIL(SP_EIO, "cannot write %s: %s", w->tmp_path, strerror(errno));
  sp_writer_bytes(w, magic, 8);
  return SP_OK;
}

void sp_writer_bytes(sp_writer *w, const void *data, size_t n) {
  if (w->failed || n == 0) return;
  w->hash = fnv1a(w->hash, data, n);
  if (fwrite(data, 1, n, w->f) != n) w->failed = errno ? errno : EIO;
}

void sp_writer_u32(sp_writer *w, uint32_t v) { sp_writer_bytes(w, &v, sizeof v); }

int sp_writer_commit(sp_writer *w) {
  uint64_t h = w->hash;
  if (!w->failed && fwrite(&h, 1, sizeof h, w->f) != sizeof h) w->failed = errno ? errno : EIO;
  if (!w->failed && fflush(w->f) != 0) w->failed = errno;
  if (!w->failed && fsync(fileno(w->f)) != 0) w->failed = errno;
  if (fclose(w->f) != 0 && !w->failed) w->failed = errno;
  w->f = NULL;
  if (!w->failed && commit_rename(w->tmp_path, w->path) != 0) w->failed = errno;
  if (w->failed) {
    unlink(w->tmp_path);
    return SP_FAIL(SP_EIO, "cannot write %s: %s", w->path, strerror(w->failed));
  }
  return SP_OK;
}

int sp_reader_open(sp_reader *r, const char *path, const char magic[8]) {
  memset(r, 0, sizeof *r);
  r->path = path;
  FILE *f = fopen(path, "rb");
  if (!f) return SP_FAIL(SP_EIO, "cannot read %s: %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return SP_FAIL(SP_EIO, "cannot read %s: %s", path, strerror(errno));
  }
  long size = ftell(f);
  rewind(f);
  if (size < 16) {
    fclose(f);
    return SP_FAIL(SP_EFORMAT, "%s: too short (%ld bytes) to be a sprint file", path, size);
  }
  r->buf = malloc((size_t)size);
  if (!r->buf) {
    fclose(f);
    return SP_FAIL(SP_ENOMEM, "%s: cannot hold %ld bytes", path, size);
  }
  size_t got = fread(r->buf, 1, (size_t)size, f);
  fclose(f);
  if (got != (size_t)size) {
    sp_reader_close(r);
    return SP_FAIL(SP_EIO, "%s: short read", path);
  }
  r->len = (size_t)size - 8;
  uint64_t stored;
  memcpy(&stored, r->buf + r->len, 8);
  if (memcmp(r->buf, magic, 8) != 0) {
    sp_reader_close(r);
    return SP_FAIL(SP_EFORMAT, "%s: not a %.8s file", path, magic);
  }
  if (fnv1a(FNV_OFFSET, r->buf, r->len) != stored) {
    sp_reader_close(r);
    return SP_FAIL(SP_EFORMAT, "%s: checksum mismatch (truncated or corrupted file)", path);
  }
  r->pos = r->header_end = 8;
  return SP_OK;
}

int sp_reader_bytes(sp_reader *r, void *out, size_t n) {
  if (r->pos + n > r->len) return SP_FAIL(SP_EFORMAT, "%s: truncated at byte %zu", r->path, r->pos);
  memcpy(out, r->buf + r->pos, n);
  r->pos += n;
  return SP_OK;
}

int sp_reader_skip(sp_reader *r, size_t n) {
  if (r->pos + n > r->len) return SP_FAIL(SP_EFORMAT, "%s: truncated at byte %zu", r->path, r->pos);
  r->pos += n;
  return SP_OK;
}

int sp_reader_u32(sp_reader *r, uint32_t *v) { return sp_reader_bytes(r, v, sizeof *v); }

void sp_reader_close(sp_reader *r) {
  free(r->buf);
  r->buf = NULL;
}

/* FNV-1a 64 of a file's bytes and its size: the dataset cache's key for raw inputs. */
int sp_file_fingerprint(const char *path, uint64_t *hash, int64_t *size) {
  if (!path || !hash || !size) return SP_FAIL(SP_EINVAL, "sp_file_fingerprint: NULL argument");
  FILE *f = fopen(path, "rb");
  if (!f) return SP_FAIL(SP_EIO, "cannot read %s", path);
  uint64_t h = 1469598103934665603ull;
  int64_t n = 0;
  unsigned char buf[1 << 16];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
    for (size_t i = 0; i < got; i++) h = (h ^ buf[i]) * 1099511628211ull;
    n += (int64_t)got;
  }
  int err = ferror(f);
  fclose(f);
  if (err) return SP_FAIL(SP_EIO, "error reading %s", path);
  *hash = h;
  *size = n;
  return SP_OK;
}

int sp_file_write_atomic(const char *path, const void *data, int64_t n) {
  if (!path || (n > 0 && !data) || n < 0) return SP_FAIL(SP_EINVAL, "sp_file_write_atomic: bad argument");
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return SP_FAIL(SP_EINVAL, "path too long: %s", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return SP_FAIL(SP_EIO, "cannot write %s: %s", tmp, strerror(errno));
  int err = 0;
  if (n > 0 && fwrite(data, 1, (size_t)n, f) != (size_t)n) err = errno ? errno : EIO;
  if (!err && fflush(f) != 0) err = errno;
  if (!err && fsync(fileno(f)) != 0) err = errno;
  if (fclose(f) != 0 && !err) err = errno;
  if (!err && commit_rename(tmp, path) != 0) err = errno;
  if (err) {
    unlink(tmp);
    return SP_FAIL(SP_EIO, "cannot write %s: %s", path, strerror(err));
  }
  return SP_OK;
}
