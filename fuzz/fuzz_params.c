/*
 * fuzz_params.c — parameter files (ntk_net_load, the .npz of ntk_net_save
 * and `ntk train --save`, and the linearized models `ntk apply` reads).
 *
 * The input is a member list (fuzz_common.h: "@@ meta.txt" lines between
 * the members, zipped here so that every CRC is right) or, starting with
 * "PK", a zip as it is. Checked on every input:
 *   - ntk_net_load and the internal loader that also takes linearized
 *     models agree (a network from both, or a linearized model refused by
 *     ntk_net_load);
 *   - a refusal has a one-line message naming the file;
 *   - an accepted network saves, loads again with the same architecture
 *     and the same parameters bit for bit, and saves to the same bytes.
 */
#include "fuzz_common.h"
#include "net/save_internal.h"

#include <string.h>

static char *format(const ntk_arch *a)
{
    size_t n = ntk_arch_format(a, NULL, 0);
    char *s = malloc(n + 1);
    if (!s) abort();
    ntk_arch_format(a, s, n + 1);
    return s;
}

static void check_same(const ntk_net *a, const ntk_net *b)
{
    char *fa = format(ntk_net_arch(a)), *fb = format(ntk_net_arch(b));
    FZ_CHECK(!strcmp(fa, fb), "architecture '%s' came back as '%s'", fa, fb);
    size_t n = ntk_net_n_params(a);
    FZ_CHECK(n == ntk_net_n_params(b) &&
                 !memcmp(ntk_net_params_const(a), ntk_net_params_const(b), n * sizeof(double)),
             "the parameters changed in a round trip");
    free(fa);
    free(fb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_path("in.npz"), *out = fz_path("out.npz"), *out2 = fz_path("out2.npz");
    if (fz_members_to_npz(data, size, path)) return -1; /* not an archive: not worth keeping */
    ntk_net *net = NULL, *net2 = NULL, *n3 = NULL;
    ntk_linear *lin = NULL;
    ntk_error err, err2;
    ntk_status st = ntk_net_load(path, &net, &err);
    ntk_status s2 = net_load_model(path, &net2, &lin, &err2);
    if (st != NTK_OK) {
        FZ_CHECK(!net, "a failed load returned a network");
        FZ_CHECK(!strncmp(err.msg, path, strlen(path)) && fz_one_line(err.msg), "message '%s'", err.msg);
    }
    if (s2 != NTK_OK) {
        FZ_CHECK(!net2 && !lin, "a failed load returned a model");
        FZ_CHECK(!strncmp(err2.msg, path, strlen(path)) && fz_one_line(err2.msg), "message '%s'", err2.msg);
        /* ntk_net_load refuses a linearized model before looking further */
        FZ_CHECK(st != NTK_OK && (strstr(err.msg, "holds a linearized model") || !strcmp(err.msg, err2.msg)),
                 "ntk_net_load: '%s', net_load_model: '%s'", st ? err.msg : "", err2.msg);
        return 0;
    }
    FZ_CHECK(!net2 != !lin, "net_load_model set %s", net2 ? "both" : "neither");
    if (lin) {
        FZ_CHECK(st == NTK_E_FORMAT, "ntk_net_load accepted a linearized model");
        FZ_CHECK(net_save_model(NULL, lin, NULL, out, &err) == NTK_OK, "saving a loaded model: %s", err.msg);
        ntk_linear *lin2 = NULL;
        FZ_CHECK(net_load_model(out, &n3, &lin2, &err) == NTK_OK && lin2, "loading a saved model: %s", err.msg);
        check_same(ntk_linear_base(lin), ntk_linear_base(lin2));
        size_t n = ntk_net_n_params(ntk_linear_base(lin));
        FZ_CHECK(!memcmp(ntk_linear_params(lin), ntk_linear_params(lin2), n * sizeof(double)),
                 "the trained parameters changed in a round trip");
        ntk_linear_free(lin2);
        ntk_linear_free(lin);
        return 0;
    }
    FZ_CHECK(st == NTK_OK, "ntk_net_load: '%s', but net_load_model read a network", err.msg);
    check_same(net, net2);
    FZ_CHECK(!memcmp(ntk_net_params_const(net), ntk_net_params_const(net2), ntk_net_n_params(net) * sizeof(double)),
             "the two loaders read different parameters");
    FZ_CHECK(ntk_net_save(net, out, &err) == NTK_OK, "saving a loaded network: %s", err.msg);
    FZ_CHECK(ntk_net_load(out, &n3, &err) == NTK_OK, "loading a saved network: %s", err.msg);
    check_same(net, n3);
    FZ_CHECK(ntk_net_save(n3, out2, &err) == NTK_OK, "saving a reloaded network: %s", err.msg);
    size_t n1, n2;
    unsigned char *b1 = fz_slurp(out, &n1), *b2 = fz_slurp(out2, &n2);
    FZ_CHECK(n1 == n2 && !memcmp(b1, b2, n1), "a saved network changed on a round trip (%zu, %zu bytes)", n1, n2);
    free(b1);
    free(b2);
    ntk_net_free(n3);
    ntk_net_free(net2);
    ntk_net_free(net);
    return 0;
}
