/*
 * outputs.c — output files that are never partial, never stranded, and
 * committed together (ntk_outputs in ntk.h; every writer of libntk and of
 * the `ntk` command goes through it, a single file being a set of one).
 *
 * Staging a file. On Linux the data goes into an anonymous file made by
 * open(dir, O_TMPFILE): it has no name until the commit, so a process that
 * is killed while writing (hours into a kernel, hundreds of MB) leaves
 * nothing behind — the kernel frees the inode with the last descriptor.
 * Where O_TMPFILE is not supported (an older kernel, some file systems, no
 * /proc to name the file through), the file is created under a temporary
 * name instead,
 *
 *     <name>.ntk-tmp.<pid>.<host>.<6 random letters or digits>
 *
 * beside the target, and the writer holds an flock() on it. Each later
 * write to the same target first removes such files whose writer is dead:
 * same host, no process with that pid (kill(pid, 0) fails with ESRCH), and
 * the lock free (a second check that also holds across pid namespaces).
 * A live writer's file, or one of another host (a shared file system), is
 * never touched.
 *
 * Committing a set: every file's data is flushed and fsync()ed; each
 * anonymous file is linked to a temporary name of the form above (linkat
 * through /proc/self/fd cannot replace an existing file, rename can); for
 * a set of several files, each existing target is hard-linked to a backup
 * name; then each temporary is rename()d over its target, and if one
 * rename fails, the earlier targets get their backups (or their absence)
 * back. Last, each directory is fsync()ed and the backups removed. A
 * failure at any step before leaves every target as it was. (A crash in
 * the middle of the renames — microseconds — can leave a set half
 * replaced; its backups are then removed like any stale temporary.)
 *
 * The mode of a replaced file is kept; a new file gets 0666 less the umask
 * (open() applies it), as with creat().
 */
#define _GNU_SOURCE /* O_TMPFILE, AT_EMPTY_PATH */
#include "io/io_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_TAG ".ntk-tmp."
#define RAND_LEN 6
#define HOST_MAX 64
#define NAME_TRIES 100

typedef struct {
    char *path;    /* the target                                        */
    char *dir;     /* its directory ("." for a bare name)                */
    char *tmp;     /* the temporary name (NULL while anonymous)          */
    char *backup;  /* a link to the old target during a commit, or NULL */
    int fd;        /* open until the commit or abort; holds the flock    */
    int anon;      /* O_TMPFILE: nameless until linked                   */
    FILE *f;       /* the stream of ntk_outputs_open, until closed       */
} staged;

struct ntk_outputs {
    staged *v;
    size_t n, cap;
    int failed;     /* a write failed: the set can only be aborted */
    int named_only; /* never O_TMPFILE (tests of the fallback)      */
};

/* ------------------------------------------------------------ names */

/* This host's name with '/' and control characters replaced (it goes into
 * a file name), at most HOST_MAX bytes; "localhost" if unknown. */
static void host_token(char *buf)
{
    if (gethostname(buf, HOST_MAX + 1) != 0 || !buf[0]) strcpy(buf, "localhost");
    buf[HOST_MAX] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f) *p = '_';
}

/* "<base>" cut so that "<base>.ntk-tmp.<pid>.<host>.XXXXXX" fits NAME_MAX;
 * the same cut for writing and for sweeping. */
static size_t base_len(const char *base, const char *host)
{
    size_t fixed = strlen(TMP_TAG) + 20 + 1 + strlen(host) + 1 + RAND_LEN;
    size_t n = strlen(base), max = NAME_MAX > fixed ? NAME_MAX - fixed : 0;
    return n < max ? n : max;
}

static void random_letters(char *out, size_t n, unsigned salt)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[RAND_LEN];
    if (getrandom(r, n, GRND_NONBLOCK) != (ssize_t)n) { /* no entropy yet: time, pid, salt */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15u ^ (uint64_t)getpid() << 20 ^ salt;
        for (size_t i = 0; i < n; i++, x >>= 6) r[i] = (unsigned char)x;
    }
    for (size_t i = 0; i < n; i++) out[i] = abc[r[i] % (sizeof abc - 1)];
    out[n] = '\0';
}

/* A fresh temporary name for `path` in `dir`: "<dir>/<base>.ntk-tmp.<pid>.<host>.<rand>". */
static char *tmp_name(const char *dir, const char *base, unsigned salt)
{
    char host[HOST_MAX + 1], rnd[RAND_LEN + 1];
    host_token(host);
    random_letters(rnd, RAND_LEN, salt);
    size_t bl = base_len(base, host);
    size_t n = strlen(dir) + 1 + bl + strlen(TMP_TAG) + 20 + strlen(host) + RAND_LEN + 4;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%.*s" TMP_TAG "%ld.%s.%s", dir, (int)bl, base, (long)getpid(), host, rnd);
    return s;
}

/* If `name` is a temporary of `prefix` ("<base>.ntk-tmp.") made on host
 * `host`, returns its pid, else 0. */
static long tmp_owner(const char *name, const char *prefix, const char *host)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0) return 0;
    const char *p = name + pl, *q = p;
    while (*q >= '0' && *q <= '9') q++;
    if (q == p || q - p > 18 || *q != '.') return 0;
    const char *last = strrchr(q, '.');
    if (last == q || strlen(last + 1) != RAND_LEN) return 0;
    if ((size_t)(last - (q + 1)) != strlen(host) || strncmp(q + 1, host, strlen(host)) != 0) return 0;
    return strtol(p, NULL, 10);
}

/* Removes the temporaries of `base` in `dir` that dead writers on this host
 * left behind (see the header). Best effort: errors are ignored. */
static void sweep_stale(const char *dir, const char *base)
{
    char host[HOST_MAX + 1];
    host_token(host);
    size_t bl = base_len(base, host);
    char *prefix = malloc(bl + sizeof TMP_TAG);
    if (!prefix) return;
    memcpy(prefix, base, bl);
    memcpy(prefix + bl, TMP_TAG, sizeof TMP_TAG);
    DIR *d = opendir(dir);
    if (!d) {
        free(prefix);
        return;
    }
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = tmp_owner(e->d_name, prefix, host);
        if (pid <= 0 || pid == (long)getpid() || pid > INT_MAX) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat sb;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
            (void)unlinkat(dfd, e->d_name, 0);
        close(fd); /* releases the lock */
    }
    closedir(d);
    free(prefix);
}

/* ------------------------------------------------------------ the set */

ntk_status ntk_outputs_create(ntk_outputs **out, ntk_error *err)
{
    if (!out) return ntk_fail(err, NTK_E_INVAL, "ntk_outputs_create: out must not be NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    return NTK_OK;
}

void ntk_outputs_fail(ntk_outputs *o)
{
    if (o) o->failed = 1;
}

void ntk_outputs_named_only(ntk_outputs *o)
{
    if (o) o->named_only = 1;
}

static void staged_free(staged *s)
{
    free(s->path);
    free(s->dir);
    free(s->tmp);
    free(s->backup);
}

/* Removes what a member left: its stream, its temporary name, its backup. */
static void staged_abort(staged *s)
{
    if (s->f) fclose(s->f);
    s->f = NULL;
    if (s->tmp) unlink(s->tmp);
    if (s->backup) unlink(s->backup);
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    staged_free(s);
}

void ntk_outputs_free(ntk_outputs *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) staged_abort(&o->v[i]);
    free(o->v);
    free(o);
}

/* Creates the temporary file of s (anonymous where possible). */
static ntk_status create_tmp(ntk_outputs *o, staged *s, const char *base, ntk_error *err)
{
    struct stat old;
    int have_old = stat(s->path, &old) == 0 && S_ISREG(old.st_mode);
    s->fd = -1;
    if (!o->named_only) {
        int fd = open(s->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
        if (fd >= 0) {
            /* it can be named only through /proc/self/fd (or by root) */
            char proc[32];
            struct stat a, b;
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
            if (fstat(fd, &a) == 0 && stat(proc, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
                s->fd = fd;
                s->anon = 1;
            } else {
                close(fd);
            }
        } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOSYS) {
            return ntk_io_errno(err, s->path, "cannot create a temporary file", errno);
        }
    }
    for (unsigned t = 0; s->fd < 0 && t < NAME_TRIES; t++) {
        free(s->tmp);
        if (!(s->tmp = tmp_name(s->dir, base, t))) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", s->path);
        s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (s->fd < 0 && errno != EEXIST) {
            ntk_status st = ntk_io_errno(err, s->path, "cannot create a temporary file", errno);
            free(s->tmp);
            s->tmp = NULL;
            return st;
        }
    }
    if (s->fd < 0) return ntk_fail(err, NTK_E_IO, "%s: cannot create a temporary file: no free name", s->path);
    /* marks it live for sweep_stale; a file system without flock only loses
     * that second check (the pid check remains) */
    (void)flock(s->fd, LOCK_EX | LOCK_NB);
    if (have_old) (void)fchmod(s->fd, old.st_mode & 07777); /* cosmetic if it fails */
    return NTK_OK;
}

/* Any failed write dooms the set: a commit would not be all of it. */
static ntk_status fail_set(ntk_outputs *o, ntk_status st)
{
    if (o) o->failed = 1;
    return st;
}

/* Adds a member for `path`; *idx is its index. */
static ntk_status stage(ntk_outputs *o, const char *path, size_t *idx, ntk_error *err)
{
    if (!o || !path || !*path)
        return ntk_fail(err, NTK_E_INVAL, "ntk_outputs: the set and a non-empty path are needed");
    if (o->failed)
        return ntk_fail(err, NTK_E_INVAL, "%s: an earlier write of this set failed; it can only be freed", path);
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->v[i].path, path))
            return ntk_fail(err, NTK_E_INVAL, "%s: written twice in one set of outputs", path);
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 4;
        staged *v = realloc(o->v, cap * sizeof *v);
        if (!v) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
        o->v = v;
        o->cap = cap;
    }
    staged *s = &o->v[o->n];
    memset(s, 0, sizeof *s);
    s->fd = -1;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    s->path = strdup(path);
    s->dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!s->path || !s->dir) {
        staged_free(s);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
    }
    if (!*base) {
        staged_free(s);
        return ntk_fail(err, NTK_E_INVAL, "%s: not a file name", path);
    }
    sweep_stale(s->dir, base);
    ntk_status st = create_tmp(o, s, base, err);
    if (st) {
        staged_abort(s);
        return st;
    }
    *idx = o->n++;
    return NTK_OK;
}

ntk_status ntk_outputs_open(ntk_outputs *o, const char *path, FILE **f, ntk_error *err)
{
    if (f) *f = NULL;
    if (!f) return ntk_fail(err, NTK_E_INVAL, "ntk_outputs_open: f must not be NULL");
    size_t i;
    ntk_status st = stage(o, path, &i, err);
    if (st) return fail_set(o, st);
    staged *s = &o->v[i];
    int fd = dup(s->fd); /* the stream owns the copy; s->fd keeps the lock and the file */
    s->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!s->f) {
        st = ntk_io_errno(err, path, "cannot open the temporary file", errno);
        if (fd >= 0) close(fd);
        staged_abort(s);
        o->n--;
        return fail_set(o, st);
    }
    *f = s->f;
    return NTK_OK;
}

ntk_status ntk_outputs_close(ntk_outputs *o, FILE *f, ntk_error *err)
{
    staged *s = NULL;
    for (size_t i = 0; o && f && i < o->n && !s; i++)
        if (o->v[i].f == f) s = &o->v[i];
    if (!s) return ntk_fail(err, NTK_E_INVAL, "ntk_outputs_close: the stream is not open in this set");
    ntk_status st = NTK_OK;
    errno = 0;
    if (fflush(f) != 0 || ferror(f)) st = ntk_io_errno(err, s->path, "write failed", errno);
    errno = 0;
    if (fclose(f) != 0 && st == NTK_OK) st = ntk_io_errno(err, s->path, "write failed", errno);
    s->f = NULL;
    if (st) o->failed = 1;
    return st;
}

ntk_status ntk_outputs_path(ntk_outputs *o, const char *path, char *wpath, size_t n, ntk_error *err)
{
    size_t i;
    ntk_status st = stage(o, path, &i, err);
    if (st) return fail_set(o, st);
    staged *s = &o->v[i];
    int len = s->anon ? snprintf(wpath, n, "/proc/self/fd/%d", s->fd) : snprintf(wpath, n, "%s", s->tmp);
    if (len < 0 || (size_t)len >= n) {
        staged_abort(s);
        o->n--;
        return fail_set(o, ntk_fail(err, NTK_E_INVAL, "%s: the temporary path does not fit %zu bytes", path, n));
    }
    return NTK_OK;
}

ntk_status ntk_outputs_write(ntk_outputs *o, const char *path, ntk_io_emit_fn emit, const void *ctx,
                             ntk_error *err)
{
    FILE *f;
    ntk_status st = ntk_outputs_open(o, path, &f, err);
    if (st) return st;
    st = emit(f, path, ctx, err);
    if (st) {
        fflush(f);
        o->failed = 1;
        ntk_outputs_close(o, f, NULL);
        return st;
    }
    return ntk_outputs_close(o, f, err);
}

/* ------------------------------------------------------------ commit */

/* Links the anonymous file of s to a fresh temporary name. */
static ntk_status name_anon(staged *s, unsigned salt, ntk_error *err)
{
    const char *slash = strrchr(s->path, '/');
    const char *base = slash ? slash + 1 : s->path;
    char proc[32];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
    for (unsigned t = 0; t < NAME_TRIES; t++) {
        free(s->tmp);
        if (!(s->tmp = tmp_name(s->dir, base, salt * NAME_TRIES + t)))
            return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", s->path);
        int rc = linkat(AT_FDCWD, proc, AT_FDCWD, s->tmp, AT_SYMLINK_FOLLOW);
        if (rc != 0 && errno == ENOENT) rc = linkat(s->fd, "", AT_FDCWD, s->tmp, AT_EMPTY_PATH);
        if (rc == 0) {
            s->anon = 0;
            return NTK_OK;
        }
        if (errno != EEXIST) {
            ntk_status st = ntk_io_errno(err, s->path, "cannot name the temporary file", errno);
            free(s->tmp);
            s->tmp = NULL;
            return st;
        }
    }
    free(s->tmp);
    s->tmp = NULL;
    return ntk_fail(err, NTK_E_IO, "%s: cannot name the temporary file: no free name", s->path);
}

/* A hard link to the existing target of s (nothing if there is none, or if
 * the file system has no hard links: then a failed later rename cannot
 * restore it, which only matters if a rename fails, which a writable
 * directory makes unlikely). */
static ntk_status make_backup(staged *s, unsigned salt, ntk_error *err)
{
    struct stat sb;
    if (lstat(s->path, &sb) != 0 || !S_ISREG(sb.st_mode)) return NTK_OK;
    const char *slash = strrchr(s->path, '/');
    const char *base = slash ? slash + 1 : s->path;
    for (unsigned t = 0; t < NAME_TRIES; t++) {
        char *b = tmp_name(s->dir, base, salt * NAME_TRIES + t + 7919);
        if (!b) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", s->path);
        if (link(s->path, b) == 0) {
            s->backup = b;
            return NTK_OK;
        }
        int e = errno;
        free(b);
        if (e == EPERM || e == EOPNOTSUPP || e == EMLINK || e == ENOENT) return NTK_OK;
        if (e != EEXIST) return ntk_io_errno(err, s->path, "cannot keep the old file while replacing it", e);
    }
    return NTK_OK;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd); /* after the renames there is nothing to undo: best effort */
    close(fd);
}

ntk_status ntk_outputs_commit(ntk_outputs *o, ntk_error *err)
{
    if (!o) return ntk_fail(err, NTK_E_INVAL, "ntk_outputs_commit: the set must not be NULL");
    ntk_status st = NTK_OK;
    for (size_t i = 0; i < o->n && !st; i++)
        if (o->v[i].f) st = ntk_fail(err, NTK_E_INVAL, "%s: still open (ntk_outputs_close it first)", o->v[i].path);
    if (!st && o->failed)
        st = ntk_fail(err, NTK_E_INVAL, "ntk_outputs_commit: a write of this set failed; nothing was committed");
    /* the data on disk before any name points at it */
    for (size_t i = 0; i < o->n && !st; i++)
        if (fsync(o->v[i].fd) != 0) st = ntk_io_errno(err, o->v[i].path, "write failed", errno);
    for (size_t i = 0; i < o->n && !st; i++)
        if (o->v[i].anon) st = name_anon(&o->v[i], (unsigned)i, err);
    for (size_t i = 0; i < o->n && !st && o->n > 1; i++) st = make_backup(&o->v[i], (unsigned)i, err);
    size_t done = 0;
    for (; done < o->n && !st; done++)
        if (rename(o->v[done].tmp, o->v[done].path) != 0) {
            st = ntk_io_errno(err, o->v[done].path, "cannot rename the temporary file into place", errno);
            break;
        }
    if (st) { /* put back what was replaced */
        for (size_t j = 0; j < done; j++) {
            staged *s = &o->v[j];
            if (s->backup) {
                /* restored, or (should that fail) left as the only copy */
                (void)rename(s->backup, s->path);
                free(s->backup);
                s->backup = NULL;
            } else {
                unlink(s->path);
            }
            free(s->tmp); /* renamed: the name is the target's now */
            s->tmp = NULL;
        }
        for (size_t j = 0; j < o->n; j++) sync_dir(o->v[j].dir);
        for (size_t j = 0; j < o->n; j++) staged_abort(&o->v[j]);
        o->n = 0;
        o->failed = 1;
        return st;
    }
    for (size_t i = 0; i < o->n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(o->v[j].dir, o->v[i].dir);
        if (!seen) sync_dir(o->v[i].dir);
    }
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].tmp); /* it is the target now */
        o->v[i].tmp = NULL;
        staged_abort(&o->v[i]); /* removes the backup, closes the file */
    }
    o->n = 0;
    return NTK_OK;
}

/* ------------------------------------------------------------ single files */

ntk_status ntk_io_write_atomic(const char *path, ntk_io_emit_fn emit, const void *ctx, ntk_error *err)
{
    ntk_outputs *o = NULL;
    ntk_status st = ntk_outputs_create(&o, err);
    if (!st) st = ntk_outputs_write(o, path, emit, ctx, err);
    if (!st) st = ntk_outputs_commit(o, err);
    ntk_outputs_free(o);
    return st;
}
