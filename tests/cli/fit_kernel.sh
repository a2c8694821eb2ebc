#!/usr/bin/env bash
# fit_kernel.sh — the everyday workflow of `ntk fit` / `ntk predict` and the
# data flags of every command, against facts independent of the code:
#   - kernel reuse: the kernels 'ntk kernel' writes, given to 'fit
#     --kernel-file' and 'predict --kernel-file' (NTK and NNGP models, with
#     variances, --inf-only, without --arch), give the files that 'fit
#     --arch' and 'predict --x' give, byte for byte (the same kernel calls
#     and the same code after them), and a ridge sweep over one kernel file
#     equals the sweep that recomputes it;
#   - --rows A:B equals a file cut to those rows beforehand (awk), in fit,
#     predict, kernel (--rows2), empirical, features, apply, train, compare;
#     --scale S equals inputs multiplied beforehand (by 1/2: exact), in every
#     command, and never touches targets;
#   - one network's predictions: the kernel prediction with the empirical
#     NTK and f0 of a network saved by 'ntk train --steps 0' is its
#     linearization trained by 'ntk train --linearized' (to rounding), and
#     within a few per cent of the network trained by 'ntk train' — closer
#     than the ensemble mean;
#   - every refusal: bad ranges, ranges past the end (flag, file and row
#     count named), kernel files of the wrong shape, asymmetric, with NaN,
#     of another network, missing files for --cov, f0 files of the wrong
#     shape, flags that need others; one line on stderr, outputs untouched.
#
# Run by ctest with NTK_BIN, NTK_TEST_DIR and TMPDIR. Ends with "N passed,
# M failed".
set -u

: "${NTK_TEST_DIR:?NTK_TEST_DIR must name the tests folder}"
. "$(dirname "$0")/lib.sh"
run_stdout=keep

# ------------------------------------------------------------ inputs

A='dense(64,w_std=1.5,b_std=0.05),relu,dense(64,w_std=1.5,b_std=0.05),relu,dense(2,w_std=1.5,b_std=0.05)'
awk 'BEGIN { for (i = 1; i <= 30; i++) { for (j = 1; j <= 3; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), sin(1.3 * i + 0.7 * j) * (1 + 0.1 * j)
    printf "\n" } }' >"$W/x.csv"
awk -F, '{ printf "%.6f,%.6f\n", $1 * $2 + 0.5 * $3, cos($1) - $2 }' "$W/x.csv" >"$W/y.csv"
awk 'BEGIN { for (i = 1; i <= 7; i++) { for (j = 1; j <= 3; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), cos(0.9 * i + 0.4 * j)
    printf "\n" } }' >"$W/e.csv"
half() { awk -F, -v OFS=, '{ for (j = 1; j <= NF; j++) $j = sprintf("%.17g", $j / 2); print }' "$1"; }
half "$W/x.csv" >"$W/x_half.csv"
half "$W/e.csv" >"$W/e_half.csv"
# rows 5..24 (0-based, STOP 25 excluded) = lines 6..25
cut_rows() { awk -v a="$2" -v b="$3" 'NR > a && NR <= b' "$1"; }
cut_rows "$W/x.csv" 5 25 >"$W/x_5_25.csv"
cut_rows "$W/y.csv" 5 25 >"$W/y_5_25.csv"
cut_rows "$W/e.csv" 2 6 >"$W/e_2_6.csv"
X="$W/x.csv" Y="$W/y.csv" E="$W/e.csv"

# ------------------------------------------------------------ kernel reuse: byte for byte

for kind in ntk nngp; do
    if [ $kind = ntk ]; then get=ntk,nngp; ko="$W/K_$kind.npy,$W/KN_$kind.npy"; to="$W/Kt_$kind.npy,$W/KNt_$kind.npy"
    else get=nngp; ko="$W/K_$kind.npy"; to="$W/Kt_$kind.npy"; fi
    run "kernel train ($kind)" kernel --arch "$A" --x1 "$X" --scale 1/2 --get $get --out "$ko" --quiet
    run "kernel test x train ($kind)" kernel --arch "$A" --x1 "$E" --x2 "$X" --scale 1/2 --get $get --out "$to" --quiet
    nf=()
    [ $kind = ntk ] && nf=(--nngp-file "$W/KN_$kind.npy")
    for r in 0 1e-3; do
        run "fit --arch ($kind, ridge $r)" fit --arch "$A" --kernel $kind --x "$X" --y "$Y" --scale 1/2 --ridge $r \
            --model "$W/ma_${kind}_$r.npz" --quiet
        run "fit --kernel-file ($kind, ridge $r)" fit --arch "$A" --kernel $kind --kernel-file "$W/K_$kind.npy" \
            "${nf[@]}" --x "$X" --y "$Y" --scale 1/2 --ridge $r --model "$W/mk_${kind}_$r.npz" --quiet
        run "predict --x ($kind, ridge $r)" predict --model "$W/ma_${kind}_$r.npz" --x "$E" --time 0,1,10,inf --cov \
            --var-out "$W/va_${kind}_$r.npy" --out "$W/pa_${kind}_$r.npy" --quiet
    done
done
run "kernel --diag --get nngp (test)" kernel --arch "$A" --x1 "$E" --scale 1/2 --diag --get nngp --out "$W/KNtt.npy" --quiet
for kind in ntk nngp; do
    pf=()
    [ $kind = ntk ] && pf=(--nngp-file "$W/KNt_$kind.npy")
    for r in 0 1e-3; do
        run "predict --kernel-file ($kind, ridge $r)" predict --model "$W/mk_${kind}_$r.npz" \
            --kernel-file "$W/Kt_$kind.npy" "${pf[@]}" --nngp-diag-file "$W/KNtt.npy" --time 0,1,10,inf --cov \
            --var-out "$W/vk_${kind}_$r.npy" --out "$W/pk_${kind}_$r.npy" --quiet &&
            same_bytes "kernel files = --arch: means ($kind, ridge $r)" "$W/pk_${kind}_$r.npy" "$W/pa_${kind}_$r.npy" &&
            same_bytes "kernel files = --arch: variances ($kind, ridge $r)" "$W/vk_${kind}_$r.npy" "$W/va_${kind}_$r.npy"
        run "predict --x, model of a kernel file ($kind, ridge $r)" predict --model "$W/mk_${kind}_$r.npz" --x "$E" \
            --time 0,1,10,inf --out "$W/px_${kind}_$r.npy" --quiet &&
            same_bytes "model of a kernel file, test kernel from --arch ($kind, ridge $r)" "$W/px_${kind}_$r.npy" \
                "$W/pa_${kind}_$r.npy"
    done
    differ "the ridge changes the predictions ($kind)" "$W/pk_${kind}_0.npy" "$W/pk_${kind}_1e-3.npy"
done
# --inf-only and no --arch (any kernel): the same numbers again
run "fit --kernel-file --inf-only" fit --arch "$A" --kernel-file "$W/K_ntk.npy" --x "$X" --y "$Y" --scale 1/2 \
    --ridge 1e-3 --inf-only --model "$W/mki.npz" --quiet
run "fit --inf-only (arch)" fit --arch "$A" --x "$X" --y "$Y" --scale 1/2 --ridge 1e-3 --inf-only --model "$W/mai.npz" --quiet
run "predict, inf-only, kernel file" predict --model "$W/mki.npz" --kernel-file "$W/Kt_ntk.npy" --out "$W/pki.npy" --quiet
run "predict, inf-only, arch" predict --model "$W/mai.npz" --x "$E" --out "$W/pai.npy" --quiet
same_bytes "--inf-only: kernel files = --arch" "$W/pki.npy" "$W/pai.npy"
run "fit --kernel-file without --arch" fit --kernel-file "$W/K_ntk.npy" --x "$X" --y "$Y" --ridge 1e-3 \
    --model "$W/mn.npz" --quiet
run "predict, no arch" predict --model "$W/mn.npz" --kernel-file "$W/Kt_ntk.npy" --time 0,1,10,inf --out "$W/pn.npy" \
    --quiet && same_bytes "without --arch: the same means" "$W/pn.npy" "$W/pa_ntk_1e-3.npy"
if command -v unzip >/dev/null; then
    meta=$(unzip -p "$W/mk_ntk_0.npz" meta.txt)
    check "meta.txt: format 2, the source, its checksum" "$meta" \
        bash -c 'grep -qx "format = ntk-model 2" <<<"$1" && grep -qx "kernel_source = given" <<<"$1" &&
                 grep -qx "kernel_name = $2" <<<"$1" && grep -qE "^kernel_checksum = [0-9a-f]{16}$" <<<"$1" &&
                 grep -qx "nngp_name = $3" <<<"$1" && grep -qx "arch = 1" <<<"$1"' _ "$meta" "$W/K_ntk.npy" "$W/KN_ntk.npy"
    meta=$(unzip -p "$W/ma_ntk_0.npz" meta.txt)
    check "meta.txt of a computed kernel: format 1, no source lines" "$meta" \
        bash -c 'grep -qx "format = ntk-model 1" <<<"$1" && ! grep -q kernel_source <<<"$1"' _ "$meta"
fi
"$NTK_BIN" fit --arch "$A" --kernel-file "$W/K_ntk.npy" --x "$X" --y "$Y" --scale 1/2 --model "$W/ms.npz" 2>"$W/stderr"
check "fit summary names the kernel file and checksum, no variances" "$(cat "$W/stderr")" \
    bash -c 'grep -q "from $1 (checksum [0-9a-f]\{16\}, checked against --arch)" "$2" && grep -q "no --nngp-file" "$2"' \
    _ "$W/K_ntk.npy" "$W/stderr"

# ------------------------------------------------------------ --rows and --scale = files prepared beforehand

run "fit --rows 5:25" fit --arch "$A" --x "$X" --y "$Y" --rows 5:25 --model "$W/mr.npz" --quiet
run "fit on the cut files" fit --arch "$A" --x "$W/x_5_25.csv" --y "$W/y_5_25.csv" --model "$W/mc.npz" --quiet
same_bytes "fit --rows = cut files" "$W/mr.npz" "$W/mc.npz"
run "fit --rows :25 --limit-like" fit --arch "$A" --x "$W/x_5_25.csv" --y "$W/y_5_25.csv" --rows :20 --model "$W/mr2.npz" --quiet
same_bytes "--rows :20 of 20 rows = all" "$W/mr2.npz" "$W/mc.npz"
run "predict --rows 2:6" predict --model "$W/mc.npz" --x "$E" --rows 2:6 --out "$W/pr.csv" --quiet
run "predict the cut file" predict --model "$W/mc.npz" --x "$W/e_2_6.csv" --out "$W/pc.csv" --quiet
same_bytes "predict --rows = cut file" "$W/pr.csv" "$W/pc.csv"
run "kernel --rows --rows2" kernel --arch "$A" --x1 "$E" --rows 2:6 --x2 "$X" --rows2 5:25 --out "$W/kr.npy" --quiet
run "kernel of the cut files" kernel --arch "$A" --x1 "$W/e_2_6.csv" --x2 "$W/x_5_25.csv" --out "$W/kc.npy" --quiet
same_bytes "kernel --rows/--rows2 = cut files" "$W/kr.npy" "$W/kc.npy"
run "kernel --rows 5:" kernel --arch "$A" --x1 "$X" --rows 5: --diag --out "$W/kd1.csv" --quiet
run "kernel --diag of the rows from 5" kernel --arch "$A" --x1 "$X" --diag --out "$W/kd_all.csv" --quiet
check "kernel --rows 5: = rows 5.. of the whole" "" cmp -s "$W/kd1.csv" <(awk 'NR > 5' "$W/kd_all.csv")
run "kernel --scale 1/2" kernel --arch "$A" --x1 "$X" --x2 "$E" --scale 1/2 --out "$W/ks.npy" --quiet
run "kernel of halved files" kernel --arch "$A" --x1 "$W/x_half.csv" --x2 "$W/e_half.csv" --out "$W/kh.npy" --quiet
same_bytes "kernel --scale = halved inputs" "$W/ks.npy" "$W/kh.npy"

N1='dense(32,w_std=1.5,b_std=0.1),relu,dense(2,w_std=1.5)'
run "empirical --rows --rows2 --scale" empirical --arch "$N1" --seed 4 --x1 "$X" --rows 5:25 --x2 "$E" --rows2 2:6 \
    --scale 0.5 --get ntk,nngp --out "$W/er.npy,$W/ern.npy" --quiet
cut_rows "$W/x_half.csv" 5 25 >"$W/xh_5_25.csv"
cut_rows "$W/e_half.csv" 2 6 >"$W/eh_2_6.csv"
run "empirical on prepared files" empirical --arch "$N1" --seed 4 --x1 "$W/xh_5_25.csv" --x2 "$W/eh_2_6.csv" \
    --get ntk,nngp --out "$W/ec.npy,$W/ecn.npy" --quiet
same_bytes "empirical --rows/--rows2/--scale = prepared files" "$W/er.npy" "$W/ec.npy"
run "features --rows --scale" features --arch "$N1" --seed 4 --x "$X" --rows 5:25 --scale 0.5 --out "$W/fr.npy" --quiet
run "features on the prepared file" features --arch "$N1" --seed 4 --x "$W/xh_5_25.csv" --out "$W/fc.npy" --quiet
same_bytes "features --rows/--scale = prepared file" "$W/fr.npy" "$W/fc.npy"
run "train --rows --scale" train --arch "$N1" --seed 4 --x "$X" --y "$Y" --rows 5:25 --scale 0.5 --lr 0.5 --steps 20 \
    --save "$W/tr.npz" --eval "$E" --out "$W/tre.csv" --quiet
run "train on prepared files" train --arch "$N1" --seed 4 --x "$W/xh_5_25.csv" --y "$W/y_5_25.csv" --lr 0.5 --steps 20 \
    --save "$W/tc.npz" --eval "$W/e_half.csv" --out "$W/tce.csv" --quiet
same_bytes "train --rows/--scale = prepared files (--y unscaled; --eval scaled)" "$W/tre.csv" "$W/tce.csv"
same_bytes "train --rows/--scale: the same network" "$W/tr.npz" "$W/tc.npz"
run "apply --rows --scale" apply --params "$W/tr.npz" --x "$E" --rows 2:6 --scale 0.5 --out "$W/ar.csv" --quiet
run "apply on the prepared file" apply --params "$W/tr.npz" --x "$W/eh_2_6.csv" --out "$W/ac.csv" --quiet
same_bytes "apply --rows/--scale = prepared file" "$W/ar.csv" "$W/ac.csv"
# compare draws plots: under LeakSanitizer the plotting libraries leave a
# suppression report on stderr, so only the exit status is checked
run_rc() {
    local name=$1
    shift
    if "$NTK_BIN" "$@" >"$W/stdout" 2>"$W/stderr" </dev/null; then record ok "$name"
    else record bad "$name" "$(head -c 300 "$W/stderr")" "command: ntk $*"; fi
}
run_rc "compare --rows --test-rows --scale" compare --arch "$N1" --x "$X" --y "$Y" --rows 5:25 --x-test "$E" \
    --test-rows 2:6 --scale 0.5 --widths 16,32 --steps 20 --out-dir "$W/cr" --quiet
run_rc "compare on prepared files" compare --arch "$N1" --x "$W/xh_5_25.csv" --y "$W/y_5_25.csv" --x-test "$W/eh_2_6.csv" \
    --widths 16,32 --steps 20 --out-dir "$W/cc" --quiet
same_bytes "compare --rows/--test-rows/--scale = prepared files" "$W/cr/compare.csv" "$W/cc/compare.csv"

# ------------------------------------------------------------ one network's predictions (f0)

B1='dense(2048,w_std=1.5,b_std=0.1),relu,dense(1,w_std=1.5,b_std=0.1)'
awk 'BEGIN { for (i = 0; i < 8; i++) { g = 2 * 3.141592653589793 * (i + 0.3) / 8; printf "%.17g,%.17g\n", cos(g), sin(g) } }' >"$W/cx.csv"
awk -F, '{ printf "%.17g\n", $1 * $2 + 0.5 * $1 }' "$W/cx.csv" >"$W/cy.csv"
awk 'BEGIN { for (i = 0; i < 12; i++) { g = 2 * 3.141592653589793 * i / 12; printf "%.17g,%.17g\n", cos(g), sin(g) } }' >"$W/ce.csv"
run "train --steps 0: the network at initialization" train --arch "$B1" --seed 3 --x "$W/cx.csv" --y "$W/cy.csv" --lr 1 \
    --steps 0 --save "$W/init.npz" --quiet
run "train --linearized, 200 steps" train --arch "$B1" --seed 3 --x "$W/cx.csv" --y "$W/cy.csv" --lr 1 --steps 200 \
    --linearized --save "$W/lin.npz" --eval "$W/ce.csv" --out "$W/plin.csv" --quiet
run "f0 on the training points" apply --params "$W/init.npz" --x "$W/cx.csv" --out "$W/f0.csv" --quiet
run "f0 on the test points" apply --params "$W/init.npz" --x "$W/ce.csv" --out "$W/f0t.csv" --quiet
run "its empirical NTK, train" empirical --params "$W/init.npz" --x1 "$W/cx.csv" --out "$W/eK.npy" --quiet
run "its empirical NTK, test x train" empirical --params "$W/init.npz" --x1 "$W/ce.csv" --x2 "$W/cx.csv" --out "$W/eKt.npy" --quiet
run "fit the empirical NTK (no --arch)" fit --kernel-file "$W/eK.npy" --x "$W/cx.csv" --y "$W/cy.csv" --discrete --lr 1 \
    --model "$W/me.npz" --quiet
run "predict with f0" predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --f0-train "$W/f0.csv" \
    --f0-test "$W/f0t.csv" --time 200 --out "$W/pf0.csv" --quiet
run "predict --f0-params" predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --x "$W/ce.csv" \
    --f0-params "$W/init.npz" --time 200 --out "$W/pf0p.csv" --quiet &&
    same_bytes "--f0-params = --f0-train/--f0-test from 'ntk apply'" "$W/pf0p.csv" "$W/pf0.csv"
run "predict --f0-params of a linearized model (its theta0)" predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" \
    --x "$W/ce.csv" --f0-params "$W/lin.npz" --time 200 --out "$W/pf0l.csv" --quiet &&
    same_bytes "--f0-params of the linearized file = of the initial network" "$W/pf0l.csv" "$W/pf0.csv"
run "predict, ensemble mean" predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --time 200 --out "$W/pmean.csv" --quiet
run "predict with f0 at t = 0" predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --f0-train "$W/f0.csv" \
    --f0-test "$W/f0t.csv" --time 0 --out "$W/pf00.csv" --quiet &&
    close_csv "t = 0: f0 itself" "$W/pf00.csv" "$W/f0t.csv" 0
run "train the network, 200 steps" train --arch "$B1" --seed 3 --x "$W/cx.csv" --y "$W/cy.csv" --lr 1 --steps 200 \
    --save "$W/net.npz" --eval "$W/ce.csv" --out "$W/pnet.csv" --quiet
# the linearized network is the kernel prediction with its NTK and f0: to
# the rounding of 200 steps (~200·8·ε relative; 1e-10 leaves room)
close_csv "f0 prediction = the linearized network" "$W/pf0.csv" "$W/plin.csv" 1e-10
# width 2048: the network is its linearization to O(width^-1/2)
close_csv "f0 prediction ~ the trained network (3%)" "$W/pf0.csv" "$W/pnet.csv" 0.03
err_of() { paste -d, "$1" "$2" | awk -F, 'function a(v) { return v < 0 ? -v : v } { d = a($1 - $2); if (d > m) m = d } END { printf "%.17g", m }'; }
check "the ensemble mean is much farther from the network" "f0: $(err_of "$W/pf0.csv" "$W/pnet.csv"), mean: $(err_of "$W/pmean.csv" "$W/pnet.csv")" \
    awk -v a="$(err_of "$W/pf0.csv" "$W/pnet.csv")" -v b="$(err_of "$W/pmean.csv" "$W/pnet.csv")" 'BEGIN { exit !(3 * a < b) }'

# ------------------------------------------------------------ refusals

ntk_commands="fit predict kernel empirical features apply train compare"
O="$W/out.npy"
expect_error "--rows: bad syntax" 2 "$O" "--rows: expected START:STOP" "got '5-25'" -- \
    fit --arch "$A" --x "$X" --y "$Y" --rows 5-25 --model "$W/bad.npz"
expect_error "--rows: negative" 2 "$O" "--rows: expected START:STOP" -- kernel --arch "$A" --x1 "$X" --rows -5: --out "$O"
expect_error "--rows: empty range" 2 "$O" "--rows 7:7: an empty range" -- predict --model "$W/mc.npz" --x "$E" --rows 7:7 --out "$O"
expect_error "--rows with --limit" 2 "$W/bad.npz" "--rows and --limit exclude each other" -- \
    fit --arch "$A" --x "$X" --y "$Y" --rows 0:5 --limit 5 --model "$W/bad.npz"
expect_error "--rows past the end" 1 "$W/bad.npz" "--rows 20:31: --x $X has 30 rows" -- \
    fit --arch "$A" --x "$X" --y "$Y" --rows 20:31 --model "$W/bad.npz"
expect_error "--rows starting past the end" 1 "$O" "--rows 30:: --x1 $X: has 30 rows, so none from row 30 on" -- \
    kernel --arch "$A" --x1 "$X" --rows 30: --out "$O"
expect_error "--rows2 past the end (IDX)" 1 "$O" "--rows2 2:9: --x2" "has 3 rows" -- \
    kernel --arch 'dense(4),relu,dense(1)' --x1 "$NTK_TEST_DIR/data/idx/f32-3d-idx3-ubyte.gz" \
    --x2 "$NTK_TEST_DIR/data/idx/f32-3d-idx3-ubyte.gz" --rows2 2:9 --out "$O"
expect_error "--rows2 without --x2" 2 "$O" "--rows2 selects rows of --x2" -- kernel --arch "$A" --x1 "$X" --rows2 0:3 --out "$O"
expect_error "--scale 0" 2 "$O" "--scale: expected a number > 0" -- apply --params "$W/tr.npz" --x "$E" --scale 0 --out "$O"
expect_error "--scale in empirical" 2 "$O" "--scale: expected a number > 0" -- \
    empirical --arch "$N1" --x1 "$E" --scale 1/0 --out "$O"
expect_error "--rows in train" 1 "$W/bad.npz" "--rows 0:40: --x $X has 30 rows" -- \
    train --arch "$N1" --x "$X" --y "$Y" --rows 0:40 --lr 1 --steps 1 --save "$W/bad.npz"

M0="$W/mk_ntk_0.npz"
expect_error "fit: kernel file of the wrong shape" 1 "$W/bad.npz" "--kernel-file $W/Kt_ntk.npy is 7 x 30" \
    "the training kernel of the --x rows is 30 x 30" -- fit --kernel-file "$W/Kt_ntk.npy" --x "$X" --y "$Y" --model "$W/bad.npz"
expect_error "fit: kernel file of other rows" 1 "$W/bad.npz" "--kernel-file $W/K_ntk.npy is 30 x 30" "is 20 x 20" -- \
    fit --kernel-file "$W/K_ntk.npy" --x "$X" --y "$Y" --rows 5:25 --model "$W/bad.npz"
awk -F, -v OFS=, 'NR == 3 { $5 = $5 * 1.01 } { print }' <(awk 'BEGIN { for (i = 1; i <= 30; i++) { for (j = 1; j <= 30; j++) printf "%s%g", (j > 1 ? "," : ""), (i == j ? 2 : 1 / (1 + (i - j) ^ 2)); printf "\n" } }') >"$W/asym.csv"
expect_error "fit: asymmetric kernel" 1 "$W/bad.npz" "$W/asym.csv: not symmetric: entry (3, 5) is" -- \
    fit --quiet --kernel-file "$W/asym.csv" --x "$X" --y "$Y" --model "$W/bad.npz"
awk -F, -v OFS=, 'NR == 4 { $2 = "nan" } { print }' <(awk 'BEGIN { for (i = 1; i <= 30; i++) { for (j = 1; j <= 30; j++) printf "%s%g", (j > 1 ? "," : ""), (i == j ? 2 : 0); printf "\n" } }') >"$W/nan.csv"
expect_error "fit: NaN in the kernel" 1 "$W/bad.npz" "$W/nan.csv: data row 4, column 2" -- \
    fit --quiet --kernel-file "$W/nan.csv" --x "$X" --y "$Y" --model "$W/bad.npz"
expect_error "fit: the NNGP as the NTK of --arch" 1 "$W/bad.npz" "$W/KN_ntk.npy: entry (1, 1) is" \
    "but the NTK of the architecture there is" "without an architecture" -- \
    fit --quiet --arch "$A" --kernel-file "$W/KN_ntk.npy" --x "$X" --y "$Y" --scale 1/2 --model "$W/bad.npz"
expect_error "fit: a kernel of other inputs (no --scale)" 1 "$W/bad.npz" "$W/K_ntk.npy: entry (1, 1) is" -- \
    fit --quiet --arch "$A" --kernel-file "$W/K_ntk.npy" --x "$X" --y "$Y" --model "$W/bad.npz"
expect_error "fit: --nngp-file without --kernel-file" 2 "$W/bad.npz" "--nngp-file goes with --kernel-file" -- \
    fit --arch "$A" --nngp-file "$W/KN_ntk.npy" --x "$X" --y "$Y" --model "$W/bad.npz"
expect_error "fit: --nngp-file for an NNGP model" 2 "$W/bad.npz" "--nngp-file is for an NTK model" -- \
    fit --kernel nngp --kernel-file "$W/K_nngp.npy" --nngp-file "$W/K_nngp.npy" --x "$X" --y "$Y" --model "$W/bad.npz"
expect_error "fit: neither --arch nor --kernel-file" 2 "$W/bad.npz" "--arch (or --kernel-file" -- \
    fit --x "$X" --y "$Y" --model "$W/bad.npz"

expect_error "predict: no --x and no --kernel-file" 2 "$O" "--x (the points to predict) or --kernel-file" -- \
    predict --model "$M0" --out "$O"
expect_error "predict: model without --arch, no kernel file" 1 "$O" "was fit from a kernel file without --arch" -- \
    predict --model "$W/mn.npz" --x "$E" --out "$O"
expect_error "predict: kernel file with the wrong columns" 1 "$O" "--kernel-file $W/Kt_ntk.npy is 7 x 30" \
    "has N = 20 columns" -- predict --model "$W/mc.npz" --kernel-file "$W/Kt_ntk.npy" --out "$O"
expect_error "predict: kernel file and --x of other rows" 1 "$O" "--kernel-file $W/Kt_ntk.npy is 7 x 30" \
    "the test x train kernel of the --x rows is 4 x 30" -- \
    predict --model "$M0" --kernel-file "$W/Kt_ntk.npy" --x "$E" --rows 2:6 --out "$O"
expect_error "predict: kernel file of other points, checked with --x" 1 "$O" \
    "--kernel-file $W/kc.npy: test x train kernel: entry (1, 1) is" "not this network's NTK" -- \
    predict --model "$W/mc.npz" --kernel-file "$W/kc.npy" --x "$E" --rows 0:4 --out "$O"
expect_error "predict: --cov of an NTK model without --nngp-file at fit" 1 "$O" "without --nngp-file (the train NNGP): no variances" -- \
    predict --model "$W/ms.npz" --kernel-file "$W/Kt_ntk.npy" --cov --out "$O"
expect_error "predict: --cov without --nngp-diag-file" 1 "$O" "--cov with --kernel-file needs --nngp-diag-file" -- \
    predict --model "$M0" --kernel-file "$W/Kt_ntk.npy" --nngp-file "$W/KNt_ntk.npy" --cov --out "$O"
expect_error "predict: --cov without --nngp-file (NTK)" 1 "$O" "--cov with --kernel-file needs --nngp-file" -- \
    predict --model "$M0" --kernel-file "$W/Kt_ntk.npy" --nngp-diag-file "$W/KNtt.npy" --cov --out "$O"
expect_error "predict: --nngp-diag-file of the wrong length" 1 "$O" "--nngp-diag-file $W/e.csv is 7 x 3" "one value per test point" -- \
    predict --model "$M0" --kernel-file "$W/Kt_ntk.npy" --nngp-file "$W/KNt_ntk.npy" --nngp-diag-file "$W/e.csv" --cov --out "$O"
expect_error "predict: --nngp-file of an NNGP model" 1 "$O" "is an NNGP model" -- \
    predict --model "$W/mk_nngp_0.npz" --kernel-file "$W/Kt_nngp.npy" --nngp-file "$W/Kt_nngp.npy" --out "$O"
expect_error "predict: --nngp-file without --kernel-file" 2 "$O" "--nngp-file goes with --kernel-file" -- \
    predict --model "$M0" --x "$E" --nngp-file "$W/KNt_ntk.npy" --out "$O"
expect_error "predict: --f0-train alone" 2 "$O" "--f0-train and --f0-test go together" -- \
    predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --f0-train "$W/f0.csv" --out "$O"
expect_error "predict: f0 and --cov" 2 "$O" "with --f0-train the prediction is one network's" -- \
    predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --f0-train "$W/f0.csv" --f0-test "$W/f0t.csv" --cov --out "$O"
expect_error "predict: --f0-params with --f0-train" 2 "$O" "--f0-params computes what --f0-train and --f0-test give" -- \
    predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --x "$W/ce.csv" --f0-params "$W/init.npz" --f0-train "$W/f0.csv" --out "$O"
expect_error "predict: --f0-params without --x" 2 "$O" "--f0-params needs --x" -- \
    predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --f0-params "$W/init.npz" --out "$O"
expect_error "predict: --f0-params of a network with other inputs" 1 "$O" "--x $W/ce.csv has 2 columns but the network in $W/tr.npz takes 3 inputs" -- \
    predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --x "$W/ce.csv" --f0-params "$W/tr.npz" --out "$O"
expect_error "predict: f0 of the wrong shape" 1 "$O" "--f0-test $W/f0.csv is 8 x 1, but f0 on the points predicted (M x k) is 12 x 1" -- \
    predict --model "$W/me.npz" --kernel-file "$W/eKt.npy" --f0-train "$W/f0.csv" --f0-test "$W/f0.csv" --out "$O"
run "fit --inf-only, empirical kernel" fit --kernel-file "$W/eK.npy" --x "$W/cx.csv" --y "$W/cy.csv" --inf-only \
    --model "$W/mei.npz" --quiet
expect_error "predict: f0 at t = inf of an --inf-only model" 1 "$O" "t = inf with f0 at the training points" "inf only" -- \
    predict --model "$W/mei.npz" --kernel-file "$W/eKt.npy" --f0-train "$W/f0.csv" --f0-test "$W/f0t.csv" --out "$O"

expect_help "fit --help: kernel reuse" "--kernel-file" "--nngp-file" "--rows A:B" "kernel reuse" -- fit --help
expect_help "predict --help" "--kernel-file" "--nngp-diag-file" "--f0-train" "--f0-test" "--f0-params" "--rows A:B" -- predict --help
for c in kernel empirical features apply train compare; do
    expect_help "$c --help: --rows and --scale" "--rows A:B" "--scale S" -- $c --help
done

finish
