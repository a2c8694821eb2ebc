/*
 * fuzz_common.h — what the libFuzzer harnesses of fuzz/ share: the input
 * as a file with a chosen name (the readers take paths, and ntk_io_read
 * picks the format by the name), a check that aborts (libFuzzer reports
 * it as a crash and saves the input), bitwise comparisons, a hash of the
 * input from which a harness derives its options, and the member list
 * format from which the model and parameter harnesses build .npz files.
 */
#ifndef NTK_FUZZ_COMMON_H
#define NTK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ntk.h"

/* A failed property: the harness found a bug that is not a crash. */
#define FZ_CHECK(cond, ...)                                                           \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* "<scratch>/<name>": the scratch folder is made on first use (mkdtemp in
 * $NTK_FUZZ_TMPDIR, else /dev/shm, else $TMPDIR or /tmp; one per process,
 * so -jobs/-fork runs do not collide) and removed at exit with the files
 * named through here. The string lives as long as the process. */
const char *fz_path(const char *name);

/* Writes n bytes to path (replacing it); aborts if it cannot. */
void fz_write(const char *path, const void *data, size_t n);

/* Reads a whole file (malloc'd, *n bytes); aborts if it cannot. */
unsigned char *fz_slurp(const char *path, size_t *n);

/* FNV-1a of the input: options derived from it change with every mutation,
 * so the fuzzer meets each of them on every kind of input. */
uint64_t fz_hash(const uint8_t *data, size_t n);

/* Same shape and the same bits in every entry. */
int fz_same_matrix(const ntk_matrix *a, const ntk_matrix *b);
/* The same, except that a NaN only has to meet a NaN of the same sign
 * (text has no NaN payloads: "nan", "-nan"). */
int fz_same_values(const ntk_matrix *a, const ntk_matrix *b);

/* The message of a failure: non-empty and one line (no control
 * characters but tab): messages go to stderr as one line per error. */
int fz_one_line(const char *msg);

/*
 * Member lists, the input of fuzz_model and fuzz_params: a zip checks a
 * CRC-32 over every member, so a fuzzer that mutates a real .npz almost
 * only reaches the CRC check. A member list instead holds the members in
 * the clear, and the harness zips them up with ntk_npz_write:
 *
 *     @@ meta.txt
 *     format = ntk-params 1
 *     ...
 *     @@ dense0.W.npy
 *     <the .npy bytes>
 *
 * A member starts with a line "@@ NAME" (at the start of the input or
 * after a newline); its bytes run to the newline before the next such line
 * or to the end of the input. An input starting with "PK" is taken as a
 * zip as it is. fz_members_to_npz writes the archive to path and returns
 * 0, or -1 when the list cannot be an archive (an empty or repeated name).
 */
int fz_members_to_npz(const uint8_t *data, size_t n, const char *path);

#endif
