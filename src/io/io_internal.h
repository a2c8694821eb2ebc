/*
 * io_internal.h — the format back ends behind ntk_io_read / ntk_io_write
 * (io.c chooses one by extension and owns the temporary-file-and-rename
 * dance; the back ends only read a named file or write to an open stream),
 * and the .npz archive module (npz.c), which reuses both.
 *
 * Every function fills `err` with one line that starts with the file name.
 * Readers leave out->data == NULL on failure.
 */
#ifndef NTK_IO_INTERNAL_H
#define NTK_IO_INTERNAL_H

#include <stdio.h>

#include "core/internal.h"

/* NumPy .npy, format versions 1.0, 2.0 and 3.0 (npy.c). */
ntk_status ntk_npy_read(const char *path, ntk_matrix *out, ntk_error *err);
/* The same parser on a .npy held in memory (an .npz member): `label` is
 * used in messages the way ntk_npy_read uses the file name. out->data is
 * NULL on failure. Data after the array is ignored, as in a file. */
ntk_status ntk_npy_parse_mem(const char *label, const unsigned char *buf, size_t n,
                             ntk_matrix *out, ntk_error *err);
/* Writes version 1.0, '<f8', C order, header padded to 64 bytes exactly as
 * numpy.save does. `path` is only used in messages. */
ntk_status ntk_npy_write(FILE *f, const char *path, const double *data, size_t rows,
                         size_t cols, int ndim, ntk_error *err);

/* Comma-separated numbers (csv.c). opts is not NULL. */
ntk_status ntk_csv_read(const char *path, const ntk_read_opts *opts, ntk_matrix *out,
                        ntk_error *err);
/* %.17g, one row per line, no header. `path` is only used in messages. */
ntk_status ntk_csv_write(FILE *f, const char *path, const double *data, size_t rows,
                         size_t cols, int ndim, ntk_error *err);

/* IDX (MNIST) files, plain or gzip'd (idx.c): rows = the first dimension,
 * the others flattened into the columns; ndim 1 for a 1-D file. Only the
 * first max_rows rows are read (0 = all). */
ntk_status ntk_idx_read(const char *path, size_t max_rows, ntk_matrix *out, ntk_error *err);

/* Resolves a column selection ("1,3-5,label": 1-based indices, ranges,
 * header names) against a file of `ncols` columns with header `names`
 * (NULL: no header). spec NULL selects every column. On success *idx is a
 * malloc'd array of *nidx 0-based column numbers (free it); a bad selection
 * is NTK_E_INVAL. */
ntk_status ntk_io_select(const char *path, const char *spec, char *const *names, size_t ncols,
                         size_t **idx, size_t *nidx, ntk_error *err);

/* Writes `path` atomically: emit(f, path, ctx, err) fills a temporary file
 * made next to `path` (mkstemp, given the mode the old file had or 0666
 * less the umask), which is flushed, closed and renamed onto `path`. On any
 * failure the temporary file is removed and `path` is left as it was. */
typedef ntk_status (*ntk_io_emit_fn)(FILE *f, const char *path, const void *ctx, ntk_error *err);
ntk_status ntk_io_write_atomic(const char *path, ntk_io_emit_fn emit, const void *ctx,
                               ntk_error *err);

/* Text from a file as a message shows it: at most max bytes of s[0..n),
 * control characters as \xNN (a message stays one printable line), "..."
 * when cut. buf holds 4*max + 4 bytes; returns buf. */
const char *ntk_io_shown(const char *s, size_t n, size_t max, char *buf);

/* The message for a failed read/write on a stream, with strerror(errno). */
ntk_status ntk_io_errno(ntk_error *err, const char *path, const char *what, int errnum);

/* The size in bytes of member i of an archive (0 when i is out of range):
 * what a loader may check a header's claims against before allocating. */
size_t ntk_npz_member_size(const ntk_npz *z, size_t i);

/* Splits meta.txt text (n bytes, modified in place) into "key = value"
 * lines: val[i] points at the value of keys[i] (NULL if absent); unknown
 * keys are ignored; blank lines and '#' comments skipped; a line without
 * '=', a key given twice, a NUL byte or a control character (but tab, and
 * CR before the newline) is NTK_E_FORMAT naming path and line. */
ntk_status ntk_meta_parse(char *text, size_t n, const char *path, const char *const *keys, int nkeys, char **val,
                          ntk_error *err);

#endif
