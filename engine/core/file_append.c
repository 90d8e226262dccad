/* file_append.c — appends for journals (Stage 1's finished sessions): one write with O_APPEND,
 * so once the call returns the record is the kernel's and survives a kill of the process; a
 * kill can tear at most the record being written (readers skip a last line without its
 * newline). fsync on request, for records that must also survive a power loss. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int sp_file_append(const char *path, const void *data, int64_t n, int sync) {
  if (!path || (!data && n > 0) || n < 0)
    return SP_FAIL(SP_EINVAL, "sp_file_append: NULL path or data, or a negative size");
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return SP_FAIL(SP_EIO, "cannot append to %s: %s", path, strerror(errno));
  const char *p = data;
  int64_t left = n;
  while (left > 0) {
    ssize_t w = write(fd, p, (size_t)left);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return SP_FAIL(SP_EIO, "cannot append to %s: %s", path, strerror(e));
    }
    p += w;
    left -= w;
  }
  if (sync && fsync(fd) != 0) {
    int e = errno;
    close(fd);
    return SP_FAIL(SP_EIO, "cannot sync %s: %s", path, strerror(e));
  }
  if (close(fd) != 0) return SP_FAIL(SP_EIO, "cannot close %s: %s", path, strerror(errno));
  return SP_OK;
}
