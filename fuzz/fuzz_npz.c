/*
 * fuzz_npz.c — the .npz (zip) reader: ntk_npz_read, then ntk_npz_get_bytes
 * and ntk_npz_get_array on every member.
 *
 * The input is the archive. Checked on every input:
 *   - a refusal has a one-line message naming the file (member names are
 *     escaped in messages);
 *   - every member of an accepted archive has a name without NUL, distinct
 *     from the others; get_bytes gives its bytes with a NUL after them;
 *     get_array of "<stem>" for a member "<stem>.npy" parses exactly what
 *     ntk_npy_parse_mem parses from those bytes;
 *   - the members copied into a new archive (ntk_npz_add_bytes), written
 *     and read back, have the same names in the same order and the same
 *     bytes; the arrays that parsed, added with ntk_npz_add_array, come
 *     back with the same bits.
 */
#include "fuzz_common.h"
#include "io/io_internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_path("in.npz"), *out = fz_path("out.npz");
    fz_write(path, data, size);
    ntk_npz *z = NULL, *w = NULL, *r = NULL;
    ntk_error err;
    ntk_status st = ntk_npz_read(path, &z, &err);
    if (st != NTK_OK) {
        FZ_CHECK(!z, "a failed read returned an archive");
        FZ_CHECK(!strncmp(err.msg, path, strlen(path)) && fz_one_line(err.msg), "message '%s'", err.msg);
        return 0;
    }
    size_t n = ntk_npz_count(z);
    FZ_CHECK(ntk_npz_member_name(z, n) == NULL, "a name past the last member");
    if (ntk_npz_create(&w, &err)) abort();
    for (size_t i = 0; i < n; i++) {
        const char *name = ntk_npz_member_name(z, i);
        for (size_t j = 0; j < i; j++)
            FZ_CHECK(strcmp(name, ntk_npz_member_name(z, j)), "member %zu and %zu are both '%s'", j, i, name);
        char *bytes = NULL;
        size_t len = 0;
        FZ_CHECK(ntk_npz_get_bytes(z, name, &bytes, &len, &err) == NTK_OK, "%s", err.msg);
        FZ_CHECK(bytes[len] == '\0', "no NUL after the bytes");
        st = ntk_npz_add_bytes(w, name, bytes, len, &err);
        FZ_CHECK(st == NTK_OK || (st == NTK_E_INVAL && !name[0]), "add_bytes('%s'): %s", name, err.msg);
        size_t nl = strlen(name);
        if (nl > 4 && !strcmp(name + nl - 4, ".npy")) {
            char *stem = strndup(name, nl - 4);
            ntk_matrix a = {0}, b = {0};
            ntk_error e1, e2;
            ntk_status s1 = ntk_npz_get_array(z, stem, &a, &e1);
            ntk_status s2 = ntk_npy_parse_mem("x", (const unsigned char *)bytes, len, &b, &e2);
            FZ_CHECK(s1 == s2, "get_array('%s'): %d, the .npy parser: %d", stem, (int)s1, (int)s2);
            if (s1 == NTK_OK) FZ_CHECK(fz_same_matrix(&a, &b), "get_array('%s') differs", stem);
            else FZ_CHECK(fz_one_line(e1.msg), "message '%s'", e1.msg);
            ntk_matrix_free(&a);
            ntk_matrix_free(&b);
            free(stem);
        }
        free(bytes);
    }
    if (ntk_npz_write(w, out, &err) == NTK_OK) {
        FZ_CHECK(ntk_npz_read(out, &r, &err) == NTK_OK, "reading what was written: %s", err.msg);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            const char *name = ntk_npz_member_name(z, i);
            if (!name[0]) continue;
            const char *got = ntk_npz_member_name(r, k++);
            FZ_CHECK(got && !strcmp(got, name), "member %zu: '%s' came back as '%s'", i, name, got ? got : "(none)");
            char *a = NULL, *b = NULL;
            size_t la = 0, lb = 0;
            FZ_CHECK(!ntk_npz_get_bytes(z, name, &a, &la, &err) && !ntk_npz_get_bytes(r, name, &b, &lb, &err) &&
                         la == lb && !memcmp(a, b, la),
                     "member '%s' changed in a round trip", name);
            free(a);
            free(b);
        }
        FZ_CHECK(k == ntk_npz_count(r), "%zu members written, %zu read", k, ntk_npz_count(r));
    }
    ntk_npz_free(r);
    ntk_npz_free(w);
    r = w = NULL;

    /* the arrays, re-encoded by ntk_npz_add_array */
    if (ntk_npz_create(&w, &err)) abort();
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = ntk_npz_member_name(z, i);
        size_t nl = strlen(name);
        if (nl <= 4 || strcmp(name + nl - 4, ".npy")) continue;
        char *stem = strndup(name, nl - 4);
        ntk_matrix a = {0};
        if (ntk_npz_get_array(z, stem, &a, &err) == NTK_OK) {
            FZ_CHECK(ntk_npz_add_array(w, stem, a.data, a.rows, a.cols, a.ndim, &err) == NTK_OK, "%s", err.msg);
            added++;
        }
        ntk_matrix_free(&a);
        free(stem);
    }
    if (added && ntk_npz_write(w, out, &err) == NTK_OK) {
        FZ_CHECK(ntk_npz_read(out, &r, &err) == NTK_OK, "reading what was written: %s", err.msg);
        for (size_t i = 0; i < ntk_npz_count(r); i++) {
            const char *name = ntk_npz_member_name(r, i);
            char *stem = strndup(name, strlen(name) - 4);
            ntk_matrix a = {0}, b = {0};
            FZ_CHECK(!ntk_npz_get_array(z, stem, &a, &err) && !ntk_npz_get_array(r, stem, &b, &err) &&
                         fz_same_matrix(&a, &b),
                     "array '%s' changed in a round trip", stem);
            ntk_matrix_free(&a);
            ntk_matrix_free(&b);
            free(stem);
        }
    }
    ntk_npz_free(r);
    ntk_npz_free(w);
    ntk_npz_free(z);
    return 0;
}
