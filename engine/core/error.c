/* error.c — the thread-local "file:line: message" behind sp_last_error(), and the one place
 * that aborts (broken internal invariants, never bad input). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];
static _Thread_local int last_status;

int sp_error_set(int status, const char *file, int line, const char *fmt, ...) {
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  int n = snprintf(last_message, sizeof last_message, "%s:%d: ", base, line);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof last_message) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message + n, sizeof last_message - (size_t)n, fmt, ap);
    va_end(ap);
  }
  last_status = status;
  return status;
}

const char *sp_last_error(void) { return last_message; }
int sp_last_status(void) { return last_status; }
void sp_clear_error(void) {
  last_message[0] = '\0';
  last_status = SP_OK;
}

const char *sp_version(void) { return SPRINT_VERSION_STRING; }

void sp_internal_abort(const char *file, int line, const char *what) {
  fprintf(stderr, "sprint: internal invariant broken at %s:%d: %s\n", file, line, what);
  abort();
}
