/*
 * fuzz_common.c — the shared helpers of the fuzz harnesses (fuzz_common.h).
 */
#include "fuzz_common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FZ_MAX_NAMES 32

/* The scratch folder and the paths handed out (process-wide by nature:
 * libFuzzer calls the harness from one thread). */
static char fz_dir[4096];
static char *fz_names[FZ_MAX_NAMES];
static size_t fz_count;

static void fz_cleanup(void)
{
    for (size_t i = 0; i < fz_count; i++) {
        unlink(fz_names[i]);
        free(fz_names[i]);
    }
    fz_count = 0;
    if (fz_dir[0]) rmdir(fz_dir);
}

const char *fz_path(const char *name)
{
    if (!fz_dir[0]) {
        /* memory (tmpfs) where there is one: on ext4, replacing a file's
         * data (O_TRUNC, rename over it) flushes it to disk, and the
         * harnesses do that on every input */
        const char *t = getenv("NTK_FUZZ_TMPDIR");
        if (!t || !*t) t = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/ntk-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fz_dir)) {
            fprintf(stderr, "fuzz: cannot make a scratch folder %s: %s\n", fz_dir, strerror(errno));
            abort();
        }
        atexit(fz_cleanup);
    }
    size_t dl = strlen(fz_dir), nl = strlen(name);
    for (size_t i = 0; i < fz_count; i++)
        if (!strcmp(fz_names[i] + dl + 1, name)) return fz_names[i];
    if (fz_count == FZ_MAX_NAMES || strchr(name, '/')) {
        fprintf(stderr, "fuzz: fz_path('%s'): too many names or a '/'\n", name);
        abort();
    }
    char *p = malloc(dl + nl + 2);
    if (!p) abort();
    memcpy(p, fz_dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    fz_names[fz_count++] = p;
    return p;
}

void fz_write(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const unsigned char *p = data;
    while (fd >= 0 && n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        n -= (size_t)w;
    }
    if (fd < 0 || n || close(fd) != 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
}

unsigned char *fz_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0) {
        fprintf(stderr, "fuzz: cannot read %s: %s\n", path, strerror(errno));
        abort();
    }
    unsigned char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf || fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) abort();
    fclose(f);
    *n = (size_t)sb.st_size;
    return buf;
}

uint64_t fz_hash(const uint8_t *data, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

static int same_shape(const ntk_matrix *a, const ntk_matrix *b)
{
    return a->rows == b->rows && a->cols == b->cols && a->ndim == b->ndim;
}

int fz_same_matrix(const ntk_matrix *a, const ntk_matrix *b)
{
    return same_shape(a, b) && !memcmp(a->data, b->data, a->rows * a->cols * sizeof(double));
}

int fz_same_values(const ntk_matrix *a, const ntk_matrix *b)
{
    if (!same_shape(a, b)) return 0;
    for (size_t i = 0; i < a->rows * a->cols; i++) {
        double x = a->data[i], y = b->data[i];
        if (isnan(x) && isnan(y) && !signbit(x) == !signbit(y)) continue;
        if (memcmp(&x, &y, sizeof x)) return 0;
    }
    return 1;
}

int fz_one_line(const char *msg)
{
    if (!msg[0]) return 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return 0;
    return 1;
}

/* ------------------------------------------------------------ member lists */

static const uint8_t *find(const uint8_t *p, const uint8_t *end, const char *s)
{
    size_t k = strlen(s);
    for (; (size_t)(end - p) >= k; p++)
        if (!memcmp(p, s, k)) return p;
    return NULL;
}

int fz_members_to_npz(const uint8_t *data, size_t n, const char *path)
{
    if (n >= 2 && data[0] == 'P' && data[1] == 'K') {
        fz_write(path, data, n);
        return 0;
    }
    const uint8_t *end = data + n, *p;
    if (n >= 3 && !memcmp(data, "@@ ", 3)) p = data;
    else if ((p = find(data, end, "\n@@ "))) p++;
    ntk_npz *z = NULL;
    ntk_error err;
    if (ntk_npz_create(&z, &err)) abort();
    int rc = 0;
    while (p && rc == 0) {
        /* p is at "@@ NAME\n" */
        const uint8_t *name = p + 3, *nl = memchr(name, '\n', (size_t)(end - name));
        const uint8_t *body = nl ? nl + 1 : end, *next;
        if (nl && end - body >= 3 && !memcmp(body, "@@ ", 3))
            next = nl; /* an empty member: the marker's own newline ends it */
        else
            next = find(body, end, "\n@@ ");
        const uint8_t *bend = !next ? end : next < body ? body : next;
        size_t len = (size_t)((nl ? nl : end) - name);
        char *nm = malloc(len + 1);
        if (!nm) abort();
        memcpy(nm, name, len);
        nm[len] = '\0';
        /* a NUL cuts the name short: a name never holds one */
        ntk_status st = ntk_npz_add_bytes(z, nm, body, (size_t)(bend - body), &err);
        free(nm);
        if (st == NTK_E_INVAL) rc = -1;
        else if (st) abort();
        p = next ? next + 1 : NULL;
    }
    if (rc == 0) {
        ntk_status st = ntk_npz_write(z, path, &err);
        if (st == NTK_E_INVAL) rc = -1;
        else if (st) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            abort();
        }
    }
    ntk_npz_free(z);
    return rc;
}
