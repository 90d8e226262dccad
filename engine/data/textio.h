/* textio.h — the line reader every loader shares: plain or gzip'd files (detected from the
 * bytes, not the name) or a memory buffer (tests, fuzzing); lines of any length, CRLF and a
 * leading UTF-8 BOM tolerated, line numbers kept for error messages. */
#ifndef SPRINT_DATA_TEXTIO_H
#define SPRINT_DATA_TEXTIO_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  void *gz;        /* gzFile for a file source, NULL for memory */
  const char *mem; /* memory source (not owned), or NULL */
  size_t mem_len;
  char *chunk; /* read-ahead from the file (64 KiB) */
  size_t chunk_len, chunk_pos;
  char *buf; /* the current line, NUL-terminated, without its "\r\n" */
  size_t len, cap;
  int64_t line; /* 1-based number of the current line */
  int eof;
  char path[512]; /* for messages */
} sp_lines;

/* Opens a file; a missing or unreadable file is SP_EIO naming the path. */
int sp_lines_open(sp_lines *l, const char *path);
/* Reads lines from buf[0, len) (not copied: it must outlive the reader); `name` stands in
 * for the path in messages. */
int sp_lines_open_mem(sp_lines *l, const char *buf, size_t len, const char *name);
/* The next line into l->buf / l->len; *got = 0 at the end. Read errors and corrupt gzip
 * data are errors naming the path and line, never a silent end. */
int sp_lines_next(sp_lines *l, int *got);
void sp_lines_close(sp_lines *l);

/* Small text helpers shared by the loaders. */
int sp_is_blank(const char *s, size_t len);
/* Trims ASCII spaces, tabs and CR/LF from both ends of [*s, *s + *len). */
void sp_trim(const char **s, size_t *len);
/* A time as UTC seconds: an integer or decimal number of seconds (fraction floored), or a
 * date "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DDTHH:MM:SS[Z]" read as UTC. Accepts
 * 1970-01-01 up to 9999-12-31; returns 0 on success, -1 if it is not such a time. */
int sp_parse_time(const char *s, size_t len, int64_t *out);
/* Latest second accepted by sp_parse_time and the loaders (9999-12-31 23:59:59 UTC). */
#define SP_TIME_MAX INT64_C(253402300799)

#endif
