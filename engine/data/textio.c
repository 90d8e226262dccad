/* textio.c — the shared line reader (plain, gzip'd or in-memory text) and the small text
 * helpers the loaders use: blank/trim checks and one timestamp parser for every format. */
#include "textio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define CHUNK_BYTES (64 * 1024)

static void set_name(sp_lines *l, const char *name) {
  snprintf(l->path, sizeof l->path, "%s", name ? name : "(memory)");
}

int sp_lines_open(sp_lines *l, const char *path) {
  memset(l, 0, sizeof *l);
  if (!path) return SP_FAIL(SP_EINVAL, "no path given");
  set_name(l, path);
  errno = 0;
  /* gzopen reads files that are not gzip'd unchanged ("transparent" mode). */
  gzFile gz = gzopen(path, "rb");
  if (!gz) {
    int e = errno;
    return SP_FAIL(SP_EIO, "%s: cannot open (%s)", path, e ? strerror(e) : "out of memory");
  }
  gzbuffer(gz, 128 * 1024);
  l->gz = gz;
  l->chunk = malloc(CHUNK_BYTES);
  if (!l->chunk) {
    sp_lines_close(l);
    return SP_FAIL(SP_ENOMEM, "%s: out of memory for a read buffer", path);
  }
  return SP_OK;
}

int sp_lines_open_mem(sp_lines *l, const char *buf, size_t len, const char *name) {
  memset(l, 0, sizeof *l);
  set_name(l, name);
  l->mem = buf ? buf : "";
  l->mem_len = buf ? len : 0;
  return SP_OK;
}

void sp_lines_close(sp_lines *l) {
  if (l->gz) {
    gzclose_r((gzFile)l->gz);
    free(l->chunk); /* a memory source's chunk is the caller's buffer */
  }
  free(l->buf);
  memset(l, 0, sizeof *l);
}

static int append(sp_lines *l, const char *s, size_t n) {
  if (l->len + n + 1 > l->cap) {
    size_t cap = l->cap ? l->cap : 256;
    while (cap < l->len + n + 1) {
      if (cap > SIZE_MAX / 2) return SP_FAIL(SP_ENOMEM, "%s: a line is too long", l->path);
      cap *= 2;
    }
    char *b = realloc(l->buf, cap);
    if (!b)
      return SP_FAIL(SP_ENOMEM, "%s:%lld: out of memory for a line of %zu bytes", l->path,
                     (long long)l->line + 1, l->len + n);
    l->buf = b;
    l->cap = cap;
  }
  memcpy(l->buf + l->len, s, n);
  l->len += n;
  l->buf[l->len] = '\0';
  return SP_OK;
}

/* Refills the chunk from the file; chunk_len = 0 at the end. */
static int refill(sp_lines *l) {
  l->chunk_pos = 0;
  l->chunk_len = 0;
  if (l->mem) { /* the whole buffer is one chunk, handed out once */
    if (l->chunk == NULL && l->mem_len) {
      l->chunk = (char *)l->mem; /* never written through; freed only when gz is set */
      l->chunk_len = l->mem_len;
      l->mem_len = 0;
    }
    return SP_OK;
  }
  int n = gzread((gzFile)l->gz, l->chunk, CHUNK_BYTES);
  if (n < 0) {
    int errnum = 0;
    const char *msg = gzerror((gzFile)l->gz, &errnum);
    if (errnum == Z_ERRNO)
      return SP_FAIL(SP_EIO, "%s:%lld: read error (%s)", l->path, (long long)l->line + 1,
                     strerror(errno));
    return SP_FAIL(SP_EFORMAT, "%s:%lld: corrupt gzip data (%s)", l->path, (long long)l->line + 1,
                   msg ? msg : "unknown");
  }
  if (n == 0) { /* the end: a gzip stream cut short reads as an end, gzerror tells */
    int errnum = 0;
    gzerror((gzFile)l->gz, &errnum);
    if (errnum == Z_BUF_ERROR)
      return SP_FAIL(SP_EFORMAT, "%s:%lld: corrupt gzip data (the file ends inside the stream)",
                     l->path, (long long)l->line + 1);
  }
  l->chunk_len = (size_t)n;
  return SP_OK;
}

int sp_lines_next(sp_lines *l, int *got) {
  *got = 0;
  l->len = 0;
  if (l->buf) l->buf[0] = '\0';
  if (l->eof) return SP_OK;
  int any = 0;
  for (;;) {
    if (l->chunk_pos >= l->chunk_len) {
      SP_TRY(refill(l));
      if (l->chunk_len == 0) {
        l->eof = 1;
        if (!any) return SP_OK;
        break; /* a last line without "\n" */
      }
    }
    const char *start = l->chunk + l->chunk_pos;
    size_t avail = l->chunk_len - l->chunk_pos;
    const char *nl = memchr(start, '\n', avail);
    size_t take = nl ? (size_t)(nl - start) : avail;
    SP_TRY(append(l, start, take));
    any = 1;
    l->chunk_pos += take + (nl ? 1 : 0);
    if (nl) break;
  }
  if (!l->buf) SP_TRY(append(l, "", 0)); /* an empty first line still gets a buffer */
  l->line++;
  if (l->len && l->buf[l->len - 1] == '\r') l->buf[--l->len] = '\0';
  if (l->line == 1 && l->len >= 3 && memcmp(l->buf, "\xEF\xBB\xBF", 3) == 0) {
    memmove(l->buf, l->buf + 3, l->len - 3 + 1);
    l->len -= 3;
  }
  *got = 1;
  return SP_OK;
}

/* ---- text helpers ---- */

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int sp_is_blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (!is_space(s[i])) return 0;
  return 1;
}

void sp_trim(const char **s, size_t *len) {
  const char *p = *s;
  size_t n = *len;
  while (n && is_space(p[0])) p++, n--;
  while (n && is_space(p[n - 1])) n--;
  *s = p;
  *len = n;
}

static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int parse_date(const char *s, size_t len, int64_t *out) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (len < 10 || s[4] != '-' || s[7] != '-') return -1;
  if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d)) return -1;
  if (len > 10) {
    size_t n = len;
    if (s[n - 1] == 'Z') n--;
    if (n != 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':') return -1;
    if (digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se)) return -1;
  }
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)) return -1;
  if (h > 23 || mi > 59 || se > 59) return -1;
  *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  return 0;
}

int sp_parse_time(const char *s, size_t len, int64_t *out) {
  sp_trim(&s, &len);
  if (len == 0) return -1;
  if (len >= 10 && s[4] == '-') return parse_date(s, len, out);
  /* a plain number: digits [. digits] [e [+-] digits] */
  size_t i = 0;
  int nd = 0;
  while (i < len && s[i] >= '0' && s[i] <= '9') i++, nd++;
  if (i < len && s[i] == '.') {
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, nd++;
  }
  if (nd == 0) return -1;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    int ne = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, ne++;
    if (ne == 0) return -1;
  }
  if (i != len || len > 63) return -1;
  char tmp[64];
  memcpy(tmp, s, len);
  tmp[len] = '\0';
  double v = strtod(tmp, NULL);
  if (!isfinite(v) || v < 0 || v >= (double)SP_TIME_MAX + 1) return -1;
  *out = (int64_t)floor(v);
  return 0;
}
