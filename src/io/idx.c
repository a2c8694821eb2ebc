/*
 * idx.c — IDX files, the format of MNIST and Fashion-MNIST (Y. LeCun,
 * "THE MNIST DATABASE", yann.lecun.com/exdb/mnist), plain or gzip'd.
 *
 * Layout, big-endian throughout:
 *   0x00 0x00 <type> <ndim>      magic: two zero bytes, data type, rank
 *   ndim × u32                    the dimensions, first = number of items
 *   data                          the elements in C order
 * Types: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.
 *
 * The first dimension gives the rows; every later one is flattened into the
 * columns (N × 28 × 28 images → N × 784). A 1-D file (labels) is N × 1 with
 * ndim 1, like a 1-D .npy.
 *
 * Every file goes through zlib's gzopen/gzread, which reads a gzip stream
 * or, transparently, a plain file, so "x-idx3-ubyte" and
 * "x-idx3-ubyte.gz" share one code path. The data is read in chunks into a
 * buffer that grows with what actually arrives, so a corrupt header that
 * claims a huge array fails as "truncated" instead of allocating it; only
 * max_rows rows are read when a limit is set. Trailing bytes after the
 * data are an error (a mis-sized header is the likeliest cause) unless
 * the read stopped early at max_rows; so is a gzip stream cut after the
 * data but before its CRC-32 (zlib reports that only at the end).
 */
#include "io/io_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define IDX_MAX_DIMS 16          /* MNIST uses 1 and 3 */
#define IDX_CHUNK (1u << 22)     /* bytes per gzread */

typedef struct {
    unsigned char code;
    size_t size;
    const char *name;
} idx_type;

static const idx_type IDX_TYPES[] = {
    {0x08, 1, "u8"}, {0x09, 1, "i8"}, {0x0B, 2, "i16"}, {0x0C, 4, "i32"}, {0x0D, 4, "f32"}, {0x0E, 8, "f64"},
};

/* A failed gzread: the zlib message for a damaged stream, else errno's. */
static ntk_status gz_fail(gzFile gz, const char *path, ntk_error *err)
{
    int code = Z_OK;
    const char *msg = gzerror(gz, &code);
    if (code == Z_ERRNO) return ntk_io_errno(err, path, "read failed", errno);
    return ntk_fail(err, NTK_E_FORMAT, "%s: corrupt gzip data (%s)", path, msg && *msg ? msg : "zlib error");
}

/* Reads up to n bytes; *got says how many came (less only at the end). A
 * stream that ends inside a gzip member is "truncated", not an error here:
 * gzread reports it through gzerror as Z_BUF_ERROR. */
static ntk_status gz_read(gzFile gz, void *buf, size_t n, size_t *got, const char *path, ntk_error *err)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        if (want > IDX_CHUNK) want = IDX_CHUNK;
        int r = gzread(gz, p + *got, (unsigned)want);
        if (r < 0) return gz_fail(gz, path, err);
        if (r == 0) {
            int code = Z_OK;
            gzerror(gz, &code);
            if (code != Z_OK && code != Z_BUF_ERROR) return gz_fail(gz, path, err);
            break;
        }
        *got += (size_t)r;
    }
    return NTK_OK;
}

/* A short read: truncated, with the gzip detail when the stream itself was
 * cut ("unexpected end of file"). */
static ntk_status truncated(gzFile gz, const char *path, const char *what, size_t want, size_t got,
                            ntk_error *err)
{
    int code = Z_OK;
    gzerror(gz, &code);
    return ntk_fail(err, NTK_E_FORMAT, "%s: truncated: expected %zu bytes of %s, found %zu%s", path, want, what, got,
                    code == Z_BUF_ERROR ? " (the gzip stream ends early)" : "");
}

static uint64_t load_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Big-endian elements of type t to doubles. */
static void convert(double *dst, const unsigned char *src, size_t n, const idx_type *t)
{
    switch (t->code) {
    case 0x08:
        for (size_t i = 0; i < n; i++) dst[i] = src[i];
        break;
    case 0x09:
        for (size_t i = 0; i < n; i++) dst[i] = (int8_t)src[i];
        break;
    case 0x0B:
        for (size_t i = 0; i < n; i++) dst[i] = (int16_t)(uint16_t)load_be(src + 2 * i, 2);
        break;
    case 0x0C:
        for (size_t i = 0; i < n; i++) dst[i] = (int32_t)(uint32_t)load_be(src + 4 * i, 4);
        break;
    case 0x0D:
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)load_be(src + 4 * i, 4);
            float f;
            memcpy(&f, &b, 4);
            dst[i] = f;
        }
        break;
    default: /* 0x0E */
        for (size_t i = 0; i < n; i++) {
            uint64_t b = load_be(src + 8 * i, 8);
            memcpy(&dst[i], &b, 8);
        }
        break;
    }
}

static ntk_status idx_read_gz(gzFile gz, const char *path, size_t first, size_t max_rows, ntk_matrix *out,
                              ntk_error *err)
{
    unsigned char head[4 + 4 * IDX_MAX_DIMS];
    size_t got;
    ntk_status st;
    if ((st = gz_read(gz, head, 4, &got, path, err))) return st;
    if (got == 0) return ntk_fail(err, NTK_E_FORMAT, "%s: not an IDX file (the file is empty)", path);
    if (got < 4) return truncated(gz, path, "magic number", 4, got, err);
    if (head[0] != 0 || head[1] != 0)
        return ntk_fail(err, NTK_E_FORMAT,
                        "%s: not an IDX file (the magic number %02x %02x %02x %02x does not start with two zero "
                        "bytes)",
                        path, head[0], head[1], head[2], head[3]);
    const idx_type *t = NULL;
    for (size_t i = 0; i < sizeof IDX_TYPES / sizeof *IDX_TYPES; i++)
        if (IDX_TYPES[i].code == head[2]) t = &IDX_TYPES[i];
    if (!t)
        return ntk_fail(err, NTK_E_FORMAT,
                        "%s: unknown IDX data type 0x%02X (known: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, "
                        "0x0E f64)",
                        path, head[2]);
    int ndim = head[3];
    if (ndim == 0) return ntk_fail(err, NTK_E_FORMAT, "%s: IDX file with 0 dimensions (a scalar)", path);
    if (ndim > IDX_MAX_DIMS)
        return ntk_fail(err, NTK_E_FORMAT, "%s: IDX file with %d dimensions (at most %d supported)", path, ndim,
                        IDX_MAX_DIMS);
    size_t hbytes = 4 * (size_t)ndim;
    if ((st = gz_read(gz, head + 4, hbytes, &got, path, err))) return st;
    if (got < hbytes) return truncated(gz, path, "dimensions", hbytes, got, err);

    char shape[16 * IDX_MAX_DIMS];
    size_t sl = 0, rows = 0, cols = 1;
    int overflow = 0;
    for (int i = 0; i < ndim; i++) {
        size_t v = (size_t)load_be(head + 4 + 4 * i, 4);
        sl += (size_t)snprintf(shape + sl, sizeof shape - sl, "%s%zu", i ? " x " : "", v);
        if (i == 0) rows = v;
        else if (v && cols > SIZE_MAX / v) overflow = 1;
        else cols *= v;
    }
    if (rows == 0 || cols == 0)
        return ntk_fail(err, NTK_E_FORMAT, "%s: IDX array of shape %s is empty", path, shape);
    if (first >= rows) return ntk_io_rows_error(err, path, rows, first);
    size_t rowbytes, dbytes, keep = max_rows && max_rows < rows - first ? max_rows : rows - first;
    if (overflow || ntk_mul_size(keep, cols, sizeof(double), &dbytes) || ntk_mul_size(cols, t->size, 1, &rowbytes))
        return ntk_fail(err, NTK_E_FORMAT, "%s: IDX array of shape %s is too large", path, shape);
    size_t nbytes = keep * rowbytes; /* <= dbytes */
    if (first) { /* the rows before the range: decompressed and dropped */
        size_t skip = first * rowbytes, done = 0; /* first < rows: no overflow (rows·rowbytes fits, see above) */
        unsigned char *scratch = malloc(IDX_CHUNK);
        if (!scratch) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
        while (done < skip) {
            size_t want = skip - done < IDX_CHUNK ? skip - done : IDX_CHUNK;
            if ((st = gz_read(gz, scratch, want, &got, path, err))) break;
            done += got;
            if (got < want) break;
        }
        free(scratch);
        if (st) return st;
        if (done < skip) {
            char what[sizeof shape + 48];
            snprintf(what, sizeof what, "data (%s array of shape %s)", t->name, shape);
            return truncated(gz, path, what, skip + nbytes, done, err);
        }
    }

    /* Grow the raw buffer with the data that arrives. */
    unsigned char *raw = NULL;
    size_t have = 0, cap = 0;
    while (have < nbytes) {
        if (have == cap) {
            size_t nc = cap ? (cap > nbytes / 2 ? nbytes : 2 * cap) : (nbytes < IDX_CHUNK ? nbytes : IDX_CHUNK);
            unsigned char *nb = realloc(raw, nc);
            if (!nb) {
                free(raw);
                return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for an IDX array of shape %s", path, shape);
            }
            raw = nb;
            cap = nc;
        }
        if ((st = gz_read(gz, raw + have, cap - have, &got, path, err))) {
            free(raw);
            return st;
        }
        have += got;
        if (have < cap) break;
    }
    if (have < nbytes) {
        free(raw);
        char what[sizeof shape + 48];
        snprintf(what, sizeof what, "data (%s array of shape %s)", t->name, shape);
        return truncated(gz, path, what, nbytes, have, err);
    }
    if (first + keep == rows) { /* to the end of the file: nothing may follow the data */
        unsigned char extra[64];
        if ((st = gz_read(gz, extra, sizeof extra, &got, path, err))) {
            free(raw);
            return st;
        }
        int code = Z_OK;
        gzerror(gz, &code);
        if (!got && code == Z_BUF_ERROR) { /* found by fuzz/fuzz_idx.c */
            free(raw);
            return ntk_fail(err, NTK_E_FORMAT,
                            "%s: truncated: the gzip stream ends before its CRC-32 (the data is complete but "
                            "unchecked)", path);
        }
        if (got) {
            size_t more = got;
            while (got == sizeof extra) {
                if ((st = gz_read(gz, extra, sizeof extra, &got, path, err))) {
                    free(raw);
                    return st;
                }
                more += got;
            }
            free(raw);
            return ntk_fail(err, NTK_E_FORMAT, "%s: %zu unexpected byte%s after the data of an IDX array of shape %s",
                            path, more, more == 1 ? "" : "s", shape);
        }
    }
    double *data = malloc(dbytes);
    if (!data) {
        free(raw);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for an IDX array of shape %s", path, shape);
    }
    convert(data, raw, keep * cols, t);
    free(raw);
    out->data = data;
    out->rows = keep;
    out->cols = cols;
    out->ndim = ndim == 1 ? 1 : 2;
    return NTK_OK;
}

ntk_status ntk_idx_read(const char *path, size_t max_rows, ntk_matrix *out, ntk_error *err)
{
    return ntk_idx_read_rows(path, 0, max_rows, out, err);
}

ntk_status ntk_idx_read_rows(const char *path, size_t first, size_t max_rows, ntk_matrix *out, ntk_error *err)
{
    out->data = NULL;
    out->rows = out->cols = 0;
    out->ndim = 0;
    /* gzopen sets errno for a file that cannot be opened, and leaves it
     * alone when only its own allocation failed */
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        if (errno) return ntk_io_errno(err, path, "cannot open", errno);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for the gzip reader", path);
    }
    gzbuffer(gz, 1u << 17);
    ntk_status st = idx_read_gz(gz, path, first, max_rows, out, err);
    gzclose(gz);
    return st;
}
