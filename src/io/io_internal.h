/*
 * io_internal.h — the format back ends behind ntk_io_read / ntk_io_write
 * (io.c chooses one by extension; outputs.c stages and commits what is
 * written; the back ends only read a named file or write to an open stream),
 * and the .npz archive module (npz.c), which reuses both.
 *
 * Every function fills `err` with one line that starts with the file name.
 * Readers leave out->data == NULL on failure.
 */
#ifndef NTK_IO_INTERNAL_H
#define NTK_IO_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "core/internal.h"

/* NumPy .npy, format versions 1.0, 2.0 and 3.0 (npy.c). */
ntk_status ntk_npy_read(const char *path, ntk_matrix *out, ntk_error *err);
/* Rows first .. first + max_rows − 1 only (max_rows 0: to the end; fewer
 * when the file ends first), as ntk_read_opts describes. */
ntk_status ntk_npy_read_rows(const char *path, size_t first, size_t max_rows, ntk_matrix *out, ntk_error *err);
/* The same parser on a .npy held in memory (an .npz member): `label` is
 * used in messages the way ntk_npy_read uses the file name. out->data is
 * NULL on failure. Data after the array is ignored, as in a file. */
ntk_status ntk_npy_parse_mem(const char *label, const unsigned char *buf, size_t n,
                             ntk_matrix *out, ntk_error *err);
/* The .npy header ntk_npy_write writes (version 1.0, '<f8', C order,
 * padded to 64 bytes as numpy.save pads it) into head (NTK_NPY_HEADER_MAX
 * bytes); returns its length (0 if it does not fit: never for 1-D/2-D). */
#define NTK_NPY_HEADER_MAX 256
size_t ntk_npy_header(unsigned char *head, size_t rows, size_t cols, int ndim);
int ntk_host_is_big_endian(void);
/* Writes version 1.0, '<f8', C order, header padded to 64 bytes exactly as
 * numpy.save does. `path` is only used in messages. */
ntk_status ntk_npy_write(FILE *f, const char *path, const double *data, size_t rows,
                         size_t cols, int ndim, ntk_error *err);

/* Comma-separated numbers (csv.c). opts is not NULL; info may be (else it
 * is zeroed by the caller). */
ntk_status ntk_csv_read(const char *path, const ntk_read_opts *opts, ntk_matrix *out,
                        ntk_read_info *info, ntk_error *err);
/* %.17g, one row per line, no header. `path` is only used in messages. */
ntk_status ntk_csv_write(FILE *f, const char *path, const double *data, size_t rows,
                         size_t cols, int ndim, ntk_error *err);

/* ntk_npz_write with zipfile's zip64 limits lowered (tests): sizes and
 * offsets above `limit`, more than `count_limit` members, get zip64
 * records, as zipfile.ZIP64_LIMIT and ZIP_FILECOUNT_LIMIT decide
 * (defaults 2^31 − 1 and 65535). */
ntk_status ntk_npz_write_limits(const ntk_npz *z, const char *path, uint64_t limit, uint64_t count_limit,
                                ntk_error *err);

/* ntk_npz_read with its eagerness set (tests): members of up to eager_max
 * bytes are read when the archive is opened while their total stays within
 * eager_total; the others when asked for (0, 0: all of them lazy; both
 * UINT64_MAX: all read up front, as before lazy reading). ntk_npz_read uses
 * 1 MiB and 64 MiB. */
ntk_status ntk_npz_read_limits(const char *path, uint64_t eager_max, uint64_t eager_total, ntk_npz **out,
                               ntk_error *err);
/* 1 if the archive has a member of that full name (a get may still fail:
 * one left in the file is read then). */
int ntk_npz_has(const ntk_npz *z, const char *member);
/* Array `name` of an archive (as ntk_npz_get_array finds it) into memory
 * the caller holds: when it has exactly n elements they go into buf and
 * out->data == buf (the caller's, not to be freed); otherwise nothing is
 * read and out->data is NULL. Either way out->rows, cols and ndim are the
 * member's shape, for the caller to check (a buf of the right count but
 * the wrong shape has been written). Errors as ntk_npz_get_array's. */
ntk_status ntk_npz_get_array_to(const ntk_npz *z, const char *name, double *buf, size_t n, ntk_matrix *out,
                                ntk_error *err);

/* IDX (MNIST) files, plain or gzip'd (idx.c): rows = the first dimension,
 * the others flattened into the columns; ndim 1 for a 1-D file. Only the
 * first max_rows rows are read (0 = all). */
ntk_status ntk_idx_read(const char *path, size_t max_rows, ntk_matrix *out, ntk_error *err);
/* From row `first` on (counted from 0), skipping the rows before it. */
ntk_status ntk_idx_read_rows(const char *path, size_t first, size_t max_rows, ntk_matrix *out, ntk_error *err);

/* The error for a row range that starts past the end of a file of `rows`
 * rows: NTK_E_SHAPE "<path>: has R rows, so none from row F on (rows are
 * counted from 0)". */
ntk_status ntk_io_rows_error(ntk_error *err, const char *path, size_t rows, size_t first);

/* Resolves a column selection ("1,3-5,label": 1-based indices, ranges,
 * header names) against a file of `ncols` columns with header `names`
 * (NULL: no header). spec NULL selects every column. On success *idx is a
 * malloc'd array of *nidx 0-based column numbers (free it); a bad selection
 * is NTK_E_INVAL. */
ntk_status ntk_io_select(const char *path, const char *spec, char *const *names, size_t ncols,
                         size_t **idx, size_t *nidx, ntk_error *err);

/* Writes `path` atomically, as a set of one (outputs.c): emit(f, path,
 * ctx, err) fills the staged temporary file; on any failure `path` is left
 * as it was and nothing is left behind. */
typedef ntk_status (*ntk_io_emit_fn)(FILE *f, const char *path, const void *ctx, ntk_error *err);
ntk_status ntk_io_write_atomic(const char *path, ntk_io_emit_fn emit, const void *ctx,
                               ntk_error *err);

/* Output sets (ntk.h) beyond matrices, for the library's other writers and
 * the `ntk` command. Any failure dooms the set (only a free remains).
 *   ntk_outputs_write: stages `path` and fills it with emit.
 *   ntk_outputs_open:  stages `path` and returns a stream to write it; hand
 *                      it back with ntk_outputs_close (flush; errors dooms
 *                      the set) before the commit. Seekable.
 *   ntk_outputs_path:  stages `path` and writes into wpath (n bytes) a path
 *                      another library may open and write ("/proc/self/fd/N"
 *                      or the temporary name), e.g. PLplot's output file.
 *   ntk_outputs_fail:  dooms the set (a write made elsewhere failed).
 *   ntk_outputs_named_only: never O_TMPFILE (tests of the fallback). */
ntk_status ntk_outputs_write(ntk_outputs *o, const char *path, ntk_io_emit_fn emit, const void *ctx,
                             ntk_error *err);
ntk_status ntk_outputs_open(ntk_outputs *o, const char *path, FILE **f, ntk_error *err);
ntk_status ntk_outputs_close(ntk_outputs *o, FILE *f, ntk_error *err);
ntk_status ntk_outputs_path(ntk_outputs *o, const char *path, char *wpath, size_t n, ntk_error *err);
void ntk_outputs_fail(ntk_outputs *o);
void ntk_outputs_named_only(ntk_outputs *o);


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
