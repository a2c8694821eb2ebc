#!/usr/bin/env bash
# fit_ok.sh — `ntk fit` and `ntk predict`, the happy paths, checked against
# facts that do not depend on the code under test:
#   - kernel regression interpolates: predicting the training points at
#     t = inf (no ridge) gives the targets (NTK and NNGP models), R² = 1 and,
#     with --labels, accuracy 1;
#   - t = 0: the ensemble mean is 0 and the variance is the prior NNGP
#     variance K(x,x), which 'ntk kernel --diag --get nngp' computes;
#   - the multi-time layout: --time 1,inf is --time 1 then --time inf,
#     stacked (bitwise); --var-out is M values, or n_times rows of M;
#   - --scale S = inputs multiplied by S beforehand; predict --scale
#     overrides the recorded scale; --limit N = the first N rows;
#   - --inf-only agrees with the full model at t = inf; NTK and NNGP models
#     differ; the same fit writes the same file (also with --threads 2:
#     a model is the same bits for the same thread count); predict gives
#     the same bits on 1, 2 and 3 threads (ntk.h, "Threads");
#   - the archive's members and meta.txt (when unzip is present);
#   - IDX input (tests/data/idx fixtures, gzip'd images and labels);
#   - the stderr summaries and the stdout table;
#   - real Fashion-MNIST when the package dataset-fashion-mnist is installed
#     (a small fit, accuracy well above chance); otherwise reported as
#     skipped and not counted.
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the
# source tree) and TMPDIR (a scratch folder). Ends with "N passed, M failed".
set -u

: "${NTK_TEST_DIR:?NTK_TEST_DIR must name the tests folder}"
. "$(dirname "$0")/lib.sh"
run_stdout=keep # the tables of predict are read from $W/stdout

# column NAME of the stdout table, on the line whose time is T
table_value() { awk -v col="$1" -v t="$2" 'NR == 1 { for (j = 1; j <= NF; j++) if ($j == col) c = j; next } $1 == t { print $c }' "$3"; }

# ------------------------------------------------------------ inputs

A='dense(64,w_std=1.5,b_std=0.05),relu,dense(64,w_std=1.5,b_std=0.05),relu,dense(2,w_std=1.5,b_std=0.05)'
# X: 30 points in d = 3; Y (k = 2) smooth functions of X; L: labels 0..2; E: 7 test points
awk 'BEGIN { for (i = 1; i <= 30; i++) { for (j = 1; j <= 3; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), sin(1.3 * i + 0.7 * j) * (1 + 0.1 * j)
    printf "\n" } }' >"$W/x.csv"
awk -F, '{ printf "%.6f,%.6f\n", $1 * $2 + 0.5 * $3, cos($1) - $2 }' "$W/x.csv" >"$W/y.csv"
awk -F, '{ print ($1 > 0.3 ? 2 : ($1 > -0.3 ? 1 : 0)) }' "$W/x.csv" >"$W/l.csv"
awk 'BEGIN { for (i = 1; i <= 7; i++) { for (j = 1; j <= 3; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), cos(0.9 * i + 0.4 * j)
    printf "\n" } }' >"$W/e.csv"
# halved copies (exact in binary) for --scale
awk -F, -v OFS=, '{ for (j = 1; j <= NF; j++) $j = sprintf("%.17g", $j / 2); print }' "$W/x.csv" >"$W/x_half.csv"
awk -F, -v OFS=, '{ for (j = 1; j <= NF; j++) $j = sprintf("%.17g", $j / 2); print }' "$W/e.csv" >"$W/e_half.csv"
X="$W/x.csv" Y="$W/y.csv" L="$W/l.csv" E="$W/e.csv"
IDX="$NTK_TEST_DIR/data/idx"

# ------------------------------------------------------------ fit -> predict

if run "fit (NTK)" fit --arch "$A" --x "$X" --y "$Y" --model "$W/m.npz" --quiet; then
    run "predict E at t = inf" predict --model "$W/m.npz" --x "$E" --out "$W/p_inf.csv" --quiet &&
        check "predictions: 7 x 2" "$(shape_csv "$W/p_inf.csv")" [ "$(shape_csv "$W/p_inf.csv")" = "7 2" ]
    run "predict the training points" predict --model "$W/m.npz" --x "$X" --out "$W/fit_x.csv" --quiet &&
        close_csv "t = inf interpolates the targets (NTK)" "$W/fit_x.csv" "$Y" 1e-6
    run "predict --y: the stdout table" predict --model "$W/m.npz" --x "$X" --y "$Y" --out "$W/fit_x2.csv" --quiet &&
        check "table: header and one line" "$(cat "$W/stdout")" [ "$(wc -l <"$W/stdout")" -eq 2 ] &&
        check "table: R² = 1 on the training points" "$(cat "$W/stdout")" \
            awk -v r="$(table_value r2 inf "$W/stdout")" 'BEGIN { exit !(r > 1 - 1e-9 && r < 1 + 1e-9) }'
    # several times: one file, time-major; variances
    run "predict --time 1" predict --model "$W/m.npz" --x "$E" --time 1 --out "$W/p_1.csv" --quiet
    run "predict --time 1,inf --var-out" predict --model "$W/m.npz" --x "$E" --time 1,inf --out "$W/p_1inf.csv" \
        --var-out "$W/v_1inf.csv" --quiet &&
        check "var-out for 2 times: 2 rows of 7" "$(shape_csv "$W/v_1inf.csv")" [ "$(shape_csv "$W/v_1inf.csv")" = "2 7" ]
    cat "$W/p_1.csv" "$W/p_inf.csv" >"$W/p_cat.csv"
    same_bytes "--time 1,inf = --time 1 then --time inf (time-major rows)" "$W/p_1inf.csv" "$W/p_cat.csv"
    run "predict --time 0 --var-out" predict --model "$W/m.npz" --x "$E" --time 0 --out "$W/p_0.csv" \
        --var-out "$W/v_0.csv" --quiet &&
        check "var-out for 1 time: 7 values" "$(shape_csv "$W/v_0.csv")" [ "$(shape_csv "$W/v_0.csv")" = "7 1" ] &&
        check "t = 0: the ensemble mean is 0" "$(head -3 "$W/p_0.csv")" awk -F, '{ for (j = 1; j <= NF; j++) if ($j != 0) exit 1 }' "$W/p_0.csv"
    run "kernel --diag --get nngp" kernel --arch "$A" --x1 "$E" --diag --get nngp --out "$W/kdiag.csv" --quiet &&
        close_csv "t = 0: the variance is the prior K(x,x)" "$W/v_0.csv" "$W/kdiag.csv" 1e-14
    run "predict --cov without --var-out" predict --model "$W/m.npz" --x "$E" --time 0,10,inf --cov --out "$W/p_c.csv" --quiet &&
        check "--cov: mean_var column, 3 times" "$(cat "$W/stdout")" \
            [ "$(head -1 "$W/stdout" | awk '{ print $1, $2 }')" = "time mean_var" -a "$(wc -l <"$W/stdout")" -eq 4 ] &&
        check "--cov: the variance falls with training" "$(cat "$W/stdout")" \
            awk 'NR == 2 { v0 = $2 } NR == 4 { exit !($2 < v0) }' "$W/stdout"
    # the predictions of one model do not depend on the thread count
    for t in 1 2 3; do
        run "predict --threads $t" predict --model "$W/m.npz" --x "$E" --time 1,inf --var-out "$W/v_t$t.csv" \
            --out "$W/p_t$t.csv" --threads $t --quiet
    done
    for t in 2 3; do
        same_bytes "predict --threads 1 = --threads $t (bitwise)" "$W/p_t1.csv" "$W/p_t$t.csv"
        same_bytes "predict --var-out: --threads 1 = --threads $t (bitwise)" "$W/v_t1.csv" "$W/v_t$t.csv"
    done
    # the archive
    if command -v unzip >/dev/null; then
        members=$(unzip -Z1 "$W/m.npz" | tr '\n' ' ')
        check "model members" "$members" [ "$members" = "arch.txt meta.txt x.npy y.npy alpha.npy eigenvalues.npy eigenvectors.npy c.npy nngp_xx.npy " ]
        meta=$(unzip -p "$W/m.npz" meta.txt)
        for line in "format = ntk-model 1" "kernel = ntk" "N = 30" "d = 3" "k = 2" "eigen = 1" "cholesky = 1" "ridge_mode = relative"; do
            check "meta.txt: $line" "$meta" grep -qxF "$line" <<<"$meta"
        done
        check "meta.txt: checksum of x and y" "$meta" grep -qE '^checksum = [0-9a-f]{16}$' <<<"$meta"
    fi
fi
run "fit again" fit --arch "$A" --x "$X" --y "$Y" --model "$W/m2.npz" --quiet &&
    same_bytes "the same fit writes the same file" "$W/m.npz" "$W/m2.npz"
run "fit --threads 2" fit --arch "$A" --x "$X" --y "$Y" --model "$W/mt2.npz" --threads 2 --quiet &&
    run "fit --threads 2 again" fit --arch "$A" --x "$X" --y "$Y" --model "$W/mt2b.npz" --threads 2 --quiet &&
    same_bytes "fit with the same --threads writes the same file" "$W/mt2.npz" "$W/mt2b.npz"

# ------------------------------------------------------------ NNGP, ridge, discrete, inf-only

if run "fit --kernel nngp" fit --arch "$A" --x "$X" --y "$Y" --kernel nngp --model "$W/mn.npz" --quiet; then
    run "predict NNGP model" predict --model "$W/mn.npz" --x "$X" --out "$W/fitn_x.csv" --quiet &&
        close_csv "t = inf interpolates the targets (NNGP)" "$W/fitn_x.csv" "$Y" 1e-6
    run "predict NNGP on E" predict --model "$W/mn.npz" --x "$E" --out "$W/pn_inf.csv" --var-out "$W/vn.csv" --quiet
    differ "NTK and NNGP models predict differently" "$W/p_inf.csv" "$W/pn_inf.csv"
    check "NNGP posterior variances are >= 0 and below the prior" "$(paste -d, "$W/vn.csv" "$W/kdiag.csv")" \
        awk -F, '{ if (!($1 > -1e-12 && $1 <= $2)) exit 1 }' <(paste -d, "$W/vn.csv" "$W/kdiag.csv")
    if command -v unzip >/dev/null; then
        members=$(unzip -Z1 "$W/mn.npz" | tr '\n' ' ')
        check "NNGP model: no nngp_xx member" "$members" [ "$members" = "arch.txt meta.txt x.npy y.npy alpha.npy eigenvalues.npy eigenvectors.npy c.npy " ]
    fi
fi
run "fit --ridge --ridge-mode absolute --discrete --lr" fit --arch "$A" --x "$X" --y "$Y" --ridge 0.01 \
    --ridge-mode absolute --discrete --lr 0.5 --model "$W/md.npz" --quiet &&
    run "predict whole steps of a discrete model" predict --model "$W/md.npz" --x "$E" --time 0,3,1000 --out "$W/pd.npy" --quiet
run "fit --jitter" fit --arch "$A" --x "$X" --y "$Y" --jitter --model "$W/mj.npz" --quiet
if run "fit --inf-only" fit --arch "$A" --x "$X" --y "$Y" --inf-only --model "$W/mi.npz" --quiet; then
    run "predict an inf-only model" predict --model "$W/mi.npz" --x "$E" --out "$W/pi_inf.csv" --quiet &&
        close_csv "--inf-only = the full model at t = inf" "$W/pi_inf.csv" "$W/p_inf.csv" 1e-9
    if command -v unzip >/dev/null; then
        members=$(unzip -Z1 "$W/mi.npz" | tr '\n' ' ')
        check "inf-only model: no N x N members" "$members" [ "$members" = "arch.txt meta.txt x.npy y.npy alpha.npy " ]
    fi
fi

# ------------------------------------------------------------ labels, scale, limit

if run "fit --labels" fit --arch "$A" --x "$X" --y "$L" --labels --model "$W/ml.npz" --quiet; then
    run "predict --labels" predict --model "$W/ml.npz" --x "$X" --y "$L" --labels --out "$W/pl.csv" --quiet &&
        check "labels: 3 outputs (one-hot)" "$(shape_csv "$W/pl.csv")" [ "$(shape_csv "$W/pl.csv")" = "30 3" ] &&
        check "labels: accuracy 1 on the training points" "$(cat "$W/stdout")" \
            [ "$(table_value accuracy inf "$W/stdout")" = "1.000000" ]
fi
run "fit --scale 0.5" fit --arch "$A" --x "$X" --y "$Y" --scale 0.5 --model "$W/ms.npz" --quiet &&
    run "fit on halved inputs" fit --arch "$A" --x "$W/x_half.csv" --y "$Y" --model "$W/mh.npz" --quiet &&
    run "predict --scale model" predict --model "$W/ms.npz" --x "$E" --time 2,inf --out "$W/ps.csv" --quiet &&
    run "predict halved model on halved points" predict --model "$W/mh.npz" --x "$W/e_half.csv" --time 2,inf --out "$W/ph.csv" --quiet &&
    same_bytes "--scale 0.5 = inputs halved beforehand" "$W/ps.csv" "$W/ph.csv" &&
    run "predict --scale 1 overrides the model's" predict --model "$W/ms.npz" --x "$W/e_half.csv" --scale 1 --time 2,inf --out "$W/ps1.csv" --quiet &&
    same_bytes "predict --scale 1 on halved points = the recorded 0.5 on the points" "$W/ps1.csv" "$W/ps.csv"
run "fit --scale 1/2 (a fraction)" fit --arch "$A" --x "$X" --y "$Y" --scale 1/2 --model "$W/ms2.npz" --quiet &&
    same_bytes "--scale 1/2 = --scale 0.5" "$W/ms.npz" "$W/ms2.npz"
head -n 10 "$X" >"$W/x10.csv"
head -n 10 "$Y" >"$W/y10.csv"
run "fit --limit 10" fit --arch "$A" --x "$X" --y "$Y" --limit 10 --model "$W/m10.npz" --quiet &&
    run "fit on the first 10 rows" fit --arch "$A" --x "$W/x10.csv" --y "$W/y10.csv" --model "$W/m10b.npz" --quiet &&
    same_bytes "--limit 10 = the first 10 rows" "$W/m10.npz" "$W/m10b.npz"
# The first 3 rows of E as a file: the same 3 x N products as --limit 3, so
# the same bits (the 7-row prediction of p_inf.csv runs other BLAS kernels
# on other shapes: its first 3 rows agree only to rounding).
head -n 3 "$E" >"$W/e3.csv"
run "predict --limit 3" predict --model "$W/m.npz" --x "$E" --limit 3 --out "$W/p3.csv" --quiet &&
    check "predict --limit 3: 3 rows" "$(shape_csv "$W/p3.csv")" [ "$(shape_csv "$W/p3.csv")" = "3 2" ] &&
    run "predict the first 3 rows" predict --model "$W/m.npz" --x "$W/e3.csv" --out "$W/p3b.csv" --quiet &&
    same_bytes "predict --limit 3 = the first 3 rows" "$W/p3.csv" "$W/p3b.csv"

# ------------------------------------------------------------ IDX input

if run "fit on IDX images and labels" fit --arch "$A" --x "$IDX/images-idx3-ubyte.gz" --y "$IDX/labels-idx1-ubyte.gz" \
    --labels --scale 1/255 --limit 18 --model "$W/mx.npz" --quiet; then
    run "predict IDX" predict --model "$W/mx.npz" --x "$IDX/images-idx3-ubyte.gz" --y "$IDX/labels-idx1-ubyte.gz" \
        --labels --out "$W/px.npy" --quiet &&
        check "IDX: accuracy >= 0.9 on 24 images (18 seen)" "$(cat "$W/stdout")" \
            awk -v a="$(table_value accuracy inf "$W/stdout")" 'BEGIN { exit !(a >= 0.9) }'
    run "predict IDX --limit 5 .csv" predict --model "$W/mx.npz" --x "$IDX/images-idx3-ubyte.gz" --limit 5 --out "$W/px5.csv" --quiet &&
        check "IDX: 5 x 3 predictions" "$(shape_csv "$W/px5.csv")" [ "$(shape_csv "$W/px5.csv")" = "5 3" ]
fi

# ------------------------------------------------------------ summaries on stderr

"$NTK_BIN" fit --arch "$A" --x "$X" --y "$Y" --model "$W/mv.npz" >"$W/out" 2>"$W/err"
rc=$?
check "fit summary: exit 0, stdout empty" "rc $rc" [ "$rc" -eq 0 -a ! -s "$W/out" ]
for t in "ntk fit: N = 30 points, d = 3, k = 2 outputs; NTK kernel (param ntk)" "ntk fit: kernel 30 x 30 in" \
    "Cholesky and eigendecomposition in" "eigenvalues of the regularized kernel: min" "condition number" \
    "ntk fit: model -> $W/mv.npz"; do
    check "fit summary has: $t" "$(cat "$W/err")" grep -qF -- "$t" "$W/err"
done
"$NTK_BIN" predict --model "$W/mv.npz" --x "$E" --out "$W/pv.npy" >"$W/out" 2>"$W/err"
check "predict summary" "$(cat "$W/err")" grep -qF "ntk predict: 7 points x 1 time (N = 30 training points, NTK kernel) in" "$W/err"

# ------------------------------------------------------------ Fashion-MNIST, when installed

FM=/usr/share/datasets/fashion-mnist
if [ -r "$FM/train-images-idx3-ubyte.gz" ] && [ -r "$FM/t10k-labels-idx1-ubyte.gz" ]; then
    AF='dense(512,w_std=1.5,b_std=0.05),relu,dense(512,w_std=1.5,b_std=0.05),relu,dense(10,w_std=1.5,b_std=0.05)'
    run "Fashion-MNIST: fit 300" fit --arch "$AF" --x "$FM/train-images-idx3-ubyte.gz" --y "$FM/train-labels-idx1-ubyte.gz" \
        --labels --scale 1/255 --limit 300 --model "$W/fm.npz" --quiet &&
        run "Fashion-MNIST: predict 500" predict --model "$W/fm.npz" --x "$FM/t10k-images-idx3-ubyte.gz" \
            --y "$FM/t10k-labels-idx1-ubyte.gz" --labels --limit 500 --out "$W/fm.npy" --quiet &&
        check "Fashion-MNIST: accuracy > 0.6 (chance 0.1)" "$(cat "$W/stdout")" \
            awk -v a="$(table_value accuracy inf "$W/stdout")" 'BEGIN { exit !(a > 0.6) }'
else
    echo "skipped: Fashion-MNIST checks (install the package dataset-fashion-mnist for them)"
fi

finish
