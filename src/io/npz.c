/*
 * npz.c — NumPy .npz archives: zip files whose members are .npy arrays
 * ("<name>.npy") or, for us, raw bytes ("arch.txt").
 *
 * The zip format (PKWARE APPNOTE.TXT 6.3.x, little-endian throughout): per
 * member a local header (30 bytes, name, extra field) and the data; then
 * the central directory (46 bytes, name, extra, comment per member) and the
 * end-of-central-directory record (22 bytes and a comment of up to 64 KiB).
 * zip64 adds an extra field (tag 0x0001) with 64-bit sizes and offsets and
 * a zip64 end record found through a 20-byte locator before the end record.
 *
 * Writing reproduces np.savez byte for byte (numpy 1.26, Python 3.11
 * zipfile), at every size: numpy opens every member with force_zip64=True,
 * so each local header says "version 4.5", has 0xffffffff in its size
 * fields and a 20-byte zip64 extra with the real sizes; the central
 * directory has version 4.5 made by Unix, mode 0600, the date 1980-01-01
 * 00:00 (a ZipInfo's default), and plain 32-bit sizes and offsets — except
 * where zipfile's rule needs zip64: a member of more than ZIP64_LIMIT =
 * 2^31 − 1 bytes gets both sizes, a member starting past it its offset, in
 * a zip64 extra (tag 1) of the central directory, with 0xffffffff in the
 * 32-bit fields; more than 65535 members, or a central directory starting
 * or ending past 2^31 − 1, adds a zip64 end record and its locator before
 * the end record (whose fields then saturate). Members are stored (method
 * 0). npz_write_limits lowers those limits, as tests of zipfile do, so a
 * small archive carries every zip64 record.
 *
 * A member added by reference (ntk_npz_add_array_ref) holds only its .npy
 * header; its data is streamed from the caller's array when the archive is
 * written (a 6 GB model is not copied), its CRC-32 computed on the way and
 * written back into the local header.
 *
 * Reading trusts the central directory (sizes, CRC, offsets: that is what
 * zipfile does, and local sizes may be 0xffffffff or deferred to a data
 * descriptor) and uses a local header only to find where the data starts,
 * after checking that its name matches. Every offset and size is checked
 * against the file and the central directory before anything is read or
 * allocated; a deflate member may not claim more than deflate's maximum
 * expansion of its compressed size. Names are kept as names (".." and "/"
 * included) and never touch the file system.
 *
 * Reading is lazy past a size: opening checks the directory and every local
 * header, and reads (inflates, CRC-checks) only the members of up to
 * EAGER_MAX bytes, EAGER_TOTAL in all; the others stay in the file, which
 * stays open (a descriptor read with pread: no shared cursor, so the reads
 * of a const archive may run in parallel), until a get asks for one. A
 * stored '<f8' C-order array whose .npy header is byte for byte np.save's
 * is then read straight into the matrix returned, its CRC-32 computed chunk
 * by chunk as it comes in: a 6 GB model is loaded into its own arrays, not
 * into a copy first. Anything else is read whole and parsed as before. A
 * file rewritten in place after the open is caught by its size and mtime
 * (fstat before each lazy read) or by the CRC; one renamed over the path
 * is never seen (the descriptor holds the file that was opened).
 *
 * Members are found by name through an open-addressing hash table (FNV-1a,
 * linear probing, at most half full), for gets and for the duplicate check
 * of the builder and the reader: 66 000 members are added in milliseconds.
 */
#include "io/io_internal.h"
#include "ntk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define ZLIB_CONST
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

#define LOCAL_LEN 30
#define CENTRAL_LEN 46
#define END_LEN 22
#define END64_LEN 56
#define LOCATOR64_LEN 20
#define MAX_COMMENT 65535
#define ZIP64_TAG 0x0001
#define ZIP64_LOCAL_EXTRA 20  /* tag, size, then the two sizes as u64 */
#define ZIP_VERSION 45        /* 4.5: zip64, what zipfile writes with force_zip64 */
#define ZIP_MADE_BY (3u << 8 | ZIP_VERSION) /* Unix */
#define ZIP_DATE ((0u << 9) | (1u << 5) | 1u) /* 1980-01-01 (DOS date) */
#define ZIP_MODE (0600u << 16) /* external attributes: Unix mode 0600 */
#define ZIP_FLAG_UTF8 0x0800u
#define ZIP_LIMIT 0xffffffffu /* a 32-bit field with this value means "see zip64" */
#define ZIP_MAX_MEMBERS 65535u
/* deflate's best ratio is 1032:1 (258-byte matches at a couple of bits
 * each), so a deflate member may not claim more than that times its
 * compressed size: reading allocates at most that times the file size. */
#define DEFLATE_MAX_RATIO 1032u
#define ZCHUNK (1u << 30) /* zlib counts in uInt: feed it at most 1 GiB at a time */
#define SHOWN_MAX 100
/* Members of up to EAGER_MAX bytes are read when the archive is opened,
 * while their total stays within EAGER_TOTAL (archive order): metadata and
 * small arrays are checked up front and never read from the file again;
 * larger members are read when asked for. */
#define EAGER_MAX ((uint64_t)1 << 20)
#define EAGER_TOTAL ((uint64_t)1 << 26)
#define READ_CHUNK ((size_t)1 << 22) /* bytes per pread of a lazy read: CRC'd while in cache */

typedef struct {
    char *name;          /* NUL-terminated (a name never holds a NUL) */
    unsigned char *data; /* size bytes: the member, or a reference's .npy header;
                            NULL while lazy                                       */
    size_t size;
    int is_ref;          /* added by ntk_npz_add_array_ref:                       */
    const double *ref;   /* nref doubles after the header (not owned)             */
    size_t nref, rows, cols;
    int ndim;
    uint32_t crc;        /* of the whole member (a reference: of its header; the
                            rest is found on writing; lazy: as recorded)          */
    int lazy;            /* read from a file and left there:                      */
    unsigned method;     /*   0 stored, 8 deflate                                 */
    uint64_t off, csize; /*   where its data starts, and its size in the file     */
} npz_member;

/* The member's size in the archive. */
static uint64_t member_size(const npz_member *m) { return (uint64_t)m->size + 8 * (uint64_t)m->nref; }

struct ntk_npz {
    char *label; /* the path it was read from, for messages */
    npz_member *m;
    size_t n, cap;
    size_t *slot; /* hash table of nslot (a power of 2, >= 2n) entries:  */
    size_t nslot; /* 1 + a member's index, or 0 for an empty slot        */
    int fd;       /* the file of the lazy members (-1: none)             */
    struct stat st; /* its fstat at the open, to notice a rewrite        */
};

/* ------------------------------------------------------------ helpers */

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static unsigned char *put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}
static unsigned char *put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}
static unsigned char *put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n < ZCHUNK ? (uInt)n : ZCHUNK;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* A member name as messages show it: control characters and quotes as
 * \xNN (a message stays one line), cut with "..." past SHOWN_MAX bytes. */
static const char *shown(const char *name, size_t len, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (k + 8 > SHOWN_MAX) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
            buf[k++] = '\\';
            buf[k++] = 'x';
            buf[k++] = hex[c >> 4];
            buf[k++] = hex[c & 15];
        } else {
            buf[k++] = (char)c;
        }
    }
    buf[k] = '\0';
    return buf;
}

static char *dup_str(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static ntk_status npz_new(ntk_npz **out, const char *label, ntk_error *err)
{
    ntk_npz *z = calloc(1, sizeof *z);
    if (z) z->label = dup_str(label, strlen(label));
    if (!z || !z->label) {
        free(z);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", label);
    }
    z->fd = -1;
    *out = z;
    return NTK_OK;
}

void ntk_npz_free(ntk_npz *z)
{
    if (!z) return;
    for (size_t i = 0; i < z->n; i++) {
        free(z->m[i].name);
        free(z->m[i].data);
    }
    free(z->m);
    free(z->slot);
    if (z->fd >= 0) close(z->fd);
    free(z->label);
    free(z);
}

ntk_status ntk_npz_create(ntk_npz **out, ntk_error *err)
{
    if (!out) return ntk_fail(err, NTK_E_INVAL, "ntk_npz_create: out must not be NULL");
    *out = NULL;
    return npz_new(out, "(new archive)", err);
}

size_t ntk_npz_count(const ntk_npz *z) { return z ? z->n : 0; }

const char *ntk_npz_member_name(const ntk_npz *z, size_t i)
{
    return z && i < z->n ? z->m[i].name : NULL;
}

/* The bytes member i can hold: its size, but for a deflated member still in
 * the file at most 1032 times its compressed size (deflate's largest
 * ratio), so that a claimed size alone cannot vouch for data. */
size_t ntk_npz_member_size(const ntk_npz *z, size_t i)
{
    if (!z || i >= z->n) return 0;
    const npz_member *m = &z->m[i];
    uint64_t n = member_size(m);
    if (m->lazy && m->method != 0 && m->csize < UINT64_MAX / 1032 && n > 1032 * m->csize) n = 1032 * m->csize;
    return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

/* ------------------------------------------------------------ lookup */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return h;
}

/* The slot of `name` in the table, or the empty slot where it would go. */
static size_t slot_of(const ntk_npz *z, const char *name)
{
    size_t mask = z->nslot - 1, i = (size_t)name_hash(name) & mask;
    while (z->slot[i] && strcmp(z->m[z->slot[i] - 1].name, name)) i = (i + 1) & mask;
    return i;
}

static const npz_member *find(const ntk_npz *z, const char *name)
{
    if (!z->nslot) return NULL;
    size_t k = z->slot[slot_of(z, name)];
    return k ? &z->m[k - 1] : NULL;
}

/* Makes the table room for n members (at most half full), moving the
 * entries it has; -1 when out of memory (the table is unchanged). */
static int hash_reserve(ntk_npz *z, size_t n)
{
    if (n <= z->nslot / 2) return 0;
    if (n > SIZE_MAX / 4 / sizeof *z->slot) return -1;
    size_t ns = z->nslot ? z->nslot : 16, nold = z->nslot;
    while (ns / 2 < n) ns *= 2;
    size_t *slot = calloc(ns, sizeof *slot), *old = z->slot;
    if (!slot) return -1;
    z->slot = slot;
    z->nslot = ns;
    for (size_t k = 0; k < nold; k++)
        if (old[k]) z->slot[slot_of(z, z->m[old[k] - 1].name)] = old[k];
    free(old);
    return 0;
}

/* ------------------------------------------------------------ building */

/* Takes ownership of `data` (malloc'd, or NULL when n == 0) on success and
 * on failure alike. */
static ntk_status add_member(ntk_npz *z, const char *name, unsigned char *data, size_t n,
                             ntk_error *err)
{
    char sb[SHOWN_MAX + 1];
    size_t len = strlen(name);
    ntk_status st = NTK_OK;
    if (len == 0)
        st = ntk_fail(err, NTK_E_INVAL, "%s: a member name must not be empty", z->label);
    else if (len > 65535)
        st = ntk_fail(err, NTK_E_INVAL, "%s: member name '%s' is %zu bytes long (at most 65535)",
                      z->label, shown(name, len, sb), len);
    else if (find(z, name))
        st = ntk_fail(err, NTK_E_INVAL, "%s: member '%s' is already in the archive", z->label,
                      shown(name, len, sb));
    if (st == NTK_OK && hash_reserve(z, z->n + 1))
        st = ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", z->label);
    if (st == NTK_OK && z->n == z->cap) {
        size_t cap = z->cap ? 2 * z->cap : 8, bytes;
        npz_member *m = ntk_mul_size(cap, 1, sizeof *m, &bytes) ? NULL : realloc(z->m, bytes);
        if (!m)
            st = ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", z->label);
        else {
            z->m = m;
            z->cap = cap;
        }
    }
    char *copy = st == NTK_OK ? dup_str(name, len) : NULL;
    if (st == NTK_OK && !copy) st = ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", z->label);
    if (st != NTK_OK) {
        free(data);
        return st;
    }
    z->slot[slot_of(z, copy)] = z->n + 1;
    npz_member *m = &z->m[z->n++];
    memset(m, 0, sizeof *m);
    m->name = copy;
    m->data = data;
    m->size = n;
    m->crc = crc_of(data, n);
    return NTK_OK;
}

ntk_status ntk_npz_add_bytes(ntk_npz *z, const char *member, const void *data, size_t n,
                             ntk_error *err)
{
    if (!z || !member)
        return ntk_fail(err, NTK_E_INVAL, "ntk_npz_add_bytes: archive and member must not be NULL");
    char sb[SHOWN_MAX + 1];
    if (!data && n)
        return ntk_fail(err, NTK_E_INVAL, "%s: member '%s': data must not be NULL", z->label,
                        shown(member, strlen(member), sb));
    unsigned char *copy = NULL;
    if (n) {
        copy = malloc(n);
        if (!copy)
            return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for %zu bytes", z->label, n);
        memcpy(copy, data, n);
    }
    return add_member(z, member, copy, n, err);
}

ntk_status ntk_npz_add_array(ntk_npz *z, const char *name, const double *data, size_t rows,
                             size_t cols, int ndim, ntk_error *err)
{
    if (!z || !name)
        return ntk_fail(err, NTK_E_INVAL, "ntk_npz_add_array: archive and name must not be NULL");
    size_t len = strlen(name);
    char *member = malloc(len + 5);
    if (!member) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", z->label);
    memcpy(member, name, len);
    memcpy(member + len, ".npy", 5);

    /* the label reads like the message of a later read: "archive: member 'W.npy'" */
    char label[NTK_ERRMSG_MAX], sb[SHOWN_MAX + 1];
    snprintf(label, sizeof label, "%s: member '%s'", z->label, shown(member, len + 4, sb));
    ntk_status st = NTK_OK;
    size_t bytes;
    if (len == 0)
        st = ntk_fail(err, NTK_E_INVAL, "%s: an array name must not be empty", z->label);
    else if (ndim != 1 && ndim != 2)
        st = ntk_fail(err, NTK_E_INVAL, "%s: ndim must be 1 or 2, not %d", label, ndim);
    else if (ndim == 1 && cols != 1)
        st = ntk_fail(err, NTK_E_INVAL, "%s: a 1-D array has 1 column, not %zu", label, cols);
    else if (ntk_mul_size(rows, cols, sizeof(double), &bytes))
        st = ntk_fail(err, NTK_E_INVAL, "%s: a %zu x %zu matrix is too large", label, rows, cols);
    else if (!data && bytes)
        st = ntk_fail(err, NTK_E_INVAL, "%s: data must not be NULL", label);
    if (st != NTK_OK) {
        free(member);
        return st;
    }

    /* The .npy bytes, by the writer of ntk_io_write (np.save's bytes). */
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) {
        free(member);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", label);
    }
    st = ntk_npy_write(f, label, data, rows, cols, ndim, err);
    if (fclose(f) != 0 && st == NTK_OK)
        st = ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for %zu bytes", label, bytes);
    if (st == NTK_OK) st = add_member(z, member, (unsigned char *)buf, n, err);
    else free(buf);
    free(member);
    return st;
}

ntk_status ntk_npz_add_array_ref(ntk_npz *z, const char *name, const double *data, size_t rows,
                                 size_t cols, int ndim, ntk_error *err)
{
    if (!z || !name)
        return ntk_fail(err, NTK_E_INVAL, "ntk_npz_add_array_ref: archive and name must not be NULL");
    size_t len = strlen(name);
    char *member = malloc(len + 5);
    if (!member) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", z->label);
    memcpy(member, name, len);
    memcpy(member + len, ".npy", 5);
    char sb[SHOWN_MAX + 1];
    ntk_status st = NTK_OK;
    size_t bytes;
    if (len == 0)
        st = ntk_fail(err, NTK_E_INVAL, "%s: an array name must not be empty", z->label);
    else if (ndim != 1 && ndim != 2)
        st = ntk_fail(err, NTK_E_INVAL, "%s: member '%s': ndim must be 1 or 2, not %d", z->label,
                      shown(member, len + 4, sb), ndim);
    else if (ndim == 1 && cols != 1)
        st = ntk_fail(err, NTK_E_INVAL, "%s: member '%s': a 1-D array has 1 column, not %zu", z->label,
                      shown(member, len + 4, sb), cols);
    else if (ntk_mul_size(rows, cols, sizeof(double), &bytes))
        st = ntk_fail(err, NTK_E_INVAL, "%s: member '%s': a %zu x %zu matrix is too large", z->label,
                      shown(member, len + 4, sb), rows, cols);
    else if (!data && bytes)
        st = ntk_fail(err, NTK_E_INVAL, "%s: member '%s': data must not be NULL", z->label,
                      shown(member, len + 4, sb));
    unsigned char *head = NULL;
    size_t hlen = 0;
    if (st == NTK_OK) {
        head = malloc(NTK_NPY_HEADER_MAX);
        if (!head) st = ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", z->label);
        else if (!(hlen = ntk_npy_header(head, rows, cols, ndim)))
            st = ntk_fail(err, NTK_E_INTERNAL, "%s: .npy header does not fit", z->label);
    }
    if (st == NTK_OK) st = add_member(z, member, head, hlen, err); /* takes head */
    else free(head);
    free(member);
    if (st) return st;
    npz_member *m = &z->m[z->n - 1];
    m->is_ref = 1;
    m->ref = data;
    m->nref = rows * cols;
    m->rows = rows;
    m->cols = cols;
    m->ndim = ndim;
    return NTK_OK;
}

/* ------------------------------------------------------------ writing */

static size_t local_len(const npz_member *m)
{
    return LOCAL_LEN + strlen(m->name) + ZIP64_LOCAL_EXTRA;
}

static unsigned flags_of(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p >= 0x80) return ZIP_FLAG_UTF8; /* zipfile: a name that is not ASCII is UTF-8 */
    return 0;
}

static ntk_status put(FILE *f, const char *path, const void *p, size_t n, ntk_error *err)
{
    errno = 0;
    if (n && fwrite(p, 1, n, f) != n) return ntk_io_errno(err, path, "write failed", errno);
    return NTK_OK;
}

/* What a write needs besides the archive: zipfile's limits (the largest
 * size or offset, and member count, written without zip64) and, per
 * member, its CRC and offset as written. */
typedef struct {
    const ntk_npz *z;
    uint64_t limit, count_limit;
    uint32_t *crc;
    uint64_t *off;
} npz_emit;

#define STREAM_CHUNK ((size_t)1 << 23) /* doubles per fwrite of a reference (64 MiB) */

/* A reference's data, little-endian, with its CRC (crc: of the header). */
static ntk_status put_ref(FILE *f, const char *path, const npz_member *m, uint32_t *crc, ntk_error *err)
{
    uLong c = *crc;
    unsigned char buf[8 * 512];
    const int big = ntk_host_is_big_endian();
    for (size_t k = 0; k < m->nref;) {
        size_t n = m->nref - k < STREAM_CHUNK ? m->nref - k : STREAM_CHUNK;
        const unsigned char *p = (const unsigned char *)(m->ref + k);
        if (big) { /* swap through a small buffer */
            n = n < 512 ? n : 512;
            for (size_t i = 0; i < n; i++) {
                uint64_t b;
                memcpy(&b, &m->ref[k + i], 8);
                put64(buf + 8 * i, b);
            }
            p = buf;
        }
        c = crc32(c, p, (uInt)(8 * n)); /* 8·2^23 < 2^32 */
        ntk_status st = put(f, path, p, 8 * n, err);
        if (st) return st;
        k += n;
    }
    *crc = (uint32_t)c;
    return NTK_OK;
}

static ntk_status put_lazy(FILE *f, const char *path, const ntk_npz *z, const npz_member *m, ntk_error *err);

/* Local header, name, zip64 extra and data of member i at offset off. */
static ntk_status emit_member(FILE *f, const char *path, const npz_emit *e, size_t i, uint64_t off,
                              ntk_error *err)
{
    const npz_member *m = &e->z->m[i];
    size_t nl = strlen(m->name);
    uint64_t size = member_size(m);
    unsigned char h[LOCAL_LEN + ZIP64_LOCAL_EXTRA], *p = h;
    p = put32(p, SIG_LOCAL);
    p = put16(p, ZIP_VERSION);
    p = put16(p, flags_of(m->name));
    p = put16(p, 0); /* stored */
    p = put16(p, 0); /* 00:00 */
    p = put16(p, ZIP_DATE);
    p = put32(p, m->crc); /* a reference's is completed and written back below */
    p = put32(p, ZIP_LIMIT); /* sizes: in the zip64 extra */
    p = put32(p, ZIP_LIMIT);
    p = put16(p, (unsigned)nl);
    p = put16(p, ZIP64_LOCAL_EXTRA);
    ntk_status st;
    if ((st = put(f, path, h, LOCAL_LEN, err)) || (st = put(f, path, m->name, nl, err))) return st;
    p = h;
    p = put16(p, ZIP64_TAG);
    p = put16(p, 16);
    p = put64(p, size); /* uncompressed, then compressed */
    p = put64(p, size);
    if ((st = put(f, path, h, ZIP64_LOCAL_EXTRA, err)) ||
        (st = m->lazy ? put_lazy(f, path, e->z, m, err) : put(f, path, m->data, m->size, err)))
        return st;
    e->crc[i] = m->crc;
    if (!m->nref) return NTK_OK; /* complete: no data after the header */
    if ((st = put_ref(f, path, m, &e->crc[i], err))) return st;
    /* the CRC into the local header, then back to the end */
    uint64_t end = off + local_len(m) + size;
    unsigned char c4[4];
    put32(c4, e->crc[i]);
    errno = 0;
    if (off + 14 > (uint64_t)INT64_MAX || end > (uint64_t)INT64_MAX || fseeko(f, (off_t)(off + 14), SEEK_SET) != 0 ||
        fwrite(c4, 1, 4, f) != 4 || fseeko(f, (off_t)end, SEEK_SET) != 0)
        return ntk_io_errno(err, path, "write failed", errno);
    return NTK_OK;
}

/* One central directory entry (zipfile's _write_end_record). */
static ntk_status emit_central(FILE *f, const char *path, const npz_emit *e, size_t i, uint64_t *cd_size,
                               ntk_error *err)
{
    const npz_member *m = &e->z->m[i];
    size_t nl = strlen(m->name);
    uint64_t size = member_size(m), off = e->off[i], x[3];
    unsigned nx = 0;
    uint32_t size32 = (uint32_t)size, off32 = (uint32_t)off;
    if (size > e->limit) {
        x[nx++] = size;
        x[nx++] = size;
        size32 = ZIP_LIMIT;
    }
    if (off > e->limit) {
        x[nx++] = off;
        off32 = ZIP_LIMIT;
    }
    unsigned char h[CENTRAL_LEN + 4 + 24], *p = h;
    p = put32(p, SIG_CENTRAL);
    p = put16(p, ZIP_MADE_BY);
    p = put16(p, ZIP_VERSION);
    p = put16(p, flags_of(m->name));
    p = put16(p, 0);
    p = put16(p, 0);
    p = put16(p, ZIP_DATE);
    p = put32(p, e->crc[i]);
    p = put32(p, size32);
    p = put32(p, size32);
    p = put16(p, (unsigned)nl);
    p = put16(p, nx ? 4 + 8 * nx : 0); /* extra */
    p = put16(p, 0); /* comment */
    p = put16(p, 0); /* disk */
    p = put16(p, 0); /* internal attributes */
    p = put32(p, ZIP_MODE);
    p = put32(p, off32);
    ntk_status st;
    if ((st = put(f, path, h, CENTRAL_LEN, err)) || (st = put(f, path, m->name, nl, err))) return st;
    *cd_size += CENTRAL_LEN + nl;
    if (!nx) return NTK_OK;
    p = h;
    p = put16(p, ZIP64_TAG);
    p = put16(p, 8 * nx);
    for (unsigned k = 0; k < nx; k++) p = put64(p, x[k]);
    *cd_size += 4 + 8 * nx;
    return put(f, path, h, 4 + 8 * nx, err);
}

static ntk_status emit_npz(FILE *f, const char *path, const void *ctx, ntk_error *err)
{
    const npz_emit *e = ctx;
    const ntk_npz *z = e->z;
    ntk_status st;
    uint64_t off = 0;
    for (size_t i = 0; i < z->n; i++) {
        e->off[i] = off;
        if ((st = emit_member(f, path, e, i, off, err))) return st;
        off += local_len(&z->m[i]) + member_size(&z->m[i]);
    }
    uint64_t cd_off = off, cd_size = 0, count = z->n;
    for (size_t i = 0; i < z->n; i++)
        if ((st = emit_central(f, path, e, i, &cd_size, err))) return st;
    unsigned char h[END64_LEN], *p;
    if (count > e->count_limit || cd_off > e->limit || cd_size > e->limit) {
        p = h; /* zip64 end record, then its locator */
        p = put32(p, SIG_END64);
        p = put64(p, END64_LEN - 12); /* the size of the rest of the record */
        p = put16(p, ZIP_VERSION);
        p = put16(p, ZIP_VERSION);
        p = put32(p, 0); /* this disk */
        p = put32(p, 0); /* the directory's disk */
        p = put64(p, count);
        p = put64(p, count);
        p = put64(p, cd_size);
        p = put64(p, cd_off);
        if ((st = put(f, path, h, END64_LEN, err))) return st;
        p = h;
        p = put32(p, SIG_LOCATOR64);
        p = put32(p, 0);
        p = put64(p, cd_off + cd_size); /* where the zip64 end record is */
        p = put32(p, 1); /* disks */
        if ((st = put(f, path, h, LOCATOR64_LEN, err))) return st;
        if (count > 0xffff) count = 0xffff;
        if (cd_size > ZIP_LIMIT) cd_size = ZIP_LIMIT;
        if (cd_off > ZIP_LIMIT) cd_off = ZIP_LIMIT;
    }
    p = h;
    p = put32(p, SIG_END);
    p = put16(p, 0);
    p = put16(p, 0);
    p = put16(p, (unsigned)count);
    p = put16(p, (unsigned)count);
    p = put32(p, (uint32_t)cd_size);
    p = put32(p, (uint32_t)cd_off);
    p = put16(p, 0); /* comment */
    return put(f, path, h, END_LEN, err);
}

/* Writes z to `path` in the set o (NULL: a set of its own) with zipfile's
 * limits `limit` (sizes and offsets) and `count_limit` (members). */
static ntk_status write_npz(ntk_outputs *o, const ntk_npz *z, const char *path, uint64_t limit,
                            uint64_t count_limit, ntk_error *err)
{
    if (!z || !path) {
        ntk_outputs_fail(o);
        return ntk_fail(err, NTK_E_INVAL, "ntk_npz_write: archive and path must not be NULL");
    }
    npz_emit e = {z, limit, count_limit, malloc((z->n ? z->n : 1) * sizeof *e.crc),
                  malloc((z->n ? z->n : 1) * sizeof *e.off)};
    ntk_status st;
    if (!e.crc || !e.off) {
        ntk_outputs_fail(o);
        st = ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
    } else {
        st = o ? ntk_outputs_write(o, path, emit_npz, &e, err) : ntk_io_write_atomic(path, emit_npz, &e, err);
    }
    free(e.crc);
    free(e.off);
    return st;
}

#define ZIPFILE_LIMIT ((uint64_t)0x7fffffff) /* zipfile.ZIP64_LIMIT */

ntk_status ntk_npz_write(const ntk_npz *z, const char *path, ntk_error *err)
{
    return write_npz(NULL, z, path, ZIPFILE_LIMIT, ZIP_MAX_MEMBERS, err);
}

ntk_status ntk_outputs_write_npz(ntk_outputs *o, const ntk_npz *z, const char *path, ntk_error *err)
{
    if (!o) return ntk_fail(err, NTK_E_INVAL, "ntk_outputs_write_npz: the set must not be NULL");
    return write_npz(o, z, path, ZIPFILE_LIMIT, ZIP_MAX_MEMBERS, err);
}

ntk_status ntk_npz_write_limits(const ntk_npz *z, const char *path, uint64_t limit, uint64_t count_limit,
                                ntk_error *err)
{
    return write_npz(NULL, z, path, limit, count_limit, err);
}

/* ------------------------------------------------------------ reading */

typedef struct {
    int fd;
    const char *path;
    uint64_t size; /* of the file */
    ntk_error *err;
    const struct stat *opened; /* a lazy read: the file as it was opened (NULL: opening) */
} zreader;

/* n bytes at offset off, which the caller checked lie inside the file (a
 * short read means the file shrank meanwhile: truncated). pread: no file
 * position is shared, so a const archive can be read by several threads. */
static ntk_status read_at(const zreader *r, uint64_t off, void *buf, size_t n)
{
    if (n > (uint64_t)INT64_MAX || off > (uint64_t)INT64_MAX - n)
        return ntk_io_errno(r->err, r->path, "cannot seek", EOVERFLOW);
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < ZCHUNK ? n - got : ZCHUNK; /* Linux reads < 2 GiB a call */
        ssize_t k = pread(r->fd, (unsigned char *)buf + got, want, (off_t)(off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return ntk_io_errno(r->err, r->path, "read error", errno);
        if (k == 0) break;
        got += (size_t)k;
    }
    if (got < n)
        return ntk_fail(r->err, NTK_E_FORMAT,
                        "%s: truncated: expected %zu bytes at offset %llu, found %zu", r->path, n,
                        (unsigned long long)off, got);
    return NTK_OK;
}

/* read_at in chunks of READ_CHUNK, each added to the CRC-32 *crc while it
 * is still in cache: one pass over memory instead of a read then a CRC. */
static ntk_status read_crc(const zreader *r, uint64_t off, unsigned char *buf, size_t n, uLong *crc)
{
    for (size_t k = 0; k < n;) {
        size_t c = n - k < READ_CHUNK ? n - k : READ_CHUNK;
        ntk_status st = read_at(r, off + k, buf + k, c);
        if (st) return st;
        *crc = crc32(*crc, buf + k, (uInt)c);
        k += c;
    }
    return NTK_OK;
}

/* One entry of the central directory. */
typedef struct {
    const char *name; /* in the directory buffer, not NUL-terminated */
    size_t name_len;
    unsigned flags, method;
    uint32_t crc;
    uint64_t csize, usize, off;
} zentry;

#define ZFAIL(...) ntk_fail(r->err, NTK_E_FORMAT, __VA_ARGS__)

/* Parses the entry at dir[*pos] (dir has n bytes) and advances *pos. */
static ntk_status parse_entry(const zreader *r, const unsigned char *dir, size_t n, size_t *pos,
                              size_t index, zentry *e)
{
    const unsigned char *h = dir + *pos;
    size_t left = n - *pos;
    char sb[SHOWN_MAX + 1];
    if (left < CENTRAL_LEN || rd32(h) != SIG_CENTRAL)
        return ZFAIL("%s: bad central directory: entry %zu %s", r->path, index + 1,
                     left < CENTRAL_LEN ? "runs past its end" : "has a bad signature");
    size_t nl = rd16(h + 28), el = rd16(h + 30), cl = rd16(h + 32);
    if (CENTRAL_LEN + nl + el + cl > left)
        return ZFAIL("%s: bad central directory: entry %zu runs past its end", r->path, index + 1);
    e->name = (const char *)h + CENTRAL_LEN;
    e->name_len = nl;
    const char *nm = shown(e->name, nl, sb);
    if (memchr(e->name, '\0', nl))
        return ZFAIL("%s: member '%s': the name holds a NUL byte", r->path, nm);
    e->flags = rd16(h + 8);
    e->method = rd16(h + 10);
    e->crc = rd32(h + 16);
    e->csize = rd32(h + 20);
    e->usize = rd32(h + 24);
    e->off = rd32(h + 42);
    uint64_t disk = rd16(h + 34);

    /* zip64: the fields that hold 0xffffffff (0xffff for the disk) follow,
     * in this order, in the extra field of tag 1 */
    const unsigned char *x = h + CENTRAL_LEN + nl, *xend = x + el;
    int zip64 = 0;
    while (xend - x >= 4) {
        unsigned tag = rd16(x), len = rd16(x + 2);
        if ((size_t)(xend - x - 4) < len)
            return ZFAIL("%s: member '%s': bad extra field (tag 0x%04x, %u bytes, past its end)",
                         r->path, nm, tag, len);
        if (tag == ZIP64_TAG && !zip64) {
            zip64 = 1;
            const unsigned char *q = x + 4, *qend = q + len;
            uint64_t *f64[3] = {&e->usize, &e->csize, &e->off};
            for (int k = 0; k < 3; k++) {
                if (*f64[k] != ZIP_LIMIT) continue;
                if (qend - q < 8)
                    return ZFAIL("%s: member '%s': zip64 extra field too short", r->path, nm);
                *f64[k] = rd64(q);
                q += 8;
            }
            if (disk == 0xffff) {
                if (qend - q < 4)
                    return ZFAIL("%s: member '%s': zip64 extra field too short", r->path, nm);
                disk = rd32(q);
            }
        }
        x += 4 + len;
    }
    if (!zip64 && (e->usize == ZIP_LIMIT || e->csize == ZIP_LIMIT || e->off == ZIP_LIMIT))
        return ZFAIL("%s: member '%s': a size or offset is 0xffffffff but the zip64 extra field "
                     "is missing", r->path, nm);
    if (e->flags & 0x41)
        return ZFAIL("%s: member '%s' is encrypted; encrypted archives are not supported", r->path,
                     nm);
    if (e->method != 0 && e->method != 8)
        return ZFAIL("%s: member '%s': compression method %u is not supported (only stored and "
                     "deflate, as np.savez and np.savez_compressed write)",
                     r->path, nm, e->method);
    if (disk != 0)
        return ZFAIL("%s: member '%s' starts on disk %llu; multi-volume archives are not "
                     "supported", r->path, nm, (unsigned long long)disk);
    *pos += CENTRAL_LEN + nl + el + cl;
    return NTK_OK;
}

/* inflates the raw deflate stream in[0..nin) into exactly nout bytes. */
static ntk_status inflate_all(const zreader *r, const char *nm, const unsigned char *in, size_t nin,
                              unsigned char *out, size_t nout)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK)
        return ntk_fail(r->err, NTK_E_NOMEM, "%s: member '%s': out of memory for inflate", r->path,
                        nm);
    size_t ip = 0, op = 0;
    ntk_status st = NTK_OK;
    for (;;) {
        size_t ci = nin - ip < ZCHUNK ? nin - ip : ZCHUNK;
        size_t co = nout - op < ZCHUNK ? nout - op : ZCHUNK;
        s.next_in = in + ip;
        s.avail_in = (uInt)ci;
        s.next_out = out + op;
        s.avail_out = (uInt)co;
        int rc = inflate(&s, Z_NO_FLUSH);
        ip += ci - s.avail_in;
        op += co - s.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_OK) continue; /* progress was made */
        if (rc == Z_BUF_ERROR && op == nout)
            st = ZFAIL("%s: member '%s': inflates to more than the %zu bytes the central "
                       "directory says", r->path, nm, nout);
        else if (rc == Z_BUF_ERROR)
            st = ZFAIL("%s: member '%s': truncated: the deflate stream ends after %zu of %zu "
                       "bytes", r->path, nm, op, nout);
        else if (rc == Z_MEM_ERROR)
            st = ntk_fail(r->err, NTK_E_NOMEM, "%s: member '%s': out of memory for inflate",
                          r->path, nm);
        else
            st = ZFAIL("%s: member '%s': bad deflate data (zlib: %s)", r->path, nm,
                       s.msg ? s.msg : "error");
        break;
    }
    inflateEnd(&s);
    if (st == NTK_OK && op != nout)
        st = ZFAIL("%s: member '%s': inflates to %zu bytes, but the central directory says %zu",
                   r->path, nm, op, nout);
    return st;
}

/* The local header h (hn bytes read at e->off: LOCAL_LEN, and the name
 * after it where that fits before the directory at dir_off): its signature,
 * that its data lies before the directory, and that it names e. */
static ntk_status check_local(const zreader *r, const zentry *e, uint64_t dir_off, const char *nm,
                              const unsigned char *h, size_t hn, uint64_t *data_at)
{
    if (rd32(h) != SIG_LOCAL)
        return ZFAIL("%s: member '%s': bad local header signature at offset %llu", r->path, nm,
                     (unsigned long long)e->off);
    size_t nl = rd16(h + 26), el = rd16(h + 28);
    uint64_t data_off = e->off + LOCAL_LEN + nl + el;
    if (data_off > dir_off || e->csize > dir_off - data_off)
        return ZFAIL("%s: member '%s': its data (%llu bytes at offset %llu) runs into the central "
                     "directory at %llu",
                     r->path, nm, (unsigned long long)e->csize, (unsigned long long)data_off,
                     (unsigned long long)dir_off);
    /* data_off <= dir_off with nl == name_len: the name was read whole */
    if (nl != e->name_len || hn < LOCAL_LEN + nl || memcmp(h + LOCAL_LEN, e->name, nl))
        return ZFAIL("%s: member '%s': the local header holds another name", r->path, nm);
    *data_at = data_off;
    return NTK_OK;
}

/* Checks entry e's local header (signature, name) and where its data lies
 * (before the central directory, which starts at dir_off), and its sizes;
 * m becomes a lazy member that knows where its data is. Nothing of the
 * data is read. */
static ntk_status locate_member(const zreader *r, const zentry *e, uint64_t dir_off, npz_member *m)
{
    char sb[SHOWN_MAX + 1];
    const char *nm = shown(e->name, e->name_len, sb);
    ntk_status st;
    if (e->off > dir_off || dir_off - e->off < LOCAL_LEN)
        return ZFAIL("%s: member '%s': bad offset %llu (the central directory starts at %llu)",
                     r->path, nm, (unsigned long long)e->off, (unsigned long long)dir_off);
    /* the header and the name it should hold, in one read where they fit
     * before the directory (66 000 members: one system call each) */
    size_t hn = dir_off - e->off < LOCAL_LEN + e->name_len ? LOCAL_LEN : LOCAL_LEN + e->name_len;
    unsigned char *h = malloc(hn);
    if (!h) return ntk_fail(r->err, NTK_E_NOMEM, "%s: out of memory", r->path);
    st = read_at(r, e->off, h, hn);
    uint64_t data_off = 0;
    if (st == NTK_OK) st = check_local(r, e, dir_off, nm, h, hn, &data_off);
    free(h);
    if (st) return st;

    if (e->method == 0 && e->csize != e->usize)
        return ZFAIL("%s: member '%s': stored, but its sizes differ (%llu and %llu bytes)", r->path,
                     nm, (unsigned long long)e->csize, (unsigned long long)e->usize);
    if (e->method == 8 && e->usize / DEFLATE_MAX_RATIO > e->csize)
        return ZFAIL("%s: member '%s': %llu bytes cannot inflate to %llu", r->path, nm,
                     (unsigned long long)e->csize, (unsigned long long)e->usize);
    if (e->usize >= SIZE_MAX || e->csize >= SIZE_MAX)
        return ntk_fail(r->err, NTK_E_NOMEM, "%s: member '%s' is too large", r->path, nm);
    char *name = dup_str(e->name, e->name_len);
    if (!name) return ntk_fail(r->err, NTK_E_NOMEM, "%s: out of memory", r->path);
    m->name = name;
    m->size = (size_t)e->usize;
    m->crc = e->crc;
    m->lazy = 1;
    m->method = e->method;
    m->off = data_off;
    m->csize = e->csize;
    return NTK_OK;
}

/* A member left in the file is read only from the file as it was opened:
 * the same size and modification time (fstat of the open descriptor; a
 * rename over the path does not touch it, a rewrite in place does). */
static ntk_status unchanged(const zreader *r, const char *nm)
{
    struct stat sb;
    if (fstat(r->fd, &sb) != 0) return ntk_io_errno(r->err, r->path, "cannot stat", errno);
    const struct stat *a = r->opened;
    if (sb.st_size != a->st_size)
        return ntk_fail(r->err, NTK_E_IO,
                        "%s: member '%s': the file changed after the archive was opened (%lld bytes "
                        "then, %lld now): open it again",
                        r->path, nm, (long long)a->st_size, (long long)sb.st_size);
    if (sb.st_mtim.tv_sec != a->st_mtim.tv_sec || sb.st_mtim.tv_nsec != a->st_mtim.tv_nsec)
        return ntk_fail(r->err, NTK_E_IO,
                        "%s: member '%s': the file changed after the archive was opened (it was "
                        "modified since): open it again",
                        r->path, nm);
    return NTK_OK;
}

/* A lazy read that failed (st: short, bad deflate data): when the file
 * changed meanwhile, that is what the message says. */
static ntk_status lazy_error(const zreader *r, const char *nm, ntk_status st)
{
    ntk_status c = st && r->opened ? unchanged(r, nm) : NTK_OK;
    return c ? c : st;
}

/* A CRC-32 that is not the one recorded: a file rewritten meanwhile says
 * so, else the data is corrupt. */
static ntk_status crc_fail(const zreader *r, const char *nm, uint32_t got, uint32_t want)
{
    return lazy_error(r, nm, ZFAIL("%s: member '%s': CRC-32 mismatch (computed %08x, recorded %08x): the data is "
                                   "corrupt", r->path, nm, (unsigned)got, (unsigned)want));
}

/* The m->size bytes of lazy member m into out: read (and inflated), and
 * checked against the CRC-32 the central directory records. */
static ntk_status read_member(const zreader *r, const npz_member *m, unsigned char *out)
{
    char sb[SHOWN_MAX + 1];
    const char *nm = shown(m->name, strlen(m->name), sb);
    ntk_status st = r->opened ? unchanged(r, nm) : NTK_OK;
    if (st) return st;
    uLong crc = crc32(0L, Z_NULL, 0);
    if (m->method == 0) {
        st = read_crc(r, m->off, out, m->size, &crc);
    } else {
        size_t csize = (size_t)m->csize;
        unsigned char *in = malloc(csize ? csize : 1);
        if (!in)
            return ntk_fail(r->err, NTK_E_NOMEM, "%s: member '%s': out of memory for %zu bytes",
                            r->path, nm, csize);
        if (!(st = read_at(r, m->off, in, csize))) st = inflate_all(r, nm, in, csize, out, m->size);
        free(in);
        if (!st) crc = crc_of(out, m->size);
    }
    if (st) return lazy_error(r, nm, st);
    return (uint32_t)crc == m->crc ? NTK_OK : crc_fail(r, nm, (uint32_t)crc, m->crc);
}

/* Reads lazy member m into memory (it is lazy no more). */
static ntk_status load_member(const zreader *r, npz_member *m)
{
    unsigned char *data = malloc(m->size ? m->size : 1);
    if (!data) {
        char sb[SHOWN_MAX + 1];
        return ntk_fail(r->err, NTK_E_NOMEM, "%s: member '%s': out of memory for %zu bytes", r->path,
                        shown(m->name, strlen(m->name), sb), m->size);
    }
    ntk_status st = read_member(r, m, data);
    if (st) {
        free(data);
        return st;
    }
    m->data = data;
    m->lazy = 0;
    return NTK_OK;
}

/* The end record: finds it in the last 64 KiB + 22 bytes and reads where
 * the central directory is (through the zip64 end record when there is
 * one). *end_off is where the (zip64) end record starts. */
static ntk_status find_directory(const zreader *r, uint64_t *count, uint64_t *dir_off,
                                 uint64_t *dir_size, uint64_t *end_off)
{
    size_t tail = r->size < END_LEN + MAX_COMMENT ? (size_t)r->size : END_LEN + MAX_COMMENT;
    unsigned char *buf = malloc(tail);
    if (!buf) return ntk_fail(r->err, NTK_E_NOMEM, "%s: out of memory", r->path);
    uint64_t base = r->size - tail;
    ntk_status st = read_at(r, base, buf, tail);
    if (st) {
        free(buf);
        return st;
    }
    size_t i = tail - END_LEN + 1;
    while (i-- > 0)
        if (rd32(buf + i) == SIG_END && i + END_LEN + rd16(buf + i + 20) <= tail) break;
    if (i == SIZE_MAX) {
        unsigned char head[6] = {0};
        int npy = read_at(r, 0, head, sizeof head) == NTK_OK && !memcmp(head, "\x93NUMPY", 6);
        int zip = !npy && !memcmp(head, "PK\x03\x04", 4);
        free(buf);
        if (npy) return ZFAIL("%s: not an .npz archive: it is a single .npy array", r->path);
        return ZFAIL(zip ? "%s: truncated or damaged zip archive: no end-of-central-directory "
                           "record"
                         : "%s: not an .npz (zip) archive: no end-of-central-directory record",
                     r->path);
    }
    const unsigned char *e = buf + i;
    uint64_t pos = base + i;
    unsigned disk = rd16(e + 4), dir_disk = rd16(e + 6);
    uint64_t n_disk = rd16(e + 8);
    *count = rd16(e + 10);
    *dir_size = rd32(e + 12);
    *dir_off = rd32(e + 16);
    *end_off = pos;

    /* a zip64 locator right before the end record points at the zip64 end */
    unsigned char loc[LOCATOR64_LEN], e64[END64_LEN];
    if (pos >= LOCATOR64_LEN) {
        if (i >= LOCATOR64_LEN)
            memcpy(loc, e - LOCATOR64_LEN, LOCATOR64_LEN);
        else if ((st = read_at(r, pos - LOCATOR64_LEN, loc, LOCATOR64_LEN))) {
            free(buf);
            return st;
        }
        if (rd32(loc) == SIG_LOCATOR64) {
            uint64_t off64 = rd64(loc + 8);
            if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1) {
                free(buf);
                return ZFAIL("%s: multi-volume archives are not supported", r->path);
            }
            if (off64 > pos - LOCATOR64_LEN || pos - LOCATOR64_LEN - off64 < END64_LEN) {
                free(buf);
                return ZFAIL("%s: bad zip64 end record offset %llu", r->path,
                             (unsigned long long)off64);
            }
            if ((st = read_at(r, off64, e64, END64_LEN))) {
                free(buf);
                return st;
            }
            if (rd32(e64) != SIG_END64) {
                free(buf);
                return ZFAIL("%s: bad zip64 end record signature at offset %llu", r->path,
                             (unsigned long long)off64);
            }
            disk = rd32(e64 + 16);
            dir_disk = rd32(e64 + 20);
            n_disk = rd64(e64 + 24);
            *count = rd64(e64 + 32);
            *dir_size = rd64(e64 + 40);
            *dir_off = rd64(e64 + 48);
            *end_off = off64;
        }
    }
    free(buf);
    if (disk != 0 || dir_disk != 0 || n_disk != *count)
        return ZFAIL("%s: multi-volume archives are not supported", r->path);
    if (*dir_off > *end_off || *dir_size > *end_off - *dir_off)
        return ZFAIL("%s: bad central directory: %llu bytes at offset %llu run past the end record "
                     "at %llu",
                     r->path, (unsigned long long)*dir_size, (unsigned long long)*dir_off,
                     (unsigned long long)*end_off);
    if (*count > *dir_size / CENTRAL_LEN)
        return ZFAIL("%s: bad central directory: %llu entries cannot fit in %llu bytes", r->path,
                     (unsigned long long)*count, (unsigned long long)*dir_size);
    return NTK_OK;
}

/* The directory and local headers of the archive into z, and the members
 * of up to eager_max bytes while their total stays within eager_total (in
 * archive order); the others are left lazy. */
static ntk_status read_archive(zreader *r, ntk_npz *z, uint64_t eager_max, uint64_t eager_total)
{
    off_t end = lseek(r->fd, 0, SEEK_END);
    if (end < 0) return ntk_io_errno(r->err, r->path, "cannot seek (an .npz must be a regular file)", errno);
    r->size = (uint64_t)end;
    if (r->size == 0) return ZFAIL("%s: not an .npz archive (the file is empty)", r->path);
    if (r->size < END_LEN)
        return ZFAIL("%s: not an .npz archive: %llu bytes are too few for a zip file", r->path,
                     (unsigned long long)r->size);

    uint64_t count = 0, dir_off = 0, dir_size = 0, end_off = 0;
    ntk_status st = find_directory(r, &count, &dir_off, &dir_size, &end_off);
    if (st) return st;
    /* dir_size <= the file size, count <= dir_size / 46: both fit memory
     * if the file does */
    if (dir_size >= SIZE_MAX)
        return ntk_fail(r->err, NTK_E_NOMEM, "%s: the central directory is too large", r->path);
    unsigned char *dir = malloc(dir_size ? (size_t)dir_size : 1);
    z->m = calloc(count ? (size_t)count : 1, sizeof *z->m);
    if (!dir || !z->m) {
        free(dir);
        return ntk_fail(r->err, NTK_E_NOMEM, "%s: out of memory for the central directory",
                        r->path);
    }
    z->cap = count ? (size_t)count : 1;
    if ((st = read_at(r, dir_off, dir, (size_t)dir_size))) {
        free(dir);
        return st;
    }
    size_t pos = 0;
    uint64_t eager = 0;
    for (size_t i = 0; i < count && st == NTK_OK; i++) {
        zentry e = {0};
        if ((st = parse_entry(r, dir, (size_t)dir_size, &pos, i, &e)) ||
            (st = locate_member(r, &e, dir_off, &z->m[z->n])))
            break;
        npz_member *m = &z->m[z->n++];
        if (m->size <= eager_max && m->size <= eager_total - eager) {
            eager += m->size;
            st = load_member(r, m);
        }
    }
    if (st == NTK_OK && dir_size - pos >= 4 && rd32(dir + pos) == SIG_CENTRAL)
        st = ZFAIL("%s: bad end record: it counts %llu members, the central directory holds more",
                   r->path, (unsigned long long)count);
    free(dir);
    if (st) return st;

    /* the lookup table; duplicate names would make a lookup ambiguous */
    if (hash_reserve(z, z->n)) return ntk_fail(r->err, NTK_E_NOMEM, "%s: out of memory", r->path);
    for (size_t i = 0; i < z->n; i++) {
        size_t k = slot_of(z, z->m[i].name);
        if (z->slot[k]) {
            char sb[SHOWN_MAX + 1];
            return ZFAIL("%s: member '%s' appears twice in the archive", r->path,
                         shown(z->m[i].name, strlen(z->m[i].name), sb));
        }
        z->slot[k] = i + 1;
    }
    return NTK_OK;
}

#undef ZFAIL

ntk_status ntk_npz_read_limits(const char *path, uint64_t eager_max, uint64_t eager_total, ntk_npz **out,
                               ntk_error *err)
{
    if (out) *out = NULL;
    if (!path || !out)
        return ntk_fail(err, NTK_E_INVAL, "ntk_npz_read: path and out must not be NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ntk_io_errno(err, path, "cannot open", errno);
    ntk_npz *z = NULL;
    ntk_status st = npz_new(&z, path, err);
    if (st == NTK_OK && fstat(fd, &z->st) != 0) st = ntk_io_errno(err, path, "cannot stat", errno);
    if (st == NTK_OK) {
        zreader r = {fd, path, 0, err, NULL};
        st = read_archive(&r, z, eager_max, eager_total);
    }
    int lazy = 0;
    for (size_t i = 0; st == NTK_OK && i < z->n && !lazy; i++) lazy = z->m[i].lazy;
    if (lazy) z->fd = fd; /* kept until ntk_npz_free */
    else close(fd);
    if (st != NTK_OK) {
        ntk_npz_free(z);
        return st;
    }
    *out = z;
    return NTK_OK;
}

ntk_status ntk_npz_read(const char *path, ntk_npz **out, ntk_error *err)
{
    return ntk_npz_read_limits(path, EAGER_MAX, EAGER_TOTAL, out, err);
}

/* For the writer: lazy member m of z streamed from its file to f, checked
 * against its CRC-32 on the way (a damaged or rewritten member is not
 * copied into a new archive). Read errors name z's file, write errors path. */
static ntk_status put_lazy(FILE *f, const char *path, const ntk_npz *z, const npz_member *m, ntk_error *err)
{
    zreader r = {z->fd, z->label, 0, err, &z->st};
    char sb[SHOWN_MAX + 1];
    const char *nm = shown(m->name, strlen(m->name), sb);
    size_t n = m->method == 0 && m->size > READ_CHUNK ? READ_CHUNK : m->size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf)
        return ntk_fail(err, NTK_E_NOMEM, "%s: member '%s': out of memory for %zu bytes", z->label, nm, n);
    ntk_status st = NTK_OK;
    if (m->method != 0) { /* inflated whole (np.savez_compressed's members), stored from now on */
        if (!(st = read_member(&r, m, buf))) st = put(f, path, buf, m->size, err);
    } else if (!(st = unchanged(&r, nm))) {
        uLong crc = crc32(0L, Z_NULL, 0);
        for (size_t k = 0; k < m->size && st == NTK_OK; k += n) {
            size_t c = m->size - k < n ? m->size - k : n;
            if ((st = read_crc(&r, m->off + k, buf, c, &crc))) st = lazy_error(&r, nm, st);
            else st = put(f, path, buf, c, err);
        }
        if (st == NTK_OK && (uint32_t)crc != m->crc) st = crc_fail(&r, nm, (uint32_t)crc, m->crc);
    }
    free(buf);
    return st;
}

/* ------------------------------------------------------------ members */

static int ends_with_npy(const char *s)
{
    size_t n = strlen(s);
    return n >= 4 && !strcmp(s + n - 4, ".npy");
}

/* *out: the member of array `name` ("<name>.npy", or `name` itself when it
 * ends in ".npy"); absent, the error says which arrays there are. */
static ntk_status find_array(const ntk_npz *z, const char *name, const npz_member **out, ntk_error *err)
{
    size_t len = strlen(name);
    char *member = malloc(len + 5);
    if (!member) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", z->label);
    memcpy(member, name, len);
    memcpy(member + len, ".npy", 5);
    const npz_member *m = find(z, member);
    if (!m && ends_with_npy(name)) m = find(z, name);
    free(member);
    if ((*out = m)) return NTK_OK;

    /* say what is there: "(arrays: a, b, ...)" */
    char sb[SHOWN_MAX + 1], list[256], ab[SHOWN_MAX + 1];
    size_t k = 0, shown_n = 0, total = 0;
    list[0] = '\0';
    for (size_t i = 0; i < z->n; i++) {
        const char *nm = z->m[i].name;
        if (!ends_with_npy(nm)) continue;
        total++;
        const char *a = shown(nm, strlen(nm) - 4, ab);
        if (k + strlen(a) + 8 >= sizeof list) continue;
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", k ? ", " : "", a);
        shown_n++;
    }
    if (shown_n < total) snprintf(list + k, sizeof list - k, ", ...");
    return ntk_fail(err, NTK_E_FORMAT, "%s: no array '%s' in the archive (%s%s)", z->label, shown(name, len, sb),
                    total ? "arrays: " : "it has no arrays", total ? list : "");
}

/* The .npy header np.save writes for a '<f8' C-order 1-D or 2-D array,
 * recognised by writing that header again (ntk_npy_header) for the shape
 * it states and comparing bytes, so that no spelling of the dict numpy
 * would also accept slips through: p holds the first n bytes of the
 * member. Returns the header length and the shape, or 0 for anything else
 * (another dtype, order, version or layout: the .npy parser's business). */
static size_t npy_canonical(const unsigned char *p, size_t n, size_t *rows, size_t *cols, int *ndim)
{
    static const char dict[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (";
    const size_t at = 10, dl = sizeof dict - 1;
    char text[NTK_NPY_HEADER_MAX + 1];
    if (n > NTK_NPY_HEADER_MAX) n = NTK_NPY_HEADER_MAX;
    if (n < at + dl || memcmp(p + at, dict, dl)) return 0;
    memcpy(text, p, n);
    text[n] = '\0';
    char *e;
    unsigned long long r = strtoull(text + at + dl, &e, 10), c = 1;
    if (e[0] == ',' && e[1] == ')') {
        *ndim = 1;
    } else if (e[0] == ',' && e[1] == ' ') {
        c = strtoull(e + 2, &e, 10);
        if (*e != ')') return 0;
        *ndim = 2;
    } else {
        return 0;
    }
    unsigned char want[NTK_NPY_HEADER_MAX];
    size_t wl = r <= SIZE_MAX && c <= SIZE_MAX ? ntk_npy_header(want, (size_t)r, (size_t)c, *ndim) : 0;
    if (!wl || wl > n || memcmp(want, p, wl)) return 0;
    *rows = (size_t)r;
    *cols = (size_t)c;
    return wl;
}

/* Delivers the array t (malloc'd) as get_array_to promises: into buf when
 * it has nbuf elements, else only its shape; or as it is (buf NULL). */
static void deliver(ntk_matrix *t, double *buf, size_t nbuf, ntk_matrix *out)
{
    *out = *t;
    if (!buf) return;
    out->data = t->rows * t->cols == nbuf ? buf : NULL;
    if (out->data) memcpy(buf, t->data, nbuf * sizeof *buf);
    ntk_matrix_free(t);
}

/* Lazy stored member m holding np.save's '<f8' C-order bytes: read straight
 * into buf (when the shape has nbuf elements) or a new matrix (buf NULL),
 * the CRC-32 computed on the way. Returns NTK_OK with *done = 0 when the
 * member is not such an array (nothing delivered). */
static ntk_status get_stored_f8(const ntk_npz *z, const npz_member *m, double *buf, size_t nbuf, ntk_matrix *out,
                                int *done, ntk_error *err)
{
    zreader r = {z->fd, z->label, 0, err, &z->st};
    char sb[SHOWN_MAX + 1];
    const char *nm = shown(m->name, strlen(m->name), sb);
    unsigned char head[NTK_NPY_HEADER_MAX];
    size_t n = m->size < sizeof head ? m->size : sizeof head, rows = 0, cols = 0, bytes;
    int ndim = 0;
    ntk_status st;
    *done = 0;
    if ((st = unchanged(&r, nm))) return st;
    if ((st = read_at(&r, m->off, head, n))) return lazy_error(&r, nm, st);
    size_t hl = npy_canonical(head, n, &rows, &cols, &ndim);
    /* an empty array, or one with bytes missing or after it, is left to
     * the parser, which says what is wrong or ignores what follows */
    if (!hl || !rows || !cols || ntk_mul_size(rows, cols, sizeof(double), &bytes) || m->size - hl != bytes)
        return NTK_OK;
    *done = 1;
    out->rows = rows;
    out->cols = cols;
    out->ndim = ndim;
    if (buf && rows * cols != nbuf) return NTK_OK; /* the shape is the caller's error */
    double *data = buf ? buf : malloc(bytes);
    if (!data) {
        *done = 0;
        return ntk_fail(err, NTK_E_NOMEM, "%s: member '%s': out of memory for an array of %zu x %zu", z->label,
                        nm, rows, cols);
    }
    uLong crc = crc32(crc32(0L, Z_NULL, 0), head, (uInt)hl);
    if ((st = read_crc(&r, m->off + hl, (unsigned char *)data, bytes, &crc)))
        st = lazy_error(&r, nm, st);
    else if ((uint32_t)crc != m->crc)
        st = crc_fail(&r, nm, (uint32_t)crc, m->crc);
    if (st) {
        if (!buf) free(data);
        *done = 0;
        return st;
    }
    if (ntk_host_is_big_endian()) /* the file is little-endian */
        for (size_t i = 0; i < rows * cols; i++) {
            unsigned char *q = (unsigned char *)&data[i];
            for (int j = 0; j < 4; j++) {
                unsigned char t = q[j];
                q[j] = q[7 - j];
                q[7 - j] = t;
            }
        }
    out->data = data;
    return NTK_OK;
}

/* ntk_npz_get_array (buf NULL) and ntk_npz_get_array_to. */
static ntk_status get_array_to(const ntk_npz *z, const char *name, double *buf, size_t nbuf, ntk_matrix *out,
                               ntk_error *err)
{
    const npz_member *m;
    ntk_matrix t = {0};
    ntk_status st = find_array(z, name, &m, err);
    if (st) return st;
    if (m->is_ref) { /* the caller's array, copied */
        out->rows = m->rows;
        out->cols = m->cols;
        out->ndim = m->ndim;
        if (buf) {
            if (m->nref == nbuf) memcpy(out->data = buf, m->ref, nbuf * sizeof *buf);
            return NTK_OK;
        }
        if ((st = ntk_matrix_alloc(&t, m->rows, m->cols, err))) return st;
        if (m->nref) memcpy(t.data, m->ref, m->nref * sizeof *m->ref);
        t.ndim = m->ndim;
        deliver(&t, NULL, 0, out);
        return NTK_OK;
    }
    if (m->lazy && m->method == 0) {
        int done;
        if ((st = get_stored_f8(z, m, buf, nbuf, out, &done, err)) || done) return st;
    }
    char label[NTK_ERRMSG_MAX], sb[SHOWN_MAX + 1];
    snprintf(label, sizeof label, "%s: member '%s'", z->label, shown(m->name, strlen(m->name), sb));
    unsigned char *bytes = m->data;
    if (m->lazy) { /* read whole, then parsed as a member in memory */
        zreader r = {z->fd, z->label, 0, err, &z->st};
        bytes = malloc(m->size ? m->size : 1);
        if (!bytes)
            return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for %zu bytes", label, m->size);
        if ((st = read_member(&r, m, bytes))) {
            free(bytes);
            return st;
        }
    }
    st = ntk_npy_parse_mem(label, bytes, m->size, &t, err);
    if (bytes != m->data) free(bytes);
    if (st == NTK_OK) deliver(&t, buf, nbuf, out);
    return st;
}

static void clear_matrix(ntk_matrix *out)
{
    out->data = NULL;
    out->rows = out->cols = 0;
    out->ndim = 0;
}

ntk_status ntk_npz_get_array(const ntk_npz *z, const char *name, ntk_matrix *out, ntk_error *err)
{
    if (out) clear_matrix(out);
    if (!z || !name || !out)
        return ntk_fail(err, NTK_E_INVAL,
                        "ntk_npz_get_array: archive, name and out must not be NULL");
    ntk_status st = get_array_to(z, name, NULL, 0, out, err);
    if (st) clear_matrix(out);
    return st;
}

ntk_status ntk_npz_get_array_to(const ntk_npz *z, const char *name, double *buf, size_t n, ntk_matrix *out,
                                ntk_error *err)
{
    if (out) clear_matrix(out);
    if (!z || !name || !buf || !out)
        return ntk_fail(err, NTK_E_INVAL, "ntk_npz_get_array_to: archive, name, buf and out must not be NULL");
    ntk_status st = get_array_to(z, name, buf, n, out, err);
    if (st) clear_matrix(out);
    return st;
}

int ntk_npz_has(const ntk_npz *z, const char *member) { return z && member && find(z, member); }

ntk_status ntk_npz_get_bytes(const ntk_npz *z, const char *member, char **data, size_t *n,
                             ntk_error *err)
{
    if (data) *data = NULL;
    if (n) *n = 0;
    if (!z || !member || !data || !n)
        return ntk_fail(err, NTK_E_INVAL,
                        "ntk_npz_get_bytes: archive, member, data and n must not be NULL");
    const npz_member *m = find(z, member);
    char sb[SHOWN_MAX + 1];
    if (!m)
        return ntk_fail(err, NTK_E_FORMAT, "%s: no member '%s' in the archive", z->label,
                        shown(member, strlen(member), sb));
    uint64_t total = member_size(m);
    char *copy = total < SIZE_MAX ? malloc((size_t)total + 1) : NULL;
    if (!copy)
        return ntk_fail(err, NTK_E_NOMEM, "%s: member '%s': out of memory for %llu bytes", z->label,
                        shown(m->name, strlen(m->name), sb), (unsigned long long)total);
    if (m->lazy) {
        zreader r = {z->fd, z->label, 0, err, &z->st};
        ntk_status st = read_member(&r, m, (unsigned char *)copy);
        if (st) {
            free(copy);
            return st;
        }
    } else if (m->size) {
        memcpy(copy, m->data, m->size);
    }
    for (size_t i = 0; i < m->nref; i++) { /* a reference: little-endian doubles */
        uint64_t b;
        memcpy(&b, &m->ref[i], 8);
        put64((unsigned char *)copy + m->size + 8 * i, b);
    }
    copy[total] = '\0';
    *data = copy;
    *n = (size_t)total;
    return NTK_OK;
}
