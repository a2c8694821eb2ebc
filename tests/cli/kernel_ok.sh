#!/usr/bin/env bash
# kernel_ok.sh — the `ntk` command's happy paths and the consistency of its
# outputs: CSV/.npy in and out, --get ntk,nngp equal (bitwise) to single
# runs, results independent of --threads (bitwise), --diag equal to the
# diagonal of the full kernel, --x2 = X1 equal to the symmetric run, an --x2
# block equal to the off-diagonal block of the stacked inputs, column
# selection by name and index, --arch @FILE, --param.
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the
# source tree) and TMPDIR (a scratch folder). Ends with "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"

# close_rel_csv NAME FILE REF TOL [PART]: two CSV matrices of the same shape,
# with |a - b| <= TOL * |b| entry by entry (non-numeric fields rejected);
# PART = all (default), diag or offdiag: which entries are compared.
close_rel_csv() {
    local msg
    msg=$(awk -F, -v tol="$4" -v part="${5:-all}" '
        function num(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
        FNR == NR { nf1[FNR] = NF; for (j = 1; j <= NF; j++) a[FNR, j] = $j; n1 = FNR; next }
        {
            n2 = FNR
            if (NF != nf1[FNR]) { printf "row %d: %d fields vs %d\n", FNR, nf1[FNR], NF; bad = 1; exit }
            for (j = 1; j <= NF; j++) {
                if ((part == "diag" && j != FNR) || (part == "offdiag" && j == FNR)) continue
                x = a[FNR, j]; y = $j
                if (!num(x) || !num(y)) { printf "row %d, column %d: not numbers: %s %s\n", FNR, j, x, y; bad = 1; exit }
                d = x - y; if (d < 0) d = -d
                r = y < 0 ? -y : y
                if (d > tol * r) { printf "row %d, column %d: %.17g vs %.17g (|diff| %.3g > %s relative)\n", FNR, j, x, y, d, tol; bad = 1; exit }
            }
        }
        END { if (!bad && n1 != n2) printf "%d rows vs %d\n", n1, n2 }
    ' "$2" "$3" 2>&1)
    if [ -z "$msg" ] && [ -s "$2" ]; then record ok "$1"; else record bad "$1" "$2 vs $3: ${msg:-empty file}"; fi
}

# has_text FILE TEXT: FILE contains TEXT (fixed string; binary files too).
has_text() { grep -aqF -- "$2" "$1"; }

# npy_header FILE: the printable part of the first 128 bytes of a .npy file.
npy_header() { head -c 128 "$1" | tr -cd '[:print:]'; }

# ------------------------------------------------------------ inputs

A='dense(64,w_std=1.5,b_std=0.05),relu,dense(64,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)'
# X: 40 points in d = 3, deterministic, with a zero row (a kernel corner case)
awk 'BEGIN { for (i = 1; i <= 40; i++) { for (j = 1; j <= 3; j++) {
        v = (i == 7) ? 0 : sin(1.3 * i + 0.7 * j) * (1 + 0.1 * j)
        printf "%s%.6f", (j > 1 ? "," : ""), v }
    printf "\n" } }' >"$W/x.csv"
X="$W/x.csv"
# X1 = first 25 rows, X2 = the other 15
head -n 25 "$X" >"$W/x1.csv"
tail -n 15 "$X" >"$W/x2.csv"
# a labelled CSV: header, an id column, the 3 features, a text label
awk -F, 'BEGIN { print "id,f1,f2,f3,label" } { printf "%d,%s,%s,%s,class%d\n", NR, $1, $2, $3, NR % 3 }' "$X" >"$W/labelled.csv"
# the same without a header, with a numeric label column
awk -F, '{ printf "%d,%s,%s,%s,%d\n", NR, $1, $2, $3, NR % 3 }' "$X" >"$W/unlabelled.csv"
# the features with a header only
awk -F, 'BEGIN { print "f1,f2,f3" } { print }' "$X" >"$W/header.csv"

# ------------------------------------------------------------ CSV in, .npy and .csv out

if run "csv -> npy" kernel --arch "$A" --x1 "$X" --out "$W/k.npy" --quiet; then
    hdr=$(npy_header "$W/k.npy")
    check "npy magic" "$hdr" [ "${hdr:0:5}" = NUMPY ]
    check "npy header: shape (40, 40)" "$hdr" has_text "$W/k.npy" "'shape': (40, 40)"
    # 128-byte header + 40*40 doubles
    size=$(wc -c <"$W/k.npy")
    check "npy size" "$size bytes" [ "$size" -eq $((128 + 40 * 40 * 8)) ]
fi
if run "csv -> csv" kernel --arch "$A" --x1 "$X" --out "$W/k.csv" --quiet; then
    shape=$(shape_csv "$W/k.csv")
    check "csv shape 40 x 40" "$shape" [ "$shape" = "40 40" ]
    # symmetric (one triangle computed, mirrored: exactly), positive diagonal
    msg=$(awk -F, '{ for (j = 1; j <= NF; j++) k[NR, j] = $j; n = NR }
        END { for (i = 1; i <= n; i++) { if (!(k[i, i] > 0)) { print "K[" i "," i "] = " k[i, i]; exit }
                for (j = 1; j < i; j++) if (k[i, j] != k[j, i]) { print "K[" i "," j "] != K[" j "," i "]"; exit } } }' "$W/k.csv")
    check "csv output symmetric, positive diagonal" "$msg" [ -z "$msg" ]
fi
# the summary line without --quiet: one line on stderr, nothing on stdout
"$NTK_BIN" kernel --arch "$A" --x1 "$X" --out "$W/k_loud.npy" >"$W/stdout" 2>"$W/stderr"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$W/stdout" ] && [ "$(wc -l <"$W/stderr")" -eq 1 ] &&
    grep -qF "ntk kernel: NTK 40 x 40 (d = 3)" "$W/stderr" && grep -qF "$W/k_loud.npy" "$W/stderr"; then
    record ok "summary line"
else
    record bad "summary line" "exit $rc, stderr: $(cat "$W/stderr")"
fi
same_bytes "--quiet does not change the output" "$W/k.npy" "$W/k_loud.npy"
# upper-case extensions are formats too
run "upper-case .CSV output" kernel --arch "$A" --x1 "$X" --out "$W/k_upper.CSV" --quiet &&
    same_bytes ".CSV equals .csv" "$W/k.csv" "$W/k_upper.CSV"
# an existing output is replaced
printf 'old\n' >"$W/k_old.csv"
run "existing output replaced" kernel --arch "$A" --x1 "$X" --out "$W/k_old.csv" --quiet &&
    same_bytes "replaced output is the new kernel" "$W/k.csv" "$W/k_old.csv"

# .npy and .csv inputs holding the same numbers give the same kernel: the
# 40x40 kernel itself, written both ways (%.17g CSV reads back exactly)
run "npy input" kernel --arch "$A" --x1 "$W/k.npy" --out "$W/kk_from_npy.npy" --quiet
run "csv input" kernel --arch "$A" --x1 "$W/k.csv" --out "$W/kk_from_csv.npy" --quiet
same_bytes "npy and csv inputs agree" "$W/kk_from_npy.npy" "$W/kk_from_csv.npy"

# ------------------------------------------------------------ --get ntk,nngp

run "--get ntk" kernel --arch "$A" --x1 "$X" --get ntk --out "$W/g_ntk.npy" --quiet
run "--get nngp" kernel --arch "$A" --x1 "$X" --get nngp --out "$W/g_nngp.npy" --quiet
run "--get ntk,nngp" kernel --arch "$A" --x1 "$X" --get ntk,nngp --out "$W/b_ntk.npy,$W/b_nngp.npy" --quiet
run "--get nngp,ntk" kernel --arch "$A" --x1 "$X" --get nngp,ntk --out "$W/r_nngp.npy,$W/r_ntk.npy" --quiet
same_bytes "default --get is ntk" "$W/k.npy" "$W/g_ntk.npy"
same_bytes "ntk of ntk,nngp = ntk alone" "$W/g_ntk.npy" "$W/b_ntk.npy"
same_bytes "nngp of ntk,nngp = nngp alone" "$W/g_nngp.npy" "$W/b_nngp.npy"
same_bytes "ntk of nngp,ntk = ntk alone" "$W/g_ntk.npy" "$W/r_ntk.npy"
same_bytes "nngp of nngp,ntk = nngp alone" "$W/g_nngp.npy" "$W/r_nngp.npy"
if cmp -s "$W/g_ntk.npy" "$W/g_nngp.npy"; then
    record bad "NTK and NNGP differ" "identical files"
else
    record ok "NTK and NNGP differ"
fi
run "--get ntk,nngp to csv" kernel --arch "$A" --x1 "$X" --get ntk,nngp --out "$W/b_ntk.csv,$W/b_nngp.csv" --quiet
same_bytes "ntk csv of ntk,nngp = ntk alone" "$W/k.csv" "$W/b_ntk.csv"

# ------------------------------------------------------------ threads

for fmt in npy csv; do
    run "--threads 1 ($fmt)" kernel --arch "$A" --x1 "$X" --get ntk,nngp --threads 1 \
        --out "$W/t1_ntk.$fmt,$W/t1_nngp.$fmt" --quiet
    run "--threads 2 ($fmt)" kernel --arch "$A" --x1 "$X" --get ntk,nngp --threads 2 \
        --out "$W/t2_ntk.$fmt,$W/t2_nngp.$fmt" --quiet
    run "--threads 7 ($fmt)" kernel --arch "$A" --x1 "$X" --get ntk,nngp --threads=7 \
        --out "$W/t7_ntk.$fmt,$W/t7_nngp.$fmt" --quiet
    same_bytes "ntk: threads 1 = threads 2 ($fmt)" "$W/t1_ntk.$fmt" "$W/t2_ntk.$fmt"
    same_bytes "nngp: threads 1 = threads 2 ($fmt)" "$W/t1_nngp.$fmt" "$W/t2_nngp.$fmt"
    same_bytes "ntk: threads 1 = threads 7 ($fmt)" "$W/t1_ntk.$fmt" "$W/t7_ntk.$fmt"
done
same_bytes "threads 1 = default threads" "$W/k.npy" "$W/t1_ntk.npy"
# an asymmetric kernel and a quadrature activation, too
AT='dense(8,b_std=0.1),tanh,dense(1)'
run "--threads 1, X2, tanh" kernel --arch "$AT" --x1 "$W/x1.csv" --x2 "$W/x2.csv" --threads 1 --out "$W/tt1.npy" --quiet
run "--threads 2, X2, tanh" kernel --arch "$AT" --x1 "$W/x1.csv" --x2 "$W/x2.csv" --threads 2 --out "$W/tt2.npy" --quiet
same_bytes "tanh X1 x X2: threads 1 = threads 2" "$W/tt1.npy" "$W/tt2.npy"

# ------------------------------------------------------------ --diag

diag_of() { awk -F, '{ printf "%s\n", $NR }' "$1"; }
for get in ntk nngp; do
    run "full $get (csv)" kernel --arch "$A" --x1 "$X" --get $get --out "$W/full_$get.csv" --quiet
    if run "--diag $get" kernel --arch "$A" --x1 "$X" --get $get --diag --out "$W/diag_$get.csv" --quiet; then
        shape=$(shape_csv "$W/diag_$get.csv")
        check "--diag $get: 40 values" "shape $shape" [ "$shape" = "40 1" ]
        diag_of "$W/full_$get.csv" >"$W/fdiag_$get.csv"
        close_rel_csv "--diag $get = diagonal of the full kernel (1e-15)" "$W/diag_$get.csv" "$W/fdiag_$get.csv" 1e-15
    fi
done
if run "--diag ntk,nngp to npy" kernel --arch "$A" --x1 "$X" --get ntk,nngp --diag --out "$W/d_ntk.npy,$W/d_nngp.npy" --quiet; then
    check "--diag npy is 1-D" "$(npy_header "$W/d_ntk.npy")" has_text "$W/d_ntk.npy" "'shape': (40,)"
fi

# ------------------------------------------------------------ --x2

# The general X1 x X2 path against the symmetric one. Off the diagonal and
# on it separately: a point paired with itself is where the arc-cosine
# kernels are ill-conditioned (θ ≈ √(2(1−ρ)): one ulp in the Gram entry
# gives θ ≈ 1.5e-8), so the diagonal is a check in its own right.
run "--x2 = --x1 (same file)" kernel --arch "$A" --x1 "$X" --x2 "$X" --get ntk,nngp \
    --out "$W/xx_ntk.csv,$W/xx_nngp.csv" --quiet
for get in ntk nngp; do
    for part in offdiag diag; do
        close_rel_csv "$get: --x2 X1 = no --x2, $part (1e-12)" "$W/xx_$get.csv" "$W/full_$get.csv" 1e-12 $part
    done
done
cp "$X" "$W/x_copy.csv"
run "--x2 = a copy of --x1" kernel --arch "$A" --x1 "$X" --x2 "$W/x_copy.csv" --out "$W/xc_ntk.csv" --quiet
same_bytes "--x2 copy of X1 = --x2 X1 itself" "$W/xc_ntk.csv" "$W/xx_ntk.csv"
# X1 x X2 is the off-diagonal block of the kernel of the stacked rows
if run "--x1 X1 --x2 X2" kernel --arch "$A" --x1 "$W/x1.csv" --x2 "$W/x2.csv" --out "$W/x12.csv" --quiet; then
    shape=$(shape_csv "$W/x12.csv")
    check "X1 x X2 shape 25 x 15" "$shape" [ "$shape" = "25 15" ]
    awk -F, 'NR <= 25 { for (j = 26; j <= 40; j++) printf "%s%s", $j, (j < 40 ? "," : "\n") }' \
        "$W/full_ntk.csv" >"$W/block.csv"
    close_rel_csv "X1 x X2 = block of the stacked kernel (1e-12)" "$W/x12.csv" "$W/block.csv" 1e-12
fi
if run "--x1 X2 --x2 X1" kernel --arch "$A" --x1 "$W/x2.csv" --x2 "$W/x1.csv" --out "$W/x21.csv" --quiet; then
    # the transpose of X1 x X2, exactly: each entry is one function of (x, x')
    awk -F, '{ for (j = 1; j <= NF; j++) k[NR, j] = $j; n = NR; m = NF }
        END { for (j = 1; j <= m; j++) for (i = 1; i <= n; i++) printf "%s%s", k[i, j], (i < n ? "," : "\n") }' \
        "$W/x12.csv" >"$W/x12t.csv"
    close_rel_csv "X2 x X1 = transpose of X1 x X2 (1e-14)" "$W/x21.csv" "$W/x12t.csv" 1e-14
fi

# ------------------------------------------------------------ --columns and --header

run "plain features" kernel --arch "$A" --x1 "$X" --out "$W/c_ref.npy" --quiet
run "--columns by name" kernel --arch "$A" --x1 "$W/labelled.csv" --columns f1,f2,f3 --out "$W/c_name.npy" --quiet
run "--columns by index" kernel --arch "$A" --x1 "$W/labelled.csv" --columns 2,3,4 --out "$W/c_idx.npy" --quiet
run "--columns by range" kernel --arch "$A" --x1 "$W/labelled.csv" --columns 2-4 --out "$W/c_range.npy" --quiet
run "--columns, --header yes" kernel --arch "$A" --x1 "$W/labelled.csv" --columns 2-4 --header yes \
    --out "$W/c_yes.npy" --quiet
run "--columns, --header no" kernel --arch "$A" --x1 "$W/unlabelled.csv" --columns 2-4 --header no \
    --out "$W/c_no.npy" --quiet
run "--columns, header auto-detected absent" kernel --arch "$A" --x1 "$W/unlabelled.csv" --columns "2, 3-4" \
    --out "$W/c_auto.npy" --quiet
run "header row, all columns" kernel --arch "$A" --x1 "$W/header.csv" --out "$W/c_hdr.npy" --quiet
run "--header auto explicit" kernel --arch "$A" --x1 "$W/header.csv" --header auto --out "$W/c_hdr_auto.npy" --quiet
run "--header no on plain data" kernel --arch "$A" --x1 "$X" --header no --out "$W/c_plain_no.npy" --quiet
for c in name idx range yes no auto hdr hdr_auto plain_no; do
    same_bytes "columns/header: $c = plain features" "$W/c_ref.npy" "$W/c_$c.npy"
done
# --columns on .npy input, and applied to --x2 as well
if run "--columns on npy input" kernel --arch "$A" --x1 "$W/k.npy" --columns 1-3 --out "$W/c_npy.csv" --quiet; then
    # the first 3 columns of the 40x40 kernel as 40 points in d = 3
    shape=$(shape_csv "$W/c_npy.csv")
    check "--columns on npy: 40 x 40" "$shape" [ "$shape" = "40 40" ]
    awk -F, '{ print $1 "," $2 "," $3 }' "$W/k.csv" >"$W/k3.csv"
    run "first 3 columns as csv" kernel --arch "$A" --x1 "$W/k3.csv" --out "$W/c_k3.csv" --quiet &&
        same_bytes "--columns 1-3 on npy = those columns as csv" "$W/c_k3.csv" "$W/c_npy.csv"
fi
run "--columns with --x2" kernel --arch "$A" --x1 "$W/labelled.csv" --x2 "$W/labelled.csv" --columns f1,f2,f3 \
    --out "$W/c_x2.csv" --quiet &&
    same_bytes "--columns with --x2 = plain features with --x2" "$W/c_x2.csv" "$W/xx_ntk.csv"

# ------------------------------------------------------------ --arch @FILE, --param, --numeric

printf 'dense(64, w_std=1.5, b_std=0.05),\n  relu,\n  dense(64, w_std=1.5, b_std=0.05), relu,\n  dense(1, w_std=1.5)\n' \
    >"$W/net.spec"
run "--arch @file" kernel --arch "@$W/net.spec" --x1 "$X" --out "$W/a_file.npy" --quiet &&
    same_bytes "--arch @file = inline spec" "$W/k.npy" "$W/a_file.npy"
run "--param standard" kernel --arch "$A" --x1 "$X" --param standard --out "$W/p_std.npy" --quiet
AS='dense(64,w_std=1.5,b_std=0.05,param=standard),relu,dense(64,w_std=1.5,b_std=0.05,param=standard),relu,dense(1,w_std=1.5,param=standard)'
run "param=standard per layer" kernel --arch "$AS" --x1 "$X" --out "$W/p_layer.npy" --quiet
same_bytes "--param standard = param=standard on every layer" "$W/p_std.npy" "$W/p_layer.npy"
run "--param ntk" kernel --arch "$A" --x1 "$X" --param ntk --out "$W/p_ntk.npy" --quiet
same_bytes "--param ntk = default" "$W/k.npy" "$W/p_ntk.npy"
if cmp -s "$W/p_std.npy" "$W/k.npy"; then
    record bad "standard and ntk parameterizations differ" "identical files"
else
    record ok "standard and ntk parameterizations differ"
fi
# quadrature against the closed form (loosely: this checks the flags reach the library)
run "--numeric" kernel --arch "$A" --x1 "$X" --numeric --out "$W/q.csv" --quiet &&
    close_rel_csv "--numeric = closed form (1e-6)" "$W/q.csv" "$W/full_ntk.csv" 1e-6
run "--numeric --quad-degree 40" kernel --arch "$A" --x1 "$X" --numeric --quad-degree 40 --out "$W/q40.csv" --quiet &&
    close_rel_csv "--quad-degree 40 = closed form (1e-6)" "$W/q40.csv" "$W/full_ntk.csv" 1e-6

# (ntk demo is tested in tests/cli/compare.sh)

finish
