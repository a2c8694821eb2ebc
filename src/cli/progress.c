/*
 * progress.c — what the `ntk` commands show while they work, how they stop,
 * and what they check before they start (cli.h, "progress").
 *
 * Progress: the library's callback (ntk_progress) feeds one reporter per
 * command. On a terminal (stderr a TTY) a one-line bar is redrawn at most
 * 10 times a second: stage, percent, done/total, rate, ETA; otherwise a
 * plain line every NTK_PROGRESS_INTERVAL seconds (default 10), and a last
 * one when a stage that printed completes. Runs shorter than ~2 s show
 * nothing (the quiet period is min(2 s, the interval), so the test hook
 * NTK_PROGRESS_INTERVAL=0 prints a line at every callback). The rate is
 * the stage's average (done / time in the stage), the ETA what is left at
 * that rate; a stage that is one LAPACK call shows its running time. The
 * library reports only between pieces of work, so a ticker thread keeps
 * the display going meanwhile (the bar's clock, a plain line at least every
 * interval, or every second under the test hook); it and the callback
 * share the state under a mutex. Signals are left to the main thread.
 *
 * Interruption: SIGINT and SIGTERM set a flag (the one mutable global of
 * the command: a signal handler has nowhere else to write); the next
 * callback returns non-zero, the library stops, frees and returns
 * NTK_E_CANCELED, and the command removes what it has not finished, says
 * so in one line and exits with 128 + the signal (130, 143). A second
 * signal kills at once (the default action). A signal that the parent set
 * to be ignored (a background job of a script) stays ignored.
 *
 * Preflight: available memory is MemAvailable (/proc/meminfo), lowered by
 * a cgroup v2 limit (memory.max − memory.current) and RLIMIT_AS; free disk
 * is statvfs's f_bavail·f_frsize of the output's folder. Test hooks:
 * NTK_MEM_AVAILABLE and NTK_DISK_AVAILABLE (bytes, suffixes k/M/G/T of
 * 1000) replace the measurements.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* The signal that asked the command to stop (0: none). */
static volatile sig_atomic_t cli_signal_got;

static void on_signal(int sig)
{
    if (cli_signal_got) { /* the second one: the default action, now */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    cli_signal_got = sig;
}

static void install_handlers(void)
{
    static const int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART; /* reads and writes carry on; the work stops at the next callback */
        sigaction(sigs[i], &sa, NULL);
    }
}

/* A number of seconds from the environment (>= 0), or dflt. */
static double env_seconds(const char *name, double dflt)
{
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    double v = strtod(s, &end);
    return end != s && !*end && v >= 0 && isfinite(v) ? v : dflt;
}

static void *ticker_main(void *arg);

void cli_progress_init(cli_progress *p, const char *cmd, int quiet)
{
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->quiet = quiet;
    p->tty = isatty(2);
    p->interval = env_seconds("NTK_PROGRESS_INTERVAL", 10);
    p->delay = p->interval < 2 ? p->interval : 2;
    p->t0 = cli_now();
    p->last_draw = p->t0 - p->interval; /* plain lines: the first as soon as the quiet period ends */
    install_handlers();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (quiet) return;
    /* the ticker blocks SIGINT and SIGTERM: the handler runs on this thread */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    p->ticking = pthread_create(&p->ticker, NULL, ticker_main, p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int cli_interrupted(void) { return cli_signal_got; }

/* "1.23M"-style: three significant digits and an SI prefix. */
static void si(char *b, size_t n, double v)
{
    static const char *pre[] = {"", "k", "M", "G", "T", "P", "E"};
    int i = 0;
    while (fabs(v) >= 999.5 && i < 6) {
        v /= 1000;
        i++;
    }
    if (i == 0 && v == floor(v)) snprintf(b, n, "%.0f", v);
    else snprintf(b, n, "%.3g%s", v, pre[i]);
}

/* "4s", "3m05s", "2h03m", "3d04h". */
static void hms(char *b, size_t n, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(b, n, "?");
        return;
    }
    unsigned long t = (unsigned long)(s + 0.5);
    if (t < 60) snprintf(b, n, "%lus", t);
    else if (t < 3600) snprintf(b, n, "%lum%02lus", t / 60, t % 60);
    else if (t < 86400) snprintf(b, n, "%luh%02lum", t / 3600, t / 60 % 60);
    else snprintf(b, n, "%lud%02luh", t / 86400, t / 3600 % 24);
}

/* The body of a report: "stage: 45% (1.2M/2.6M), 310k/s, ETA 4s[, note]". */
static void describe(const cli_progress *p, double now, char *b, size_t n)
{
    char d[32], t[32], r[32], e[32];
    const double el = now - p->stage_t0, done = p->done, total = p->total;
    int len;
    if (total > 0) {
        si(d, sizeof d, done);
        si(t, sizeof t, total);
        len = snprintf(b, n, "%s: %3.0f%% (%s/%s)", p->stage, 100 * done / total, d, t);
    } else {
        si(d, sizeof d, done);
        len = snprintf(b, n, "%s: %s", p->stage, d);
    }
    if (len < 0 || (size_t)len >= n) return;
    if (done > 0 && el > 0 && done < total) {
        si(r, sizeof r, done / el);
        hms(e, sizeof e, (total - done) * el / done);
        len += snprintf(b + len, n - (size_t)len, ", %s/s, ETA %s", r, e);
    } else if (done < total || total == 0) {
        hms(e, sizeof e, el); /* one long call (a factorization): how long so far */
        len += snprintf(b + len, n - (size_t)len, ", running %s", e);
    } else {
        hms(e, sizeof e, el);
        len += snprintf(b + len, n - (size_t)len, ", done in %s", e);
    }
    if (p->note[0] && len >= 0 && (size_t)len < n) snprintf(b + len, n - (size_t)len, ", %s", p->note);
}

static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    return 80;
}

/* The bar line on a terminal: "ntk CMD: [#####.....] stage: ...". */
static void draw_bar(cli_progress *p, double now)
{
    enum { W = 12 };
    char body[256], bar[W + 1];
    describe(p, now, body, sizeof body);
    double f = p->total > 0 ? p->done / p->total : 0;
    for (int i = 0; i < W; i++) bar[i] = i < (int)(f * W) ? '#' : '.';
    bar[W] = '\0';
    char line[400];
    int n = snprintf(line, sizeof line, "ntk %s: [%s] %s", p->cmd, bar, body);
    int cols = term_columns() - 1;
    if (n > cols) n = cols;
    if (n < 0) n = 0;
    fprintf(stderr, "\r%.*s\033[K", n, line);
    fflush(stderr);
    p->drawn = 1;
    p->last_draw = now;
}

static void print_line(cli_progress *p, double now)
{
    char body[256];
    describe(p, now, body, sizeof body);
    fprintf(stderr, "ntk %s: %s\n", p->cmd, body);
    fflush(stderr);
    p->last_draw = now;
    p->printed = 1;
}

void cli_progress_done(cli_progress *p)
{
    if (p->ticking) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->ticker, NULL);
        p->ticking = 0;
    }
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}

/* Between callbacks: the bar's clock, a plain line at least every interval
 * (every second under the test hook NTK_PROGRESS_INTERVAL=0). */
static void *ticker_main(void *arg)
{
    cli_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        double now = cli_now();
        if (!p->stop && p->tty && cli_signal_got && !p->stopping) {
            /* a LAPACK call cannot be stopped halfway: say why nothing happens yet */
            fprintf(stderr, "\rntk %s: stopping when %s reaches a stopping point (again to quit at once)\033[K",
                    p->cmd, p->stage[0] ? p->stage : "the work");
            fflush(stderr);
            p->drawn = p->stopping = 1;
        }
        if (p->stop || cli_signal_got || !p->stage[0] || now - p->t0 < p->delay || (p->total > 0 && p->done >= p->total))
            continue;
        if (p->tty) {
            if (now - p->last_draw >= 0.5) draw_bar(p, now);
        } else if (now - p->last_draw >= (p->interval > 1 ? p->interval : 1)) {
            print_line(p, now);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* The callback's work, under the mutex: the state, then the display. */
static void report_locked(cli_progress *p, const char *stage, double done, double total)
{
    double now = cli_now();
    if (strcmp(stage, p->stage) != 0) { /* a new stage */
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->stage_t0 = now;
        p->printed = 0;
        p->note[0] = '\0';
        p->done = 0;
    }
    const int repeat = total > 0 && p->done >= total && done >= total; /* the end, reported again */
    p->done = done;
    p->total = total;
    if (cli_signal_got || p->quiet || repeat || now - p->t0 < p->delay) return;
    const int finished = total > 0 && done >= total;
    if (p->tty) {
        if (now - p->last_draw >= 0.1 || finished) draw_bar(p, now);
    } else if ((finished && p->printed) || now - p->last_draw >= p->interval) {
        print_line(p, now);
    }
}

static int report(void *ctx, const char *stage, double done, double total)
{
    cli_progress *p = ctx;
    pthread_mutex_lock(&p->mu);
    report_locked(p, stage, done, total);
    const int sig = cli_signal_got;
    if (sig) p->sig = sig; /* stop: the library cancels and the command says so */
    pthread_mutex_unlock(&p->mu);
    return sig != 0;
}

ntk_progress cli_progress_cb(cli_progress *p)
{
    ntk_progress r = {report, p};
    return r;
}

void cli_progress_note(cli_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&p->mu); /* the ticker may be drawing it */
    vsnprintf(p->note, sizeof p->note, fmt, ap);
    pthread_mutex_unlock(&p->mu);
    va_end(ap);
}

static const char *signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

int cli_run_error(cli_progress *p, ntk_status s, const char *fmt, ...)
{
    cli_progress_done(p);
    int sig = p->sig ? p->sig : cli_signal_got;
    if (s == NTK_E_CANCELED && sig) {
        if (p->total > 0 && p->done >= p->total) /* after a piece that cannot be stopped (LAPACK) */
            fprintf(stderr, "ntk %s: interrupted by %s at the end of %s; nothing written\n", p->cmd, signal_name(sig),
                    p->stage);
        else if (p->total > 0)
            fprintf(stderr, "ntk %s: interrupted by %s during %s (%.0f%% done); nothing written\n", p->cmd,
                    signal_name(sig), p->stage, 100 * p->done / p->total);
        else
            fprintf(stderr, "ntk %s: interrupted by %s; nothing written\n", p->cmd, signal_name(sig));
        return 128 + sig;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ntk %s: ", p->cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}


/* ------------------------------------------------------------ preflight */

/* A byte count from the environment ("12G", "3.5e9", "500M"; powers of
 * 1000), or -1 when unset or unreadable. */
static double env_bytes(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0)) return -1;
    static const char suf[] = "kMGT";
    const char *q = *end ? strchr(suf, *end) : NULL;
    if (q && *end) {
        v *= pow(1000.0, (double)(q - suf + 1));
        end++;
    }
    return *end ? -1 : v;
}

static size_t to_size(double v) { return v >= 18446744073709549568.0 ? SIZE_MAX : (size_t)v; }

/* The first number after `key` in a file, or -1. */
static double file_number(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    double v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) {
            char *end;
            double x = strtod(line + kl, &end);
            if (end != line + kl) v = x;
            break;
        }
    fclose(f);
    return v;
}

/* cgroup v2: memory.max − memory.current of this process's group, or -1. */
static double cgroup_room(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return -1;
    char line[1024], path[1200];
    double room = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3) != 0) continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", line + 3);
        double max = file_number(path, "");
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.current", line + 3);
        double cur = file_number(path, "");
        if (max >= 0 && cur >= 0) room = max > cur ? max - cur : 0; /* "max" (no limit) reads as -1 */
        break;
    }
    fclose(f);
    return room;
}

size_t cli_mem_available(void)
{
    double hook = env_bytes("NTK_MEM_AVAILABLE");
    if (hook >= 0) return to_size(hook);
    double kb = file_number("/proc/meminfo", "MemAvailable:");
    double avail = kb >= 0 ? kb * 1024 : INFINITY;
    double cg = cgroup_room();
    if (cg >= 0 && cg < avail) avail = cg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (double)rl.rlim_cur < avail)
        avail = (double)rl.rlim_cur;
    return isfinite(avail) ? to_size(avail) : SIZE_MAX;
}

/* The folder a path would be written into ("." for a bare name). */
static void folder_of(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, n, ".");
    else if (slash == path) snprintf(dir, n, "/");
    else snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

size_t cli_disk_available(const char *path)
{
    double hook = env_bytes("NTK_DISK_AVAILABLE");
    if (hook >= 0) return to_size(hook);
    char dir[4096];
    folder_of(path, dir, sizeof dir);
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0) return SIZE_MAX;
    return to_size((double)sv.f_bavail * (double)sv.f_frsize);
}

void cli_bytes_text(char *b, size_t n, size_t bytes)
{
    double v = (double)bytes;
    if (bytes == SIZE_MAX) snprintf(b, n, "more than can be addressed");
    else if (v >= 1e9) snprintf(b, n, "%.3g GB", v / 1e9);
    else if (v >= 1e6) snprintf(b, n, "%.3g MB", v / 1e6);
    else snprintf(b, n, "%.3g kB", v / 1e3);
}

int cli_check_memory(const char *cmd, size_t need, const char *what, const char *hint, int force)
{
    size_t avail = cli_mem_available();
    if (force || need <= avail) return 0;
    char a[48], b[48];
    cli_bytes_text(a, sizeof a, need);
    cli_bytes_text(b, sizeof b, avail);
    if (need == SIZE_MAX)
        return cli_error(cmd, "%s: the sizes overflow (%s)", what, hint && *hint ? hint : "use fewer points");
    return cli_error(cmd, "needs ~%s of memory for %s, %s available%s%s (--force to try anyway)", a, what, b,
                     hint && *hint ? "; " : "", hint ? hint : "");
}

int cli_check_disk(const char *cmd, const char *const *flags, const char *const *paths, const size_t *bytes, size_t n,
                   int force)
{
    for (size_t i = 0; i < n; i++) {
        if (!paths[i]) continue;
        if (bytes[i] == SIZE_MAX)
            return cli_error(cmd, "%s %s: the output would be larger than can be addressed", flags[i], paths[i]);
        if (force) continue;
        /* all the outputs in the same file system as this one, once */
        char dir[4096];
        folder_of(paths[i], dir, sizeof dir);
        struct stat si_, sj;
        int have = stat(dir, &si_) == 0, first = 1;
        size_t sum = 0;
        for (size_t j = 0; j < n; j++) {
            if (!paths[j]) continue;
            char dj[4096];
            folder_of(paths[j], dj, sizeof dj);
            int same = j == i || (have && stat(dj, &sj) == 0 && sj.st_dev == si_.st_dev);
            if (!same) continue;
            if (j < i) first = 0;
            sum = bytes[j] > SIZE_MAX - sum ? SIZE_MAX : sum + bytes[j];
        }
        if (!first) continue;
        size_t avail = cli_disk_available(paths[i]);
        if (sum <= avail) continue;
        char a[48], b[48];
        cli_bytes_text(a, sizeof a, sum);
        cli_bytes_text(b, sizeof b, avail);
        return cli_error(cmd, "%s %s%s needs ~%s of disk space, %s free in '%s' (--force to try anyway)", flags[i],
                         paths[i], sum != bytes[i] ? " (with the other outputs there)" : "", a, b, dir);
    }
    return 0;
}

size_t cli_matrix_file_bytes(const char *path, size_t rows, size_t cols)
{
    const char *dot = strrchr(path, '.');
    int csv = dot && !strcasecmp(dot, ".csv");
    double v = (double)rows * (double)cols * (csv ? 25.0 : 8.0) + (csv ? (double)rows : 128.0);
    /* CSV: "%.17g" is at most 24 characters, plus a separator; .npy: the header */
    return to_size(v);
}
