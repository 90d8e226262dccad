/* sha256.c — hex SHA-256 for the LLM cache keys (the key of a request is the digest of its
 * canonical text), through OpenSSL's libcrypto rather than a hand-written digest. */
#include <openssl/evp.h>
#include <stdio.h>

#include "internal.h"

void sp_sha256_hex(char *out, const void *data, int64_t len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!out) return;
  if (len < 0 || (len > 0 && !data) || !EVP_Digest(data, (size_t)len, md, &n, EVP_sha256(), NULL) || n != 32) {
    out[0] = '\0'; /* callers check for an empty key */
    return;
  }
  static const char hex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
}
