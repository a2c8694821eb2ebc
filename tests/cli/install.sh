#!/usr/bin/env bash
# install.sh — the installed ntk: `cmake --install` into a temporary prefix,
# which is then moved (so nothing may point at where it was installed or
# built), and from there:
#   - the installed `ntk` runs without LD_LIBRARY_PATH (--version, a kernel
#     whose value is exact), its RUNPATH is $ORIGIN-relative;
#   - a program built with find_package(ntk 0.1) against ntk::ntk (shared)
#     and one against ntk::ntk_static, and one built with
#     `pkg-config --cflags --libs ntk`, run without LD_LIBRARY_PATH, load
#     the moved prefix's libntk.so (the static one none), report
#     ntk_version() equal to the package's version, and compute a ReLU
#     network's NNGP and NTK equal to the closed form evaluated in the
#     program itself;
#   - find_package(ntk 0.0 / 0.2 / 1.0) is refused (the version file);
#   - the symbols libntk.so exports are exactly the functions ntk.h declares
#     (the compiler's list of the header's declarations, gcc -aux-info),
#     both ways, and all are functions.
#
# Run by ctest with NTK_BIN (the binary; its folder is the build folder
# unless NTK_BUILD_DIR says otherwise), NTK_CMAKE and NTK_CC (cmake and the
# C compiler of the build), NTK_SANITIZE (ON: consumers are built with the
# sanitizers too) and TMPDIR. Ends with "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"

BUILD=${NTK_BUILD_DIR:-$(dirname "$NTK_BIN")}
CMAKE=${NTK_CMAKE:-cmake}
CC=${NTK_CC:-cc}
SAN_FLAGS=
case ${NTK_SANITIZE:-OFF} in ON | on | 1 | TRUE | true) SAN_FLAGS="-fsanitize=address,undefined" ;; esac
unset LD_LIBRARY_PATH

# --- install, then move the prefix
P0=$W/installed
P=$W/moved
if ! "$CMAKE" --install "$BUILD" --prefix "$P0" >"$W/install.log" 2>&1; then
    record bad install "cmake --install $BUILD failed:" "$(tail -5 "$W/install.log")"
    finish
    exit 1
fi
record ok install
mv "$P0" "$P"
LIB=$(dirname "$(find "$P" -name 'libntk.so' | head -1)")
PCDIR=$(dirname "$(find "$P" -name ntk.pc | head -1)")
CFGDIR=$(dirname "$(find "$P" -name ntkConfig.cmake | head -1)")
for f in "$P/bin/ntk" "$P/include/ntk.h" "$LIB/libntk.so" "$LIB/libntk.a" "$PCDIR/ntk.pc" \
    "$CFGDIR/ntkConfig.cmake" "$CFGDIR/ntkConfigVersion.cmake" "$CFGDIR/ntkTargets.cmake"; do
    check "installed $(basename "$f")" "$f is missing" test -f "$f"
done
# text files of the package name neither the install prefix nor the build
leaks=$(grep -rlF -e "$P0" -e "$(cd "$BUILD" && pwd)" "$P/include" "$PCDIR" "$CFGDIR" 2>/dev/null)
check "no absolute self-references" "files naming the install or build folder: $leaks" test -z "$leaks"

# --- the installed ntk
runpath() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p; s/.*(RPATH).*\[\(.*\)\]/\1/p'; }
rp=$(runpath "$P/bin/ntk")
check "ntk RUNPATH is \$ORIGIN-relative" "RUNPATH of bin/ntk: '$rp'" grep -q '^\$ORIGIN/' <<<"$rp"
for f in "$P/bin/ntk" "$LIB/libntk.so"; do
    rp=$(runpath "$f")
    case ":$rp:" in
    *":$(cd "$BUILD" && pwd)"*) record bad "$(basename "$f") RUNPATH" "points into the build folder: $rp" ;;
    *) record ok "$(basename "$f") RUNPATH" ;;
    esac
done
if "$P/bin/ntk" --version >"$W/version" 2>"$W/stderr"; then
    check "ntk --version" "$(cat "$W/version")" grep -q "^ntk [0-9]" "$W/version"
    check "ntk --version names the BLAS" "$(cat "$W/version")" grep -q "^BLAS: " "$W/version"
else
    record bad "ntk --version" "exit code $?: $(cat "$W/stderr")"
fi
# a kernel with exact values: dense(1) (NTK parameterization, w_std 1, no
# bias) has NNGP = NTK = x·x'/d, here 5/2, 11/2, 25/2: exact in binary
printf '1,2\n3,4\n' >"$W/x.csv"
if "$P/bin/ntk" kernel --arch 'dense(1)' --x1 "$W/x.csv" --get nngp --out "$W/k.csv" >/dev/null 2>"$W/stderr"; then
    printf '2.5,5.5\n5.5,12.5\n' >"$W/k_expected.csv"
    close_csv "installed ntk kernel" "$W/k.csv" "$W/k_expected.csv" 0
else
    record bad "installed ntk kernel" "failed: $(head -3 "$W/stderr")"
fi

# --- a consumer program: its version and a ReLU network's kernels
cat >"$W/consumer.c" <<'EOF'
/* NNGP and NTK of dense(8),relu,dense(1) (NTK parameterization, w_std 1,
 * no bias) at x = (1, 0), x' = (0.6, 0.8), d = 2, against the arc-cosine
 * closed form evaluated here: K0 = x·x'/d gives q11 = q22 = 1/2, q12 =
 * 3/10; T = (√(q11q22 − q12²) + (π − θ)q12)/(2π), Ṫ = (π − θ)/(2π),
 * θ = acos(q12/√(q11q22)); NNGP = T, NTK = T + q12·Ṫ (the diagonal: q/2 and
 * q). The library takes θ by atan2, this program by acos: at ρ = 0.6 both
 * are within a few ulp (dθ/dρ = −1/sin θ = −1.25), and the rest is a
 * handful of roundings on O(1) values, so 64ε bounds the difference. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ntk.h"

int main(void)
{
    if (strcmp(ntk_version(), EXPECT_VERSION) != 0 || strcmp(ntk_version(), NTK_VERSION_STRING) != 0) {
        printf("version: library %s, header %s, package %s\n", ntk_version(), NTK_VERSION_STRING, EXPECT_VERSION);
        return 1;
    }
    ntk_error err;
    ntk_arch *arch = NULL;
    if (ntk_arch_parse("dense(8),relu,dense(1)", &arch, &err)) { printf("%s\n", err.msg); return 1; }
    const double x[4] = {1.0, 0.0, 0.6, 0.8};
    double k[4], t[4];
    ntk_kernel_opts o = ntk_kernel_opts_default();
    ntk_status s = ntk_kernel(arch, &o, x, 2, NULL, 0, 2, k, t, &err);
    ntk_arch_free(arch);
    if (s) { printf("%s\n", err.msg); return 1; }
    const double pi = acos(-1.0), q = 0.5, q12 = 0.3, th = acos(q12 / q);
    const double T = (sqrt(q * q - q12 * q12) + (pi - th) * q12) / (2 * pi), Td = (pi - th) / (2 * pi);
    const double k_ref[4] = {q / 2, T, T, q / 2}, t_ref[4] = {q, T + q12 * Td, T + q12 * Td, q};
    int bad = 0;
    for (int i = 0; i < 4; i++)
        if (fabs(k[i] - k_ref[i]) > 64 * DBL_EPSILON || fabs(t[i] - t_ref[i]) > 64 * DBL_EPSILON) {
            printf("entry %d: NNGP %.17g (closed form %.17g), NTK %.17g (closed form %.17g)\n", i, k[i], k_ref[i],
                   t[i], t_ref[i]);
            bad = 1;
        }
    if (!bad) printf("ok %s\n", ntk_version());
    return bad;
}
EOF

# run_consumer NAME EXE [shared|static]: runs EXE (no LD_LIBRARY_PATH), which
# must print "ok"; a shared one must load libntk from the moved prefix, a
# static one no libntk at all.
run_consumer() {
    local name=$1 exe=$2 kind=$3
    if [ ! -x "$exe" ]; then record bad "$name" "not built"; return; fi
    local out rc
    out=$("$exe" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && grep -q '^ok ' <<<"$out"; then record ok "$name runs"; else record bad "$name runs" "exit $rc: $out"; fi
    local l so
    l=$(ldd "$exe" 2>&1 | grep 'libntk')
    if [ "$kind" = shared ]; then
        so=$(sed -n 's/.*=> \(.*libntk\.so[^ ]*\) .*/\1/p' <<<"$l")
        if [ -n "$so" ] && [ "$(dirname "$(readlink -f "$so")")" = "$(readlink -f "$LIB")" ]; then
            record ok "$name loads the installed libntk.so"
        else
            record bad "$name loads the installed libntk.so" "ldd: ${l:-no libntk}"
        fi
    else
        check "$name needs no libntk.so" "ldd: $l" test -z "$l"
    fi
    l=$(ldd "$exe" 2>&1 | grep 'not found')
    check "$name: every library found" "ldd: $l" test -z "$l"
}

# --- find_package(ntk)
mkdir -p "$W/cm"
cat >"$W/cm/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(ntk_consumer C)
# 0.x: only the same minor version is compatible
foreach(v 0.0 0.2 1.0)
  find_package(ntk \${v} QUIET)
  if(ntk_FOUND)
    message(FATAL_ERROR "find_package(ntk \${v}) accepted ntk \${ntk_VERSION}")
  endif()
endforeach()
find_package(ntk 0.1 REQUIRED)
foreach(v shared static)
  add_executable(use_\${v} $W/consumer.c)
  target_compile_definitions(use_\${v} PRIVATE EXPECT_VERSION="\${ntk_VERSION}")
  target_link_libraries(use_\${v} PRIVATE m)
endforeach()
target_link_libraries(use_shared PRIVATE ntk::ntk)
target_link_libraries(use_static PRIVATE ntk::ntk_static)
EOF
if "$CMAKE" -S "$W/cm" -B "$W/cm/build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_C_FLAGS="$SAN_FLAGS" -DCMAKE_EXE_LINKER_FLAGS="$SAN_FLAGS" >"$W/cm.log" 2>&1 &&
    "$CMAKE" --build "$W/cm/build" >>"$W/cm.log" 2>&1; then
    record ok "find_package(ntk 0.1) consumer builds"
    run_consumer "find_package ntk::ntk" "$W/cm/build/use_shared" shared
    run_consumer "find_package ntk::ntk_static" "$W/cm/build/use_static" static
else
    record bad "find_package(ntk 0.1) consumer builds" "$(grep -v '^--' "$W/cm.log" | tail -15)"
fi

# --- pkg-config
export PKG_CONFIG_PATH=$PCDIR
pcver=$(pkg-config --modversion ntk 2>&1)
check "pkg-config finds ntk" "pkg-config: $pcver" grep -q '^[0-9]' <<<"$pcver"
# shellcheck disable=SC2046  # word splitting of the flags is intended
if $CC $SAN_FLAGS -DEXPECT_VERSION="\"$pcver\"" $(pkg-config --cflags ntk) "$W/consumer.c" -o "$W/use_pc" \
    $(pkg-config --libs ntk) -lm >"$W/pc.log" 2>&1; then
    record ok "pkg-config consumer builds"
    run_consumer "pkg-config -lntk" "$W/use_pc" shared
else
    record bad "pkg-config consumer builds" "$(tail -5 "$W/pc.log")"
fi

# --- exported symbols = the functions ntk.h declares
if (cd "$W" && $CC -aux-info "$W/aux.txt" -x c -c "$P/include/ntk.h" -o /dev/null) 2>"$W/aux.log"; then
    grep -F "$P/include/ntk.h:" "$W/aux.txt" | sed -n 's/.*[ *]\(ntk_[A-Za-z0-9_]*\) (.*/\1/p' | sort -u >"$W/declared"
else
    # not GCC: the names followed by "(" in the preprocessed header
    $CC -E -P -x c "$P/include/ntk.h" | tr '\n' ' ' | grep -o 'ntk_[A-Za-z0-9_]* *(' | tr -d ' (' | sort -u >"$W/declared"
fi
nm -D --defined-only "$LIB/libntk.so" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$W/exported"
nm -D --defined-only "$LIB/libntk.so" | awk '$2 != "T" {print $2, $NF}' >"$W/notfunc"
ndecl=$(wc -l <"$W/declared")
check "ntk.h declares functions" "found $ndecl in $P/include/ntk.h" test "$ndecl" -ge 50
extra=$(comm -13 "$W/declared" "$W/exported" | tr '\n' ' ')
missing=$(comm -23 "$W/declared" "$W/exported" | tr '\n' ' ')
check "exports nothing ntk.h does not declare" "exported but not declared: $extra" test -z "$extra"
check "exports everything ntk.h declares" "declared but not exported (or not defined): $missing" test -z "$missing"
check "exports only functions" "not plain functions: $(tr '\n' ' ' <"$W/notfunc")" test ! -s "$W/notfunc"

finish
