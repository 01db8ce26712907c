/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing a trace (include/memshare/trace.h has the format). */
#ifndef MS_TRACE_WRITER_H
#define MS_TRACE_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <memshare/trace.h>

struct ms_trace_writer;

/* Create or truncate @path and write the header.  0 or -errno. */
int ms_trace_writer_open(struct ms_trace_writer **out, const char *path);

/* Append one record.  0 or -errno (the caller stops recording). */
int ms_trace_writer_add(struct ms_trace_writer *w, uint64_t guest_id, enum ms_trace_dir dir,
			const void *data, size_t len);

void ms_trace_writer_close(struct ms_trace_writer *w);

#endif
