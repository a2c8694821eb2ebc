/*
 * npy.c — NumPy .npy files: read versions 1.0/2.0/3.0, write version 1.0.
 *
 * The format (numpy/lib/format.py, NEP 1):
 *   "\x93NUMPY" major minor, header length (u16 LE for 1.0, u32 LE for 2.0
 *   and 3.0), then a Python-literal dict
 *     {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 *   padded with spaces and ended by '\n' (latin-1 for 1.0/2.0, utf-8 for
 *   3.0), then the raw array data.
 * The dict is parsed by a small recursive-descent parser for the subset of
 * Python literals numpy writes (keys in any order, either quote, any
 * whitespace, trailing commas, Python 2 "3L" integers), never by offsets.
 *
 * The reader takes a file or a buffer in memory (an .npz member) through
 * the same code.
 *
 * Reading: one fread of all the data into the tail of the output buffer,
 * then an in-place front-to-back widening to double (an element of s <= 8
 * bytes at tail offset k*s is read before slot k*8 is written, and
 * k*8 + 8 <= n*(8-s) + (k+1)*s for every k < n), then a transpose for
 * Fortran order. Native '<f8' in C order is read with no conversion at all.
 */
#include "io/io_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_DIMS 64             /* numpy's NPY_MAXDIMS */
#define NPY_MAX_HEADER (1u << 20)   /* far beyond any 1-D/2-D header */
#define NPY_ALIGN 64                /* numpy's ARRAY_ALIGN */

typedef enum { DT_FLOAT, DT_INT, DT_UINT } dt_kind;

typedef struct {
    dt_kind kind;
    size_t size; /* bytes per element: 1, 2, 4 or 8 */
    int big;     /* big-endian storage */
} npy_dtype;

typedef struct {
    char descr[48];
    int fortran;
    int ndim;
    size_t shape[NPY_MAX_DIMS];
} npy_header;

static int host_is_big(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 0;
}

/* ------------------------------------------------------------ header parser */

typedef struct {
    const char *s, *p, *end; /* header text and cursor */
    const char *path;
    ntk_error *err;
} hparser;

static ntk_status hfail(hparser *h, const char *what)
{
    return ntk_fail(h->err, NTK_E_FORMAT, "%s: bad .npy header at character %zu: %s", h->path,
                    (size_t)(h->p - h->s) + 1, what);
}

static int hpeek(const hparser *h) { return h->p < h->end ? (unsigned char)*h->p : -1; }

static void hskip(hparser *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_ident(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* A Python string literal ('...' or "..."); *len is its full length even
 * when it did not fit in buf (buf is always NUL-terminated). */
static ntk_status hstring(hparser *h, char *buf, size_t n, size_t *len)
{
    int q = hpeek(h);
    if (q != '\'' && q != '"') return hfail(h, "expected a quoted string");
    h->p++;
    size_t k = 0;
    for (;;) {
        if (h->p >= h->end || *h->p == '\n') return hfail(h, "unterminated string");
        char c = *h->p++;
        if (c == q) break;
        if (c == '\\') {
            if (h->p >= h->end) return hfail(h, "unterminated string");
            c = *h->p++;
        }
        if (c == '\0') return hfail(h, "NUL byte in a string");
        if (k + 1 < n) buf[k] = c;
        k++;
    }
    buf[k < n ? k : n - 1] = '\0';
    *len = k;
    return NTK_OK;
}

static int hword(hparser *h, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0) return 0;
    if (h->p + n < h->end && is_ident((unsigned char)h->p[n])) return 0;
    h->p += n;
    return 1;
}

/* A tuple of non-negative integers: (), (n,), (a, b), (a, b, c,) ... */
static ntk_status hshape(hparser *h, npy_header *hd)
{
    if (hpeek(h) != '(') return hfail(h, "shape must be a tuple of integers, e.g. (3, 4)");
    h->p++;
    hskip(h);
    hd->ndim = 0;
    if (hpeek(h) == ')') {
        h->p++;
        return NTK_OK;
    }
    for (;;) {
        if (!is_digit(hpeek(h))) return hfail(h, "expected a non-negative integer in shape");
        size_t v = 0;
        while (is_digit(hpeek(h))) {
            size_t d = (size_t)(*h->p - '0');
            if (v > (SIZE_MAX - d) / 10) return hfail(h, "dimension in shape is too large");
            v = v * 10 + d;
            h->p++;
        }
        if (hpeek(h) == 'L' || hpeek(h) == 'l') h->p++; /* Python 2 long */
        if (hd->ndim == NPY_MAX_DIMS) return hfail(h, "too many dimensions in shape");
        hd->shape[hd->ndim++] = v;
        hskip(h);
        if (hpeek(h) == ',') {
            h->p++;
            hskip(h);
            if (hpeek(h) == ')') break;
            continue;
        }
        if (hpeek(h) == ')') {
            if (hd->ndim == 1) return hfail(h, "shape (n) is not a tuple; a 1-D shape is (n,)");
            break;
        }
        return hfail(h, "expected ',' or ')' in shape");
    }
    h->p++; /* ')' */
    return NTK_OK;
}

static ntk_status parse_header(const char *s, size_t n, const char *path, npy_header *hd,
                               ntk_error *err)
{
    hparser h = {s, s, s + n, path, err};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    ntk_status st;

    hskip(&h);
    if (hpeek(&h) != '{') return hfail(&h, "expected '{'");
    h.p++;
    for (;;) {
        hskip(&h);
        if (hpeek(&h) == '}') break;
        char key[32];
        size_t klen;
        if ((st = hstring(&h, key, sizeof key, &klen))) return st;
        hskip(&h);
        if (hpeek(&h) != ':') return hfail(&h, "expected ':' after a key");
        h.p++;
        hskip(&h);
        int *seen;
        if (klen == 5 && !strcmp(key, "descr")) {
            seen = &seen_descr;
            if (hpeek(&h) == '[')
                return ntk_fail(err, NTK_E_FORMAT,
                                "%s: unsupported dtype: structured arrays are not supported "
                                "(need a float or integer array)", path);
            size_t dlen;
            if ((st = hstring(&h, hd->descr, sizeof hd->descr, &dlen))) return st;
            char sb[4 * sizeof hd->descr];
            if (dlen >= sizeof hd->descr)
                return ntk_fail(err, NTK_E_FORMAT, "%s: unsupported dtype '%s'", path,
                                ntk_shown(hd->descr, dlen, sizeof hd->descr - 1, sb));
        } else if (klen == 13 && !strcmp(key, "fortran_order")) {
            seen = &seen_fortran;
            if (hword(&h, "True"))
                hd->fortran = 1;
            else if (hword(&h, "False"))
                hd->fortran = 0;
            else
                return hfail(&h, "fortran_order must be True or False");
        } else if (klen == 5 && !strcmp(key, "shape")) {
            seen = &seen_shape;
            if ((st = hshape(&h, hd))) return st;
        } else {
            char sb[4 * sizeof key];
            return ntk_fail(err, NTK_E_FORMAT, "%s: bad .npy header: unexpected key '%s'", path,
                            ntk_shown(key, klen, sizeof key - 1, sb));
        }
        if (*seen)
            return ntk_fail(err, NTK_E_FORMAT, "%s: bad .npy header: duplicate key '%s'", path, key);
        *seen = 1;
        hskip(&h);
        if (hpeek(&h) == ',') {
            h.p++;
            continue;
        }
        if (hpeek(&h) == '}') break;
        return hfail(&h, "expected ',' or '}'");
    }
    h.p++; /* '}' */
    hskip(&h);
    if (h.p != h.end) return hfail(&h, "unexpected text after '}'");
    const char *missing = !seen_descr ? "descr" : !seen_fortran ? "fortran_order"
                        : !seen_shape ? "shape" : NULL;
    if (missing)
        return ntk_fail(err, NTK_E_FORMAT, "%s: bad .npy header: missing key '%s'", path, missing);
    return NTK_OK;
}

/* '<f8', '>i4', '|u1', '=f4', 'f8' ... numpy reads '|' and '=' (and no
 * marker) on a multi-byte type as native order, and so do we. */
static int parse_dtype(const char *d, npy_dtype *t)
{
    int big = host_is_big();
    if (*d == '<' || *d == '>' || *d == '|' || *d == '=') {
        if (*d == '<') big = 0;
        if (*d == '>') big = 1;
        d++;
    }
    switch (*d) {
    case 'f': t->kind = DT_FLOAT; break;
    case 'i': t->kind = DT_INT; break;
    case 'u': t->kind = DT_UINT; break;
    default: return -1;
    }
    d++;
    if (!is_digit((unsigned char)d[0]) || d[1] != '\0') return -1;
    t->size = (size_t)(d[0] - '0');
    t->big = big;
    if (t->kind == DT_FLOAT) return t->size == 4 || t->size == 8 ? 0 : -1;
    return t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8 ? 0 : -1;
}

static void format_shape(const npy_header *hd, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < hd->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%zu", i ? ", " : "", hd->shape[i]);
    if (k < n) snprintf(buf + k, n - k, hd->ndim == 1 ? ",)" : ")");
}

/* ------------------------------------------------------------ conversion */

static inline uint64_t load_bits(const unsigned char *p, size_t size, int big)
{
    uint64_t v = 0;
    if (big)
        for (size_t i = 0; i < size; i++) v = v << 8 | p[i];
    else
        for (size_t i = size; i-- > 0;) v = v << 8 | p[i];
    return v;
}

static inline double bits_to_double(uint64_t b, dt_kind kind, size_t size)
{
    switch (kind) {
    case DT_FLOAT:
        if (size == 8) {
            double d;
            memcpy(&d, &b, 8);
            return d;
        } else {
            uint32_t u = (uint32_t)b;
            float x;
            memcpy(&x, &u, 4);
            return (double)x;
        }
    case DT_INT:
        if (size < 8) {
            uint64_t m = (uint64_t)1 << (8 * size - 1);
            /* two's complement sign extension without implementation-defined casts */
            return b & m ? -(double)((~b & (m - 1)) + 1) : (double)b;
        } else {
            int64_t i;
            memcpy(&i, &b, 8);
            return (double)i;
        }
    case DT_UINT: return (double)b;
    }
    return 0;
}

/* dst[k] = element k of src, for k = 0..n-1; src may be the tail of dst. */
static void widen(double *dst, const unsigned char *src, size_t n, const npy_dtype *t)
{
    /* constant arguments let the compiler specialise each loop */
#define WIDEN(KIND, SIZE, BIG)                                                     \
    for (size_t k = 0; k < n; k++) {                                               \
        double v = bits_to_double(load_bits(src + k * (SIZE), SIZE, BIG), KIND, SIZE); \
        dst[k] = v;                                                                \
    }                                                                              \
    return
    switch (t->size * 2 + (size_t)t->big) {
    case 2: if (t->kind == DT_INT) { WIDEN(DT_INT, 1, 0); } else { WIDEN(DT_UINT, 1, 0); }
    case 3: if (t->kind == DT_INT) { WIDEN(DT_INT, 1, 1); } else { WIDEN(DT_UINT, 1, 1); }
    case 4: if (t->kind == DT_INT) { WIDEN(DT_INT, 2, 0); } else { WIDEN(DT_UINT, 2, 0); }
    case 5: if (t->kind == DT_INT) { WIDEN(DT_INT, 2, 1); } else { WIDEN(DT_UINT, 2, 1); }
    case 8:
        if (t->kind == DT_FLOAT) { WIDEN(DT_FLOAT, 4, 0); }
        if (t->kind == DT_INT) { WIDEN(DT_INT, 4, 0); } else { WIDEN(DT_UINT, 4, 0); }
    case 9:
        if (t->kind == DT_FLOAT) { WIDEN(DT_FLOAT, 4, 1); }
        if (t->kind == DT_INT) { WIDEN(DT_INT, 4, 1); } else { WIDEN(DT_UINT, 4, 1); }
    case 16:
        if (t->kind == DT_FLOAT) { WIDEN(DT_FLOAT, 8, 0); }
        if (t->kind == DT_INT) { WIDEN(DT_INT, 8, 0); } else { WIDEN(DT_UINT, 8, 0); }
    case 17:
        if (t->kind == DT_FLOAT) { WIDEN(DT_FLOAT, 8, 1); }
        if (t->kind == DT_INT) { WIDEN(DT_INT, 8, 1); } else { WIDEN(DT_UINT, 8, 1); }
    default: return;
    }
#undef WIDEN
}

/* ------------------------------------------------------------ reading */

/* Where the bytes come from: a stream, or a buffer in memory (a member of
 * an .npz archive). */
typedef struct {
    FILE *f;                  /* the stream, or NULL: read from mem */
    const unsigned char *mem; /* the buffer, its size, the cursor */
    size_t n, pos;
} npy_src;

/* fread (or memcpy) that tells a read error (NTK_E_IO) from a short file
 * (returns the count, status NTK_OK). */
static ntk_status read_some(npy_src *src, void *buf, size_t n, size_t *got, const char *path,
                            ntk_error *err)
{
    if (!src->f) {
        size_t left = src->n - src->pos;
        *got = n < left ? n : left;
        if (*got) memcpy(buf, src->mem + src->pos, *got);
        src->pos += *got;
        return NTK_OK;
    }
    errno = 0;
    *got = fread(buf, 1, n, src->f);
    if (*got < n && ferror(src->f)) return ntk_io_errno(err, path, "read error", errno);
    return NTK_OK;
}

/* The bytes left to read when that is known in advance (a buffer or a
 * regular file): returns 1 and sets *left, else 0. */
static int bytes_left(npy_src *src, size_t *left)
{
    if (!src->f) {
        *left = src->n - src->pos;
        return 1;
    }
    struct stat sb;
    long pos = ftell(src->f);
    if (pos >= 0 && fstat(fileno(src->f), &sb) == 0 && S_ISREG(sb.st_mode)) {
        *left = sb.st_size > pos ? (size_t)(sb.st_size - pos) : 0;
        return 1;
    }
    return 0;
}

/* Moves the cursor n bytes on (a seek where the source allows one, else
 * reads that are thrown away); a short source is left for the next read
 * to report. */
static ntk_status skip_bytes(npy_src *src, size_t n, const char *path, ntk_error *err)
{
    size_t left;
    if (!src->f) {
        src->pos += n < src->n - src->pos ? n : src->n - src->pos;
        return NTK_OK;
    }
    if (bytes_left(src, &left) && n <= left && n <= (size_t)INT64_MAX && fseeko(src->f, (off_t)n, SEEK_CUR) == 0)
        return NTK_OK;
    unsigned char buf[1 << 16];
    while (n) {
        size_t want = n < sizeof buf ? n : sizeof buf, got;
        ntk_status st = read_some(src, buf, want, &got, path, err);
        if (st) return st;
        if (got < want) return NTK_OK;
        n -= got;
    }
    return NTK_OK;
}

static ntk_status npy_read_src(npy_src *src, const char *path, size_t first, size_t max_rows, ntk_matrix *out,
                               ntk_error *err)
{
    unsigned char pre[NPY_MAGIC_LEN + 2 + 4];
    size_t got;
    ntk_status st;

    if ((st = read_some(src, pre, NPY_MAGIC_LEN + 2, &got, path, err))) return st;
    if (got == 0) return ntk_fail(err, NTK_E_FORMAT, "%s: not a .npy file (the file is empty)", path);
    if (got < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return ntk_fail(err, NTK_E_FORMAT, "%s: not a .npy file (bad magic string)", path);
    if (got < NPY_MAGIC_LEN + 2)
        return ntk_fail(err, NTK_E_FORMAT, "%s: truncated: no format version after the magic string",
                        path);
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return ntk_fail(err, NTK_E_FORMAT,
                        "%s: unsupported .npy format version %u.%u (supported: 1.0, 2.0, 3.0)", path,
                        major, minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    if ((st = read_some(src, pre + 8, lenbytes, &got, path, err))) return st;
    if (got < lenbytes)
        return ntk_fail(err, NTK_E_FORMAT, "%s: truncated: the header length is missing", path);
    size_t hlen = (size_t)load_bits(pre + 8, lenbytes, 0);
    if (hlen > NPY_MAX_HEADER)
        return ntk_fail(err, NTK_E_FORMAT, "%s: bad .npy header: %zu bytes long, too long", path,
                        hlen);

    char *hdr = malloc(hlen + 1);
    if (!hdr) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for the header", path);
    if ((st = read_some(src, hdr, hlen, &got, path, err))) {
        free(hdr);
        return st;
    }
    if (got < hlen) {
        free(hdr);
        return ntk_fail(err, NTK_E_FORMAT, "%s: truncated: expected a header of %zu bytes, found %zu",
                        path, hlen, got);
    }
    npy_header hd = {0};
    st = parse_header(hdr, hlen, path, &hd, err);
    free(hdr);
    if (st) return st;

    npy_dtype t;
    char sb[4 * sizeof hd.descr];
    if (parse_dtype(hd.descr, &t))
        return ntk_fail(err, NTK_E_FORMAT,
                        "%s: unsupported dtype '%s' (need float32, float64 or an integer type)",
                        path, ntk_shown(hd.descr, strlen(hd.descr), sizeof hd.descr - 1, sb));
    char shape[128];
    format_shape(&hd, shape, sizeof shape);
    if (hd.ndim == 0)
        return ntk_fail(err, NTK_E_FORMAT, "%s: 0-D array (a scalar); expected a 1-D or 2-D array",
                        path);
    if (hd.ndim > 2)
        return ntk_fail(err, NTK_E_FORMAT, "%s: %d-D array of shape %s; expected a 1-D or 2-D array",
                        path, hd.ndim, shape);
    size_t rows = hd.shape[0], cols = hd.ndim == 2 ? hd.shape[1] : 1, nbytes, dbytes;
    if (rows == 0 || cols == 0)
        return ntk_fail(err, NTK_E_FORMAT, "%s: array of shape %s is empty", path, shape);
    if (ntk_mul_size(rows, cols, sizeof(double), &dbytes))
        return ntk_fail(err, NTK_E_FORMAT, "%s: array of shape %s is too large", path, shape);
    nbytes = dbytes / sizeof(double) * t.size;

    /* A short buffer or regular file is reported before allocating what it
     * claims. */
    size_t have;
    if (bytes_left(src, &have) && have < nbytes)
        return ntk_fail(err, NTK_E_FORMAT, "%s: truncated: expected %zu bytes of data, found %zu",
                        path, nbytes, have);

    /* rows first .. first + keep − 1: C order (and any 1-D or single-row or
     * single-column array) skips to them and reads only them; a 2-D
     * Fortran-order array is read whole, transposed, then cut */
    if (first >= rows) return ntk_io_rows_error(err, path, rows, first);
    size_t keep = max_rows && max_rows < rows - first ? max_rows : rows - first;
    int fortran2 = hd.fortran && rows > 1 && cols > 1;
    if (!fortran2 && (first || keep < rows)) {
        if ((st = skip_bytes(src, first * cols * t.size, path, err))) return st;
        rows = keep;
        dbytes = rows * cols * sizeof(double);
        nbytes = rows * cols * t.size;
        first = 0;
    }
    size_t n = rows * cols;
    double *data = malloc(dbytes);
    if (!data)
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for an array of shape %s", path, shape);
    unsigned char *raw = (unsigned char *)data + n * (sizeof(double) - t.size);
    if ((st = read_some(src, raw, nbytes, &got, path, err))) {
        free(data);
        return st;
    }
    if (got < nbytes) {
        free(data);
        return ntk_fail(err, NTK_E_FORMAT, "%s: truncated: expected %zu bytes of data, found %zu",
                        path, nbytes, got);
    }
    if (!(t.kind == DT_FLOAT && t.size == 8 && t.big == host_is_big()))
        widen(data, raw, n, &t);

    if (hd.fortran && rows > 1 && cols > 1) {
        double *c = malloc(dbytes);
        if (!c) {
            free(data);
            return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for an array of shape %s", path,
                            shape);
        }
        for (size_t j = 0; j < cols; j++)
            for (size_t i = 0; i < rows; i++) c[i * cols + j] = data[j * rows + i];
        free(data);
        data = c;
        if (first || keep < rows) {
            memmove(data, data + first * cols, keep * cols * sizeof *data);
            double *d2 = realloc(data, keep * cols * sizeof *data);
            if (d2) data = d2; /* a failed shrink keeps the larger block */
            rows = keep;
        }
    }
    out->data = data;
    out->rows = rows;
    out->cols = cols;
    out->ndim = hd.ndim;
    return NTK_OK;
}

ntk_status ntk_npy_read(const char *path, ntk_matrix *out, ntk_error *err)
{
    return ntk_npy_read_rows(path, 0, 0, out, err);
}

ntk_status ntk_npy_read_rows(const char *path, size_t first, size_t max_rows, ntk_matrix *out, ntk_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ntk_io_errno(err, path, "cannot open", errno);
    npy_src src = {f, NULL, 0, 0};
    ntk_status st = npy_read_src(&src, path, first, max_rows, out, err);
    fclose(f);
    return st;
}

ntk_status ntk_npy_parse_mem(const char *label, const unsigned char *buf, size_t n,
                             ntk_matrix *out, ntk_error *err)
{
    out->data = NULL;
    out->rows = out->cols = 0;
    out->ndim = 0;
    npy_src src = {NULL, buf, n, 0};
    return npy_read_src(&src, label, 0, 0, out, err);
}

/* ------------------------------------------------------------ writing */

int ntk_host_is_big_endian(void) { return host_is_big(); }

size_t ntk_npy_header(unsigned char *head, size_t rows, size_t cols, int ndim)
{
    /* Byte for byte what numpy.save writes for a float64 C-order array: the
     * dict with sorted keys, then spaces and '\n' so that the data starts at
     * a multiple of 64 (numpy pads a whole 64 when already aligned). numpy
     * also reserves up to 21 spaces for growing the first axis, but for a
     * 1-D or 2-D dict those never cross a 64-byte boundary, so they only
     * move spaces around and need no code here. */
    char *h = (char *)head;
    size_t pre = NPY_MAGIC_LEN + 2 + 2;
    int len = ndim == 1
        ? snprintf(h + pre, NTK_NPY_HEADER_MAX - pre,
                   "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", rows)
        : snprintf(h + pre, NTK_NPY_HEADER_MAX - pre,
                   "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    if (len < 0 || (size_t)len + 1 + NPY_ALIGN > NTK_NPY_HEADER_MAX - pre) return 0;
    size_t dict = (size_t)len;
    size_t pad = NPY_ALIGN - (pre + dict + 1) % NPY_ALIGN;
    size_t hlen = dict + pad + 1;
    memcpy(h, NPY_MAGIC "\x01\x00", NPY_MAGIC_LEN + 2);
    h[8] = (char)(hlen & 0xff);
    h[9] = (char)(hlen >> 8);
    memset(h + pre + dict, ' ', pad);
    h[pre + hlen - 1] = '\n';
    return pre + hlen;
}

ntk_status ntk_npy_write(FILE *f, const char *path, const double *data, size_t rows,
                         size_t cols, int ndim, ntk_error *err)
{
    unsigned char head[NTK_NPY_HEADER_MAX];
    size_t hl = ntk_npy_header(head, rows, cols, ndim);
    if (!hl) return ntk_fail(err, NTK_E_INTERNAL, "%s: .npy header does not fit", path);
    errno = 0;
    if (fwrite(head, 1, hl, f) != hl)
        return ntk_io_errno(err, path, "write failed", errno);

    size_t n = rows * cols; /* the caller checked it for overflow */
    if (!host_is_big()) {
        errno = 0;
        if (n && fwrite(data, sizeof(double), n, f) != n)
            return ntk_io_errno(err, path, "write failed", errno);
        return NTK_OK;
    }
    unsigned char buf[8 * 512];
    for (size_t k = 0; k < n;) {
        size_t m = n - k < 512 ? n - k : 512;
        for (size_t i = 0; i < m; i++) {
            uint64_t b;
            memcpy(&b, &data[k + i], 8);
            for (int j = 0; j < 8; j++) buf[8 * i + (size_t)j] = (unsigned char)(b >> (8 * j));
        }
        errno = 0;
        if (fwrite(buf, 8, m, f) != m) return ntk_io_errno(err, path, "write failed", errno);
        k += m;
    }
    return NTK_OK;
}
