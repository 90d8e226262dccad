/* pylit.c — a recursive-descent parser for Python literals (dict, list, tuple, set, str,
 * int, float, True/False/None) producing cJSON trees; see pylit.h for what is accepted. */
#include "pylit.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256

typedef struct {
  const char *s;
  size_t len, pos;
  char *err;
  size_t err_cap;
  int failed;
  int depth;
  char *sb; /* the string being built */
  size_t sb_len, sb_cap;
  unsigned char pend[64]; /* a run of byte escapes (\xhh, \ooo) not yet decoded */
  size_t n_pend;
  int oom;
} parser;

enum { PFX_RAW = 1, PFX_BYTES = 2, PFX_UNICODE = 4 };

static void *fail(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void *fail(parser *p, size_t at, const char *fmt, ...) {
  if (p->failed) return NULL;
  p->failed = 1;
  if (p->err && p->err_cap) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->err, p->err_cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < p->err_cap)
      snprintf(p->err + n, p->err_cap - (size_t)n, " at column %zu", at + 1);
  }
  return NULL;
}

static int peek(const parser *p) {
  return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static void skip_ws(parser *p) {
  while (p->pos < p->len) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f') break;
    p->pos++;
  }
}

static int is_ident(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* ---- strings ---- */

static int sb_put(parser *p, const void *bytes, size_t n) {
  if (p->sb_len + n + 1 > p->sb_cap) {
    size_t cap = p->sb_cap ? p->sb_cap : 64;
    while (cap < p->sb_len + n + 1) cap *= 2;
    char *b = realloc(p->sb, cap);
    if (!b) {
      p->oom = 1;
      return -1;
    }
    p->sb = b;
    p->sb_cap = cap;
  }
  memcpy(p->sb + p->sb_len, bytes, n);
  p->sb_len += n;
  p->sb[p->sb_len] = '\0';
  return 0;
}

static int put_codepoint(parser *p, uint32_t c) {
  unsigned char b[4];
  size_t n;
  if (c < 0x80) {
    b[0] = (unsigned char)c, n = 1;
  } else if (c < 0x800) {
    b[0] = (unsigned char)(0xC0 | (c >> 6)), b[1] = (unsigned char)(0x80 | (c & 0x3F)), n = 2;
  } else if (c < 0x10000) {
    b[0] = (unsigned char)(0xE0 | (c >> 12)), b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    b[2] = (unsigned char)(0x80 | (c & 0x3F)), n = 3;
  } else {
    b[0] = (unsigned char)(0xF0 | (c >> 18)), b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F)), b[3] = (unsigned char)(0x80 | (c & 0x3F));
    n = 4;
  }
  return sb_put(p, b, n);
}

/* Length of the valid UTF-8 sequence at b[0, n), or 0 if none starts there. */
static size_t utf8_seq(const unsigned char *b, size_t n) {
  if (n == 0) return 0;
  if (b[0] < 0x80) return 1;
  size_t k;
  uint32_t c, min;
  if ((b[0] & 0xE0) == 0xC0)
    k = 2, c = b[0] & 0x1F, min = 0x80;
  else if ((b[0] & 0xF0) == 0xE0)
    k = 3, c = b[0] & 0x0F, min = 0x800;
  else if ((b[0] & 0xF8) == 0xF0)
    k = 4, c = b[0] & 0x07, min = 0x10000;
  else
    return 0;
  if (n < k) return 0;
  for (size_t i = 1; i < k; i++) {
    if ((b[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  return k;
}

/* Decodes the pending byte escapes: valid UTF-8 sequences as bytes, other bytes as U+00hh. */
static int flush_bytes(parser *p) {
  size_t i = 0;
  while (i < p->n_pend) {
    size_t k = utf8_seq(p->pend + i, p->n_pend - i);
    if (k) {
      if (sb_put(p, p->pend + i, k)) return -1;
      i += k;
    } else {
      if (put_codepoint(p, p->pend[i])) return -1;
      i++;
    }
  }
  p->n_pend = 0;
  return 0;
}

static int put_byte_escape(parser *p, unsigned char b) {
  if (p->n_pend == sizeof p->pend) {
    /* keep a possibly incomplete UTF-8 tail (at most 3 bytes) for the next run */
    size_t keep = 0;
    while (keep < 3 && keep < p->n_pend && (p->pend[p->n_pend - 1 - keep] & 0xC0) == 0x80) keep++;
    if (keep < 3 && keep < p->n_pend && p->pend[p->n_pend - 1 - keep] >= 0xC0)
      keep++;
    else
      keep = 0;
    unsigned char tail[4];
    memcpy(tail, p->pend + p->n_pend - keep, keep);
    p->n_pend -= keep;
    if (flush_bytes(p)) return -1;
    memcpy(p->pend, tail, keep);
    p->n_pend = keep;
  }
  p->pend[p->n_pend++] = b;
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads exactly n hex digits at s[at]; -1 if they are not there. */
static int64_t read_hex(const parser *p, size_t at, int n) {
  if (at + (size_t)n > p->len) return -1;
  int64_t v = 0;
  for (int i = 0; i < n; i++) {
    int h = hexval((unsigned char)p->s[at + (size_t)i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* If a string literal starts at `at` (optional prefix, then a quote), its prefix flags and
 * the quote's position; 0 if not. */
static int string_start(const parser *p, size_t at, int *flags, size_t *quote) {
  int f = 0;
  size_t i = at;
  for (int k = 0; k < 2 && i < p->len; k++, i++) {
    char c = p->s[i];
    int bit = (c == 'r' || c == 'R')   ? PFX_RAW
              : (c == 'b' || c == 'B') ? PFX_BYTES
              : (c == 'u' || c == 'U') ? PFX_UNICODE
                                       : 0;
    if (!bit || (f & bit)) break;
    f |= bit;
  }
  if ((f & PFX_BYTES) && (f & PFX_UNICODE)) return 0;
  if (i >= p->len || (p->s[i] != '\'' && p->s[i] != '"')) {
    /* a prefix letter not followed by a quote: retry with no prefix consumed */
    if (at < p->len && (p->s[at] == '\'' || p->s[at] == '"'))
      i = at, f = 0;
    else
      return 0;
  }
  *flags = f;
  *quote = i;
  return 1;
}

/* One literal piece starting at its prefix; appends its text to p->sb. */
static int string_piece(parser *p) {
  int flags;
  size_t qpos;
  if (!string_start(p, p->pos, &flags, &qpos)) return fail(p, p->pos, "expected a string"), -1;
  char q = p->s[qpos];
  if (qpos + 2 < p->len && p->s[qpos + 1] == q && p->s[qpos + 2] == q)
    return fail(p, qpos, "triple-quoted strings are not supported"), -1;
  int raw = flags & PFX_RAW, unicode = flags & PFX_UNICODE, bytes = flags & PFX_BYTES;
  size_t open = qpos;
  p->pos = qpos + 1;
  for (;;) {
    if (p->pos >= p->len) return fail(p, open, "unterminated string"), -1;
    char c = p->s[p->pos];
    if (c == q) {
      p->pos++;
      break;
    }
    if (c == '\n' || c == '\r') return fail(p, p->pos, "newline inside a string"), -1;
    if (c == '\0') return fail(p, p->pos, "NUL character in a string"), -1;
    if (c != '\\') {
      size_t run = p->pos;
      while (run < p->len && p->s[run] != q && p->s[run] != '\\' && p->s[run] != '\n' &&
             p->s[run] != '\r' && p->s[run] != '\0')
        run++;
      if (flush_bytes(p) || sb_put(p, p->s + p->pos, run - p->pos)) return -1;
      p->pos = run;
      continue;
    }
    if (p->pos + 1 >= p->len) return fail(p, open, "unterminated string"), -1;
    size_t at = p->pos;
    char e = p->s[p->pos + 1];
    if (e == '\n' || e == '\r') return fail(p, at, "backslash-newline inside a string"), -1;
    if (e == '\0') return fail(p, at + 1, "NUL character in a string"), -1;
    if (raw) { /* the backslash stays; it only stops the quote from ending the string */
      if (flush_bytes(p) || sb_put(p, p->s + at, 2)) return -1;
      p->pos += 2;
      continue;
    }
    p->pos += 2;
    int simple = -1;
    switch (e) {
      case '\\':
        simple = '\\';
        break;
      case '\'':
        simple = '\'';
        break;
      case '"':
        simple = '"';
        break;
      case 'a':
        simple = 7;
        break;
      case 'b':
        simple = 8;
        break;
      case 'f':
        simple = 12;
        break;
      case 'n':
        simple = 10;
        break;
      case 'r':
        simple = 13;
        break;
      case 't':
        simple = 9;
        break;
      case 'v':
        simple = 11;
        break;
      default:
        break;
    }
    if (simple >= 0) {
      char ch = (char)simple;
      if (flush_bytes(p) || sb_put(p, &ch, 1)) return -1;
      continue;
    }
    if (e >= '0' && e <= '7') {
      uint32_t v = (uint32_t)(e - '0');
      for (int k = 0; k < 2 && p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '7'; k++)
        v = v * 8 + (uint32_t)(p->s[p->pos++] - '0');
      if (v == 0) return fail(p, at, "NUL character in a string"), -1;
      if (v > 0xFF && !bytes) { /* only a str can hold it: a code point */
        if (flush_bytes(p) || put_codepoint(p, v)) return -1;
      } else if (unicode) {
        if (put_codepoint(p, v)) return -1;
      } else if (put_byte_escape(p, (unsigned char)(v & 0xFF))) {
        return -1;
      }
      continue;
    }
    if (e == 'x') {
      int64_t v = read_hex(p, p->pos, 2);
      if (v < 0) return fail(p, at, "truncated \\xXX escape"), -1;
      p->pos += 2;
      if (v == 0) return fail(p, at, "NUL character in a string"), -1;
      if (unicode) {
        if (flush_bytes(p) || put_codepoint(p, (uint32_t)v)) return -1;
      } else if (put_byte_escape(p, (unsigned char)v)) {
        return -1;
      }
      continue;
    }
    if ((e == 'u' || e == 'U' || e == 'N') && !bytes) {
      if (e == 'N') return fail(p, at, "\\N{...} escapes are not supported"), -1;
      int n = e == 'u' ? 4 : 8;
      int64_t v = read_hex(p, p->pos, n);
      if (v < 0) return fail(p, at, "truncated \\%cXXXX escape", e), -1;
      p->pos += (size_t)n;
      if (v > 0x10FFFF) return fail(p, at, "illegal Unicode character"), -1;
      if (v == 0) return fail(p, at, "NUL character in a string"), -1;
      if (v >= 0xD800 && v <= 0xDBFF && p->pos + 6 <= p->len && p->s[p->pos] == '\\' &&
          p->s[p->pos + 1] == 'u') {
        int64_t lo = read_hex(p, p->pos + 2, 4);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
          p->pos += 6;
        }
      }
      if (v >= 0xD800 && v <= 0xDFFF) v = 0xFFFD; /* a lone surrogate has no UTF-8 form */
      if (flush_bytes(p) || put_codepoint(p, (uint32_t)v)) return -1;
      continue;
    }
    /* an unknown escape keeps its backslash, as in Python */
    if (flush_bytes(p) || sb_put(p, p->s + at, 2)) return -1;
  }
  return flush_bytes(p);
}

static cJSON *string_value(parser *p) {
  p->sb_len = 0;
  p->n_pend = 0;
  if (sb_put(p, "", 0)) return fail(p, p->pos, "out of memory");
  for (;;) {
    if (string_piece(p)) return p->oom ? fail(p, p->pos, "out of memory") : NULL;
    /* adjacent literals concatenate: 'a' "b" is "ab" */
    size_t save = p->pos;
    skip_ws(p);
    int flags;
    size_t q;
    if (!string_start(p, p->pos, &flags, &q)) {
      p->pos = save;
      break;
    }
  }
  cJSON *v = cJSON_CreateString(p->sb);
  return v ? v : fail(p, p->pos, "out of memory");
}

/* ---- numbers ---- */

/* Digits of `base` with single '_' between digits; returns how many digits. */
static int scan_digits(parser *p, int base, char *clean, size_t *n_clean, size_t clean_cap) {
  int count = 0;
  while (p->pos < p->len) {
    int c = (unsigned char)p->s[p->pos];
    int d = hexval(c);
    if (c == '_' && count > 0 && p->pos + 1 < p->len) {
      int d2 = hexval((unsigned char)p->s[p->pos + 1]);
      if (d2 >= 0 && d2 < base) {
        p->pos++;
        continue;
      }
      break;
    }
    if (d < 0 || d >= base) break;
    if (clean && *n_clean + 1 < clean_cap)
      clean[(*n_clean)++] = (char)c;
    else if (clean)
      return -1; /* too long for the buffer */
    p->pos++;
    count++;
  }
  return count;
}

static cJSON *number_value(parser *p, int negative) {
  size_t start = p->pos;
  double v = 0;
  int is_int = 1;
  int c0 = peek(p), c1 = p->pos + 1 < p->len ? (unsigned char)p->s[p->pos + 1] : -1;
  if (c0 == '0' && (c1 == 'x' || c1 == 'X' || c1 == 'o' || c1 == 'O' || c1 == 'b' || c1 == 'B')) {
    int base = (c1 == 'x' || c1 == 'X') ? 16 : (c1 == 'o' || c1 == 'O') ? 8 : 2;
    p->pos += 2;
    if (peek(p) == '_') p->pos++; /* 0x_ff is allowed */
    size_t from = p->pos;
    int n = scan_digits(p, base, NULL, NULL, 0);
    if (n == 0) return fail(p, start, "invalid number");
    for (size_t i = from; i < p->pos; i++)
      if (p->s[i] != '_') v = v * base + hexval((unsigned char)p->s[i]);
  } else {
    char small[128], *clean = small;
    size_t cap = sizeof small, n = 0;
    /* the cleaned copy (no '_') is at most as long as the text */
    size_t rest = p->len - p->pos;
    if (rest + 2 > cap) {
      clean = malloc(rest + 2);
      if (!clean) return fail(p, start, "out of memory");
      cap = rest + 2;
    }
    int int_digits = scan_digits(p, 10, clean, &n, cap), frac_digits = 0;
    int leading_zero = int_digits > 1 && clean[0] == '0';
    if (peek(p) == '.') {
      is_int = 0;
      clean[n++] = '.';
      p->pos++;
      if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        frac_digits = scan_digits(p, 10, clean, &n, cap);
    }
    int bad = int_digits + frac_digits == 0;
    if (!bad && (peek(p) == 'e' || peek(p) == 'E')) {
      is_int = 0;
      clean[n++] = 'e';
      p->pos++;
      if (peek(p) == '+' || peek(p) == '-') clean[n++] = p->s[p->pos++];
      bad = scan_digits(p, 10, clean, &n, cap) <= 0;
    }
    clean[n] = '\0';
    if (!bad) v = strtod(clean, NULL);
    if (clean != small) free(clean);
    if (bad) return fail(p, start, "invalid number");
    if (is_int && leading_zero) {
      for (size_t i = start; i < p->pos; i++)
        if (p->s[i] != '0' && p->s[i] != '_') return fail(p, start, "leading zeros in an integer");
    }
  }
  if (is_int && (peek(p) == 'L' || peek(p) == 'l')) p->pos++; /* Python 2 long */
  if (peek(p) == 'j' || peek(p) == 'J') return fail(p, start, "complex numbers are not supported");
  if (is_ident(peek(p))) return fail(p, start, "invalid number");
  cJSON *out = cJSON_CreateNumber(negative ? -v : v);
  return out ? out : fail(p, start, "out of memory");
}

/* ---- values ---- */

static cJSON *value(parser *p);

static int enter(parser *p) {
  if (++p->depth > MAX_DEPTH) return fail(p, p->pos, "nesting deeper than %d", MAX_DEPTH), -1;
  return 0;
}

/* The rest of a sequence after its opening bracket (and after `first` if not NULL). */
static cJSON *sequence_rest(parser *p, cJSON *arr, char close, const char *what) {
  for (;;) {
    skip_ws(p);
    if (peek(p) == close) {
      p->pos++;
      p->depth--;
      return arr;
    }
    cJSON *v = value(p);
    if (!v) return cJSON_Delete(arr), NULL;
    cJSON_AddItemToArray(arr, v);
    skip_ws(p);
    if (peek(p) == ',') {
      p->pos++;
      continue;
    }
    if (peek(p) == close) continue;
    cJSON_Delete(arr);
    return p->pos >= p->len ? fail(p, p->pos, "unterminated %s", what)
                            : fail(p, p->pos, "expected ',' or '%c' in a %s", close, what);
  }
}

static cJSON *array_with(parser *p, cJSON *first) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr) {
    cJSON_Delete(first);
    return fail(p, p->pos, "out of memory");
  }
  if (first) cJSON_AddItemToArray(arr, first);
  return arr;
}

static cJSON *list_value(parser *p) {
  p->pos++;
  if (enter(p)) return NULL;
  cJSON *arr = array_with(p, NULL);
  return arr ? sequence_rest(p, arr, ']', "list") : NULL;
}

/* "(" value ")" is the value; "()" and "(v,)" and "(v, w)" are tuples. */
static cJSON *paren_value(parser *p) {
  size_t open = p->pos++;
  if (enter(p)) return NULL;
  skip_ws(p);
  if (peek(p) == ')') {
    p->pos++;
    p->depth--;
    return array_with(p, NULL);
  }
  cJSON *first = value(p);
  if (!first) return NULL;
  skip_ws(p);
  if (peek(p) == ')') {
    p->pos++;
    p->depth--;
    return first;
  }
  if (peek(p) != ',') {
    cJSON_Delete(first);
    return p->pos >= p->len ? fail(p, open, "unterminated tuple")
                            : fail(p, p->pos, "expected ',' or ')' in a tuple");
  }
  p->pos++;
  cJSON *arr = array_with(p, first);
  return arr ? sequence_rest(p, arr, ')', "tuple") : NULL;
}

/* A dict key as JSON text: strings as they are, numbers as Python prints them. */
static int key_text(const cJSON *k, char *buf, size_t cap, const char **out) {
  if (cJSON_IsString(k)) {
    *out = k->valuestring;
    return 0;
  }
  if (cJSON_IsNumber(k)) {
    double v = k->valuedouble;
    if (v == floor(v) && fabs(v) < 1e15)
      snprintf(buf, cap, "%.0f", v);
    else
      snprintf(buf, cap, "%.17g", v);
    *out = buf;
    return 0;
  }
  return -1;
}

static cJSON *brace_value(parser *p) {
  p->pos++;
  if (enter(p)) return NULL;
  skip_ws(p);
  if (peek(p) == '}') {
    p->pos++;
    p->depth--;
    cJSON *o = cJSON_CreateObject();
    return o ? o : fail(p, p->pos, "out of memory");
  }
  size_t key_at = p->pos;
  cJSON *first = value(p);
  if (!first) return NULL;
  skip_ws(p);
  if (peek(p) != ':') { /* a set */
    if (peek(p) == ',')
      p->pos++;
    else if (peek(p) != '}') {
      cJSON_Delete(first);
      return p->pos >= p->len ? fail(p, p->pos, "unterminated set")
                              : fail(p, p->pos, "expected ':', ',' or '}' after a dict key");
    }
    cJSON *arr = array_with(p, first);
    return arr ? sequence_rest(p, arr, '}', "set") : NULL;
  }
  cJSON *obj = cJSON_CreateObject();
  if (!obj) {
    cJSON_Delete(first);
    return fail(p, p->pos, "out of memory");
  }
  cJSON *key = first;
  for (;;) {
    /* here: key parsed, p at ':' */
    char buf[40];
    const char *k;
    if (key_text(key, buf, sizeof buf, &k)) {
      cJSON_Delete(key), cJSON_Delete(obj);
      return fail(p, key_at, "unsupported dict key (only strings and numbers)");
    }
    p->pos++; /* ':' */
    cJSON *v = value(p);
    if (!v) return cJSON_Delete(key), cJSON_Delete(obj), NULL;
    int added = cJSON_AddItemToObject(obj, k, v);
    cJSON_Delete(key);
    if (!added) {
      cJSON_Delete(v), cJSON_Delete(obj);
      return fail(p, p->pos, "out of memory");
    }
    skip_ws(p);
    if (peek(p) == ',') {
      p->pos++;
      skip_ws(p);
    } else if (peek(p) != '}') {
      cJSON_Delete(obj);
      return p->pos >= p->len ? fail(p, p->pos, "unterminated dict")
                              : fail(p, p->pos, "expected ',' or '}' in a dict");
    }
    if (peek(p) == '}') {
      p->pos++;
      p->depth--;
      return obj;
    }
    key_at = p->pos;
    key = value(p);
    if (!key) return cJSON_Delete(obj), NULL;
    skip_ws(p);
    if (peek(p) != ':') {
      cJSON_Delete(key), cJSON_Delete(obj);
      return p->pos >= p->len ? fail(p, p->pos, "unterminated dict")
                              : fail(p, p->pos, "expected ':' after a dict key");
    }
  }
}

static cJSON *value(parser *p) {
  skip_ws(p);
  int c = peek(p);
  if (c < 0) return fail(p, p->pos, "unexpected end of input");
  if (c == '{') return brace_value(p);
  if (c == '[') return list_value(p);
  if (c == '(') return paren_value(p);
  int flags;
  size_t q;
  if (string_start(p, p->pos, &flags, &q)) return string_value(p);
  if (c == '+' || c == '-') { /* unary signs apply to numbers only */
    int negative = 0;
    while (peek(p) == '+' || peek(p) == '-') {
      negative ^= peek(p) == '-';
      p->pos++;
      skip_ws(p);
    }
    int d = peek(p);
    if (!((d >= '0' && d <= '9') || d == '.'))
      return fail(p, p->pos, "a sign must be followed by a number");
    return number_value(p, negative);
  }
  if ((c >= '0' && c <= '9') || c == '.') return number_value(p, 0);
  if (is_ident(c)) {
    size_t start = p->pos;
    while (is_ident(peek(p))) p->pos++;
    size_t n = p->pos - start;
    const char *w = p->s + start;
    cJSON *v = NULL;
    if (n == 4 && memcmp(w, "True", 4) == 0)
      v = cJSON_CreateTrue();
    else if (n == 5 && memcmp(w, "False", 5) == 0)
      v = cJSON_CreateFalse();
    else if (n == 4 && memcmp(w, "None", 4) == 0)
      v = cJSON_CreateNull();
    else
      return fail(p, start, "unknown name '%.*s'", (int)(n > 40 ? 40 : n), w);
    return v ? v : fail(p, start, "out of memory");
  }
  if (c >= 0x20 && c < 0x7F) return fail(p, p->pos, "unexpected character '%c'", c);
  return fail(p, p->pos, "unexpected byte 0x%02x", c);
}

cJSON *sp_pylit_parse(const char *s, size_t len, char *err, size_t err_cap) {
  parser p = {.s = s ? s : "", .len = s ? len : 0, .err = err, .err_cap = err_cap};
  if (err && err_cap) err[0] = '\0';
  cJSON *v = value(&p);
  if (v) {
    skip_ws(&p);
    if (p.pos != p.len) {
      cJSON_Delete(v);
      v = fail(&p, p.pos, "unexpected text after the literal");
    }
  }
  free(p.sb);
  return v;
}

char *sp_pylit_to_json(const char *s, size_t len, char *err, size_t err_cap) {
  cJSON *v = sp_pylit_parse(s, len, err, err_cap);
  if (!v) return NULL;
  char *text = cJSON_PrintUnformatted(v);
  cJSON_Delete(v);
  if (!text && err && err_cap) snprintf(err, err_cap, "out of memory printing JSON");
  return text;
}
