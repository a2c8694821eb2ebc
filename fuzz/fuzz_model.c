/*
 * fuzz_model.c — kernel model files (ntk_model_load, the .npz of `ntk fit`).
 *
 * The input is a member list (fuzz_common.h: "@@ meta.txt" lines between
 * the members, zipped here so that every CRC is right) or, starting with
 * "PK", a zip as it is. Checked on every input:
 *   - a refusal has a one-line message naming the file;
 *   - an accepted model saves (ntk_model_save), loads again, and saves to
 *     the same bytes: nothing is lost or altered on a round trip.
 */
#include "fuzz_common.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_path("in.npz"), *out = fz_path("out.npz"), *out2 = fz_path("out2.npz");
    if (fz_members_to_npz(data, size, path)) return -1; /* not an archive: not worth keeping */
    ntk_model *m = NULL, *m2 = NULL;
    ntk_error err;
    ntk_status st = ntk_model_load(path, &m, &err);
    if (st != NTK_OK) {
        FZ_CHECK(!m, "a failed load returned a model");
        FZ_CHECK(!strncmp(err.msg, path, strlen(path)) && fz_one_line(err.msg), "message '%s'", err.msg);
        return 0;
    }
    FZ_CHECK(ntk_model_save(m, out, &err) == NTK_OK, "saving a loaded model: %s", err.msg);
    FZ_CHECK(ntk_model_load(out, &m2, &err) == NTK_OK, "loading a saved model: %s", err.msg);
    FZ_CHECK(ntk_model_save(m2, out2, &err) == NTK_OK, "saving a reloaded model: %s", err.msg);
    size_t n1, n2;
    unsigned char *b1 = fz_slurp(out, &n1), *b2 = fz_slurp(out2, &n2);
    FZ_CHECK(n1 == n2 && !memcmp(b1, b2, n1), "a saved model changed on a round trip (%zu, %zu bytes)", n1, n2);
    free(b1);
    free(b2);
    ntk_model_free(m2);
    ntk_model_free(m);
    return 0;
}
