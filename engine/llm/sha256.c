/* sha256.c — hex SHA-256 for the LLM cache keys (the key of a request is the digest of its
 * canonical text) and for checking raw dataset files against the registry, through OpenSSL's
 * libcrypto rather than a hand-written digest. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void to_hex(char *out, const unsigned char *md, unsigned int n) {
  static const char hex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[2 * n] = '\0';
}

void sp_sha256_hex(char *out, const void *data, int64_t len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!out) return;
  if (len < 0 || (len > 0 && !data) || !EVP_Digest(data, (size_t)len, md, &n, EVP_sha256(), NULL) || n != 32) {
    out[0] = '\0'; /* callers check for an empty key */
    return;
  }
  to_hex(out, md, n);
}

int sp_file_sha256_hex(char *out, const char *path) {
  if (!out || !path) return SP_FAIL(SP_EINVAL, "sp_file_sha256_hex: NULL argument");
  out[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (!f) return SP_FAIL(SP_EIO, "cannot read %s: %s", path, strerror(errno));
  EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
  int ok = md_ctx && EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL);
  unsigned char buf[1 << 16];
  size_t got;
  while (ok && (got = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(md_ctx, buf, got);
  int read_err = ferror(f);
  fclose(f);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  ok = ok && !read_err && EVP_DigestFinal_ex(md_ctx, md, &n) && n == 32;
  EVP_MD_CTX_free(md_ctx);
  if (read_err) return SP_FAIL(SP_EIO, "error reading %s", path);
  if (!ok) return SP_FAIL(SP_EIO, "sp_file_sha256_hex: libcrypto failed on %s", path);
  to_hex(out, md, n);
  return SP_OK;
}
