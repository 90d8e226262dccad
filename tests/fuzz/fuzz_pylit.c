/* fuzz_pylit.c — libFuzzer target for the Python-literal parser: any input either parses to
 * a tree that prints as valid JSON (valid UTF-8 in, valid UTF-8 out), or is rejected with a
 * message that names a column; never a crash, a leak or a read past the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pylit.h"

/* 1 if b[0, n) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int valid_utf8(const unsigned char *b, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = b[i];
    size_t k = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (!k || i + k > n) return 0;
    uint32_t cp = k == 1 ? c : k == 2 ? (c & 0x1F) : k == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t j = 1; j < k; j++) {
      if ((b[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (b[i + j] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += k;
  }
  return 1;
}

static void check_strings(const cJSON *v, int utf8_in) {
  for (; v; v = v->next) {
    if (v->string && utf8_in && !valid_utf8((const unsigned char *)v->string, strlen(v->string)))
      __builtin_trap();
    if (cJSON_IsString(v) && utf8_in &&
        !valid_utf8((const unsigned char *)v->valuestring, strlen(v->valuestring)))
      __builtin_trap();
    check_strings(v->child, utf8_in);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1); /* exactly the input: ASan sees any overread */
  if (!buf) return 0;
  memcpy(buf, data, size);
  char err[256];
  cJSON *v = sp_pylit_parse(buf, size, err, sizeof err);
  if (v) {
    check_strings(v, valid_utf8(data, size));
    char *text = cJSON_PrintUnformatted(v);
    if (!text) __builtin_trap();
    cJSON *w = cJSON_Parse(text);
    if (!w) __builtin_trap();
    cJSON_Delete(w);
    free(text);
    cJSON_Delete(v);
  } else if (!strstr(err, " at column ")) {
    __builtin_trap();
  }
  free(buf);
  return 0;
}
