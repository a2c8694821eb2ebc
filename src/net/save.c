/*
 * save.c — a network's parameters as an .npz archive NumPy reads
 * (include/ntk.h, "saving parameters"; save_internal.h for the linearized
 * variant). Members, in this order:
 *
 *   arch.txt          the canonical spec (ntk_arch_format) and a newline
 *   meta.txt          "key = value" lines: format = ntk-params 1,
 *                     ntk_version, [linearized = 1], param = ntk|standard,
 *                     d_in, k, n_params, [seed]
 *   dense<l>.W.npy    float64 (n_out, n_in), l = 0, 1, … over the dense layers
 *   dense<l>.b.npy    float64 (n_out,), only for a layer with a bias
 *   theta0.dense<l>.W.npy, theta0.dense<l>.b.npy
 *                     linearized models only: the parameters θ0 at which
 *                     f_lin(x; θ) = f(x; θ0) + ϕ0(x)·(θ − θ0) was linearized
 *
 * The arrays are θ's own blocks (W row-major, as stored), so a round trip
 * is bitwise. Loading trusts nothing: the format version, every meta value,
 * the spec, each member's presence, dtype-converted shape and finiteness,
 * and n_params are checked, and members that look like parameters but do
 * not belong to the architecture are refused. Other members (notes a user
 * added with numpy) are ignored. Meta keys this version does not know are
 * ignored too; a change that old readers must not misread bumps the format
 * number.
 */
#include "core/internal.h"
#include "io/io_internal.h"
#include "net/linear_internal.h"
#include "net/save_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "ntk-params"
#define FORMAT_VERSION 1
#define THETA0_PREFIX "theta0."

/* ------------------------------------------------------------ saving */

/* Adds the dense layers' blocks of theta under "<prefix>dense<l>.W/.b", by
 * reference: θ streams into the file when it is written, never copied. */
static ntk_status add_layers(ntk_npz *z, const ntk_net *net, const double *theta, const char *prefix,
                             ntk_error *err)
{
    char name[96];
    for (size_t l = 0; l < net->n_dense; l++) {
        const ntk_dense_info *D = &net->dense[l];
        snprintf(name, sizeof name, "%sdense%zu.W", prefix, l);
        ntk_status s = ntk_npz_add_array_ref(z, name, theta + D->w_offset, D->n_out, D->n_in, 2, err);
        if (s) return s;
        if (D->has_bias) {
            snprintf(name, sizeof name, "%sdense%zu.b", prefix, l);
            if ((s = ntk_npz_add_array_ref(z, name, theta + D->b_offset, D->n_out, 1, 1, err))) return s;
        }
    }
    return NTK_OK;
}

/* A non-finite parameter would make a file that loading refuses: refuse it
 * here, naming the member and entry. */
static ntk_status check_theta(const ntk_net *net, const double *theta, const char *path, const char *prefix,
                              ntk_error *err)
{
    char what[NTK_ERRMSG_MAX / 2];
    for (size_t l = 0; l < net->n_dense; l++) {
        const ntk_dense_info *D = &net->dense[l];
        snprintf(what, sizeof what, "%s: cannot save %sdense%zu.W", path, prefix, l);
        ntk_status s = ntk_check_finite(theta + D->w_offset, D->n_out, D->n_in, what, err);
        if (!s && D->has_bias) {
            snprintf(what, sizeof what, "%s: cannot save %sdense%zu.b", path, prefix, l);
            s = ntk_check_finite(theta + D->b_offset, D->n_out, 1, what, err);
        }
        if (s) return s;
    }
    return NTK_OK;
}

ntk_status net_save_model(const ntk_net *net, const ntk_linear *lin, const net_save_info *info, const char *path,
                          ntk_error *err)
{
    return net_save_model_to(NULL, net, lin, info, path, err);
}

ntk_status net_save_model_to(ntk_outputs *o, const ntk_net *net, const ntk_linear *lin, const net_save_info *info,
                             const char *path, ntk_error *err)
{
    ntk_error_clear(err);
    if (lin) net = lin->base;
    if (!net || !path) return ntk_fail(err, NTK_E_INVAL, "ntk_net_save: network and path must not be NULL");
    const double *theta = lin ? lin->theta : net->theta;
    ntk_status s;
    if ((s = check_theta(net, theta, path, "", err))) return s;
    if (lin && (s = check_theta(net, net->theta, path, THETA0_PREFIX, err))) return s;

    size_t alen = ntk_arch_format(net->arch, NULL, 0);
    char *spec = malloc(alen + 2);
    if (!spec) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
    ntk_arch_format(net->arch, spec, alen + 1);
    spec[alen] = '\n';
    spec[alen + 1] = '\0';

    char meta[512], seed[48] = "";
    if (info && info->has_seed) snprintf(seed, sizeof seed, "seed = %" PRIu64 "\n", info->seed);
    snprintf(meta, sizeof meta,
             "format = " FORMAT_NAME " %d\n"
             "ntk_version = " NTK_VERSION_STRING "\n"
             "%s"
             "param = %s\n"
             "d_in = %zu\n"
             "k = %zu\n"
             "n_params = %zu\n"
             "%s",
             FORMAT_VERSION, lin ? "linearized = 1\n" : "", net->param == NTK_PARAM_STANDARD ? "standard" : "ntk",
             net->d_in, net->k, net->n_params, seed);

    ntk_npz *z = NULL;
    if (!(s = ntk_npz_create(&z, err)) && !(s = ntk_npz_add_bytes(z, "arch.txt", spec, alen + 1, err)) &&
        !(s = ntk_npz_add_bytes(z, "meta.txt", meta, strlen(meta), err)) &&
        !(s = add_layers(z, net, theta, "", err)) && !(lin && (s = add_layers(z, net, net->theta, THETA0_PREFIX, err))))
        s = o ? ntk_outputs_write_npz(o, z, path, err) : ntk_npz_write(z, path, err);
    ntk_npz_free(z);
    free(spec);
    if (s) ntk_outputs_fail(o); /* a failed check above dooms the set too */
    return s;
}

ntk_status ntk_net_save(const ntk_net *net, const char *path, ntk_error *err)
{
    return net_save_model(net, NULL, NULL, path, err);
}

/* ------------------------------------------------------------ meta.txt */

enum { M_FORMAT, M_VERSION, M_PARAM, M_DIN, M_K, M_NPARAMS, M_SEED, M_LINEARIZED, M_COUNT };
static const char *const META_KEYS[M_COUNT] = {"format", "ntk_version", "param", "d_in",
                                               "k",      "n_params",    "seed",  "linearized"};

typedef struct {
    char *val[M_COUNT]; /* pointers into the meta text, NULL when absent */
} meta_t;


/* Splits text (modified in place) into key = value lines. */
static ntk_status parse_meta(char *text, size_t n, const char *path, meta_t *m, ntk_error *err)
{
    return ntk_meta_parse(text, n, path, META_KEYS, M_COUNT, m->val, err);
}

/* A decimal integer without sign (strtoull alone would take "-1"). */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE || v > UINT64_MAX) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* The same, in [lo, SIZE_MAX]. */
static int parse_size(const char *s, size_t lo, size_t *out)
{
    uint64_t v;
    if (parse_u64(s, &v) || v > SIZE_MAX || v < lo) return -1;
    *out = (size_t)v;
    return 0;
}

/* The meta values that shape the network. */
static ntk_status read_meta(const ntk_npz *z, const char *path, ntk_param *param, size_t *d_in, size_t *k,
                            size_t *n_params, int *linearized, ntk_error *err)
{
    char *text = NULL;
    size_t n = 0;
    if (!ntk_npz_has(z, "meta.txt"))
        return ntk_fail(err, NTK_E_FORMAT, "%s: no member 'meta.txt': not a parameter file of ntk_net_save", path);
    meta_t m;
    ntk_status s = ntk_npz_get_bytes(z, "meta.txt", &text, &n, err); /* a damaged member says so */
    if (s) return s;
    if ((s = parse_meta(text, n, path, &m, err))) goto done;
    const char *f = m.val[M_FORMAT];
    size_t ver;
    if (!f) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt has no 'format' line", path);
        goto done;
    }
    if (strncmp(f, FORMAT_NAME " ", strlen(FORMAT_NAME) + 1) || parse_size(f + strlen(FORMAT_NAME) + 1, 0, &ver)) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt: format '%s' is not '" FORMAT_NAME " <version>'", path, f);
        goto done;
    }
    if (ver != FORMAT_VERSION) {
        s = ntk_fail(err, NTK_E_FORMAT,
                     "%s: meta.txt: format '%s' is not one this ntk (" NTK_VERSION_STRING ") reads (" FORMAT_NAME
                     " %d)%s",
                     path, f, FORMAT_VERSION, ver > FORMAT_VERSION ? "; it comes from a newer ntk" : "");
        goto done;
    }
    static const int required[] = {M_PARAM, M_DIN, M_K, M_NPARAMS};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!m.val[required[i]]) {
            s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt has no '%s' line", path, META_KEYS[required[i]]);
            goto done;
        }
    if (!strcmp(m.val[M_PARAM], "ntk")) *param = NTK_PARAM_NTK;
    else if (!strcmp(m.val[M_PARAM], "standard")) *param = NTK_PARAM_STANDARD;
    else {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt: param = '%s', expected 'ntk' or 'standard'", path,
                     m.val[M_PARAM]);
        goto done;
    }
    const int sizes[] = {M_DIN, M_K, M_NPARAMS};
    size_t *dst[] = {d_in, k, n_params};
    for (int i = 0; i < 3; i++)
        if (parse_size(m.val[sizes[i]], 1, dst[i])) {
            s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt: %s = '%s', expected a positive integer", path,
                         META_KEYS[sizes[i]], m.val[sizes[i]]);
            goto done;
        }
    uint64_t u;
    if (m.val[M_SEED] && parse_u64(m.val[M_SEED], &u)) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt: seed = '%s', expected a non-negative integer", path,
                     m.val[M_SEED]);
        goto done;
    }
    *linearized = 0;
    if (m.val[M_LINEARIZED]) {
        if (!strcmp(m.val[M_LINEARIZED], "1")) *linearized = 1;
        else if (strcmp(m.val[M_LINEARIZED], "0")) {
            s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt: linearized = '%s', expected 0 or 1", path,
                         m.val[M_LINEARIZED]);
            goto done;
        }
    }
done:
    free(text);
    return s;
}

/* ------------------------------------------------------------ loading */

static void shape_str(const ntk_matrix *m, char *buf, size_t n)
{
    if (m->ndim == 1) snprintf(buf, n, "(%zu,)", m->rows);
    else snprintf(buf, n, "(%zu, %zu)", m->rows, m->cols);
}

/* Reads "<prefix>dense<l>.W/.b" into net's θ, checking shapes and values:
 * straight into θ (each array is a row-major block of it), no copy. */
static ntk_status read_layers(const ntk_npz *z, const char *path, const char *prefix, ntk_net *net, ntk_error *err)
{
    char name[96], what[NTK_ERRMSG_MAX / 2], got[64];
    for (size_t l = 0; l < net->n_dense; l++) {
        const ntk_dense_info *D = &net->dense[l];
        for (int part = 0; part < 1 + D->has_bias; part++) {
            snprintf(name, sizeof name, "%sdense%zu.%c", prefix, l, part ? 'b' : 'W');
            double *dst = net->theta + (part ? D->b_offset : D->w_offset);
            ntk_matrix m = {0};
            ntk_status s = ntk_npz_get_array_to(z, name, dst, part ? D->n_out : D->n_out * D->n_in, &m, err);
            if (s) return s;
            int ok = part ? (m.ndim == 1 && m.rows == D->n_out) : (m.ndim == 2 && m.rows == D->n_out && m.cols == D->n_in);
            if (!ok) {
                shape_str(&m, got, sizeof got);
                if (part)
                    return ntk_fail(err, NTK_E_SHAPE,
                                    "%s: %s has shape %s, expected (%zu,): the bias of dense layer %zu (layer %zu "
                                    "of the architecture, width %zu)",
                                    path, name, got, D->n_out, l, D->layer + 1, D->n_out);
                return ntk_fail(err, NTK_E_SHAPE,
                                "%s: %s has shape %s, expected (%zu, %zu): dense layer %zu (layer %zu of the "
                                "architecture) maps %zu input%s to %zu output%s",
                                path, name, got, D->n_out, D->n_in, l, D->layer + 1, D->n_in, D->n_in == 1 ? "" : "s",
                                D->n_out, D->n_out == 1 ? "" : "s");
            }
            snprintf(what, sizeof what, "%s: %s", path, name);
            if ((s = ntk_check_finite(dst, m.rows, m.cols, what, err))) return s;
        }
    }
    return NTK_OK;
}

/* The parameters of arch on d_in inputs as ntk_net_create lays them out,
 * or SIZE_MAX when they cannot be counted in a size_t. */
static size_t arch_params(const ntk_arch *arch, size_t d_in)
{
    size_t n = 0, width = d_in, w;
    for (size_t i = 0; i < ntk_arch_n_layers(arch); i++) {
        const ntk_layer *L = ntk_arch_layer(arch, i);
        if (L->kind != NTK_LAYER_DENSE) continue;
        if (ntk_mul_size(L->width, width, 1, &w) || n > SIZE_MAX - L->width || w > SIZE_MAX - L->width - n)
            return SIZE_MAX;
        n += w + (L->has_bias ? L->width : 0);
        width = L->width;
    }
    return n;
}

/* Every parameter is an element of an array member, at least 1 byte (u1):
 * a spec and d_in that claim more parameters than the archive holds bytes
 * are refused before the network is allocated, so that a file of a few
 * hundred bytes cannot make the loader ask for gigabytes (found by
 * fuzz/fuzz_params.c). */
static ntk_status check_size(const ntk_npz *z, const char *path, const ntk_arch *arch, size_t d_in, ntk_error *err)
{
    size_t held = 0, need = arch_params(arch, d_in);
    for (size_t i = 0; i < ntk_npz_count(z); i++) { /* saturating: lazy members' sizes are claims */
        size_t b = ntk_npz_member_size(z, i);
        held = b > SIZE_MAX - held ? SIZE_MAX : held + b;
    }
    if (need == SIZE_MAX)
        return ntk_fail(err, NTK_E_FORMAT, "%s: the architecture on %zu inputs has too many parameters to count", path,
                        d_in);
    if (need > held)
        return ntk_fail(err, NTK_E_FORMAT,
                        "%s: the architecture on %zu inputs has %zu parameters, more than the archive's %zu bytes "
                        "of members can hold",
                        path, d_in, need, held);
    return NTK_OK;
}

/* Refuses members named like parameters that the architecture has no place
 * for: a "dense7.W" of a 3-layer file is a sign of a mix-up, not a note. */
static ntk_status check_members(const ntk_npz *z, const char *path, const ntk_net *net, int linearized,
                                ntk_error *err)
{
    for (size_t i = 0; i < ntk_npz_count(z); i++) {
        const char *nm = ntk_npz_member_name(z, i), *p = nm;
        int theta0 = !strncmp(p, THETA0_PREFIX, strlen(THETA0_PREFIX));
        if (theta0) p += strlen(THETA0_PREFIX);
        if (strncmp(p, "dense", 5) && !theta0) continue;
        int ok = 0;
        if (!strncmp(p, "dense", 5) && p[5] >= '0' && p[5] <= '9' && (p[5] != '0' || p[6] == '.')) {
            char *end;
            errno = 0;
            unsigned long long l = strtoull(p + 5, &end, 10);
            int bias = !strcmp(end, ".b.npy");
            if (errno == 0 && (bias || !strcmp(end, ".W.npy")) && l < net->n_dense &&
                (!bias || net->dense[l].has_bias) && (!theta0 || linearized))
                ok = 1;
        }
        char sb[4 * 100 + 4]; /* the name as shown: control characters escaped, cut at 100 bytes */
        if (!ok)
            return ntk_fail(err, NTK_E_FORMAT,
                            "%s: unexpected member '%s' (the architecture has %zu dense layer%s, dense0 to dense%zu%s)",
                            path, ntk_shown(nm, strlen(nm), 100, sb), net->n_dense, net->n_dense == 1 ? "" : "s",
                            net->n_dense - 1, linearized ? "" : "; the file is not a linearized model");
    }
    return NTK_OK;
}

ntk_status net_load_model(const char *path, ntk_net **net_out, ntk_linear **lin_out, ntk_error *err)
{
    ntk_error_clear(err);
    if (net_out) *net_out = NULL;
    if (lin_out) *lin_out = NULL;
    if (!path || !net_out) return ntk_fail(err, NTK_E_INVAL, "ntk_net_load: path and out must not be NULL");
    ntk_npz *z = NULL;
    ntk_arch *arch = NULL;
    ntk_net *net = NULL, *base = NULL;
    char *spec = NULL;
    size_t n = 0, d_in = 0, k = 0, n_params = 0;
    ntk_param param = NTK_PARAM_NTK;
    int linearized = 0;
    ntk_status s;
    if ((s = ntk_npz_read(path, &z, err))) return s;
    if ((s = read_meta(z, path, &param, &d_in, &k, &n_params, &linearized, err))) goto done;
    if (linearized && !lin_out) {
        s = ntk_fail(err, NTK_E_FORMAT,
                     "%s: holds a linearized model (meta.txt: linearized = 1), not a network: its outputs are "
                     "f(x; theta0) + J0(x)(theta - theta0), not f(x; theta)",
                     path);
        goto done;
    }
    if (!ntk_npz_has(z, "arch.txt")) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: no member 'arch.txt' (the architecture spec)", path);
        goto done;
    }
    if ((s = ntk_npz_get_bytes(z, "arch.txt", &spec, &n, err))) goto done;
    if (strlen(spec) != n) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: arch.txt holds a NUL byte", path);
        goto done;
    }
    if ((s = ntk_arch_parse(spec, &arch, err))) {
        ntk_error e2;
        s = ntk_fail(&e2, s, "%s: arch.txt: %s", path, err ? err->msg : "bad spec");
        if (err) *err = e2;
        goto done;
    }
    if ((s = check_size(z, path, arch, d_in, err))) goto done;
    if ((s = ntk_net_create(arch, d_in, param, &net, err))) {
        ntk_error e2;
        s = ntk_fail(&e2, s, "%s: %s", path, err ? err->msg : "cannot build the network");
        if (err) *err = e2;
        goto done;
    }
    if (net->k != k) {
        s = ntk_fail(err, NTK_E_SHAPE, "%s: meta.txt says k = %zu but the architecture's last dense layer has width %zu",
                     path, k, net->k);
        goto done;
    }
    if (net->n_params != n_params) {
        s = ntk_fail(err, NTK_E_SHAPE,
                     "%s: meta.txt says n_params = %zu but the architecture on %zu inputs has %zu parameters", path,
                     n_params, d_in, net->n_params);
        goto done;
    }
    if ((s = check_members(z, path, net, linearized, err))) goto done;
    if ((s = read_layers(z, path, "", net, err))) goto done;
    if (!linearized) {
        *net_out = net;
        net = NULL;
        goto done;
    }
    if ((s = ntk_net_create(arch, d_in, param, &base, err)) || (s = read_layers(z, path, THETA0_PREFIX, base, err)))
        goto done;
    ntk_linear *lin = NULL;
    if ((s = ntk_linear_create(base, &lin, err))) goto done;
    memcpy(lin->theta, net->theta, n_params * sizeof(double));
    *lin_out = lin;
done:
    ntk_net_free(net);
    ntk_net_free(base);
    ntk_arch_free(arch);
    free(spec);
    ntk_npz_free(z);
    return s;
}

ntk_status ntk_net_load(const char *path, ntk_net **out, ntk_error *err)
{
    if (!out) return ntk_fail(err, NTK_E_INVAL, "ntk_net_load: out must not be NULL");
    return net_load_model(path, out, NULL, err);
}
