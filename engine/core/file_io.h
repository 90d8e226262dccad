/* file_io.h — checksummed binary files written atomically (temp file, fsync, rename) and
 * read back whole with the checksum verified before anything is parsed. Used by the
 * parameter store, the optimiser and the dataset cache. */
#ifndef SPRINT_FILE_IO_H
#define SPRINT_FILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  FILE *f;
  char tmp_path[4096];
  const char *path;
  uint64_t hash;
  int failed;
} sp_writer;

int sp_writer_open(sp_writer *w, const char *path, const char magic[8]);
void sp_writer_bytes(sp_writer *w, const void *data, size_t n);
void sp_writer_u32(sp_writer *w, uint32_t v);
int sp_writer_commit(sp_writer *w); /* hash, flush, fsync, rename; removes the temp on failure */

typedef struct {
  unsigned char *buf;
  size_t len, pos, header_end;
  const char *path;
} sp_reader;

int sp_reader_open(sp_reader *r, const char *path, const char magic[8]);
int sp_reader_u32(sp_reader *r, uint32_t *v);
int sp_reader_bytes(sp_reader *r, void *out, size_t n);
int sp_reader_skip(sp_reader *r, size_t n);
void sp_reader_close(sp_reader *r);

#endif
