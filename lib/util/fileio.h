/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading and writing kernel files through the context's sysroot. */
#ifndef MS_FILEIO_H
#define MS_FILEIO_H

#include <stddef.h>
#include "../internal.h"

/* Largest kernel file we read (lru_gen on a big host is the largest). */
#define MS_FILE_MAX_BYTES (64u * 1024u * 1024u)

/* openat() relative to the sysroot; @path may start with '/'.  fd or -errno. */
int ms_openat(struct ms_ctx *ctx, const char *path, int flags);

/* Does @path exist under the sysroot?  (faccessat F_OK) */
bool ms_path_exists(struct ms_ctx *ctx, const char *path);

/*
 * Read a whole regular file into a malloc'd, NUL-terminated buffer.
 * Returns 0 and sets *out and *len_out, or -errno (-EFBIG beyond @max,
 * -EISDIR, -EINVAL for anything but a regular file: FIFOs never block).
 */
int ms_read_file(struct ms_ctx *ctx, const char *path, char **out, size_t *len_out, size_t max);

/* Read from an open fd (from offset 0 with pread), same contract. */
int ms_read_fd(int fd, char **out, size_t *len_out, size_t max);

/* One write(2) of @data to @path (O_WRONLY|O_TRUNC, no O_CREAT).  0 or -errno. */
int ms_write_file(struct ms_ctx *ctx, const char *path, const char *data);

/* Join a cgroup v2 path ("", "/", "a/b", "/a/b") and a file name into
 * "sys/fs/cgroup/a/b/<file>".  0, or -ENAMETOOLONG / -EINVAL ("..").  */
int ms_cgroup_path(char *buf, size_t size, const char *cgroup, const char *file);

#endif
