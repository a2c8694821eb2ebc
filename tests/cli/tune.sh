#!/usr/bin/env bash
# tune.sh — `ntk tune`, checked against facts that do not depend on its own
# arithmetic:
#   - end to end, leave-one-out = N refits: with an absolute ridge, the
#     leave-one-out MSE of a ridge equals the mean squared error of N
#     `ntk fit` models, each fitted without one point and predicting it
#     (`ntk predict`) (CV against refits: tests/test_select.c);
#   - the chosen point is the argmin of the CSV's objective column (the
#     first on ties, unreliable rows excluded), for every criterion, and the
#     'chosen:' line and the '*' row of stdout name it;
#   - --model is byte for byte the file `ntk fit` writes with the printed
#     spec and the chosen ridge (NTK and NNGP, labels);
#   - grids: ranges, log ranges, lists, sorting and repeats; the CSV has one
#     row per grid point; --limit N = the first N rows, --rows A:B = rows A
#     to B−1;
#   - the plot is a PNG / SVG file; the summary on stderr;
#   - progress (test hook NTK_PROGRESS_INTERVAL=0): every stage of every
#     grid point, in order, "point P/N: STAGE", each
#     ending at 100%, percentages never going back, the grid ETA and the
#     best point so far (the last one named = the one chosen), the chosen
#     model's fit; results independent of it; --quiet leaves stderr empty
#     (also the CSV header note);
#   - checks before the work (test hooks NTK_MEM_AVAILABLE,
#     NTK_DISK_AVAILABLE): one grid point (4·N²·8 bytes) or the model's fit
#     (5·N²·8) refused with the numbers, the plot's and the model's sizes on
#     the disk, --force goes on with the same results;
#   - all or nothing: an output failing after the model was staged (a file
#     size limit) leaves no model and no CSV; SIGINT / SIGTERM during a
#     grid point or during the chosen model's fit: 130 / 143, one last line,
#     no file;
#   - bad flags and values: one line on stderr naming the flag, exit 2;
#     bad input exit 1, outputs untouched; ridges too small for a singular
#     kernel are reported, never chosen.
# Run by ctest with NTK_BIN, NTK_TEST_DIR and TMPDIR. Ends with "N passed,
# M failed".
set -u

: "${NTK_TEST_DIR:?NTK_TEST_DIR must name the tests folder}"
. "$(dirname "$0")/lib.sh"
ntk_commands="tune"
run_stdout=keep
# under the sanitizer run (.ci/run), LeakSanitizer would print the table of
# the suppressions it used (PLplot's font stack, tests/lsan.supp) on stderr
# after every plot, which `run` requires to be empty
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0"

# ------------------------------------------------------------ inputs

A='dense(32),relu,dense(32),relu,dense(1)'
# X: 30 points in d = 4 (a hash of i, j: no structure); Y (k = 2); L: labels 0..2
awk 'function h(a) { v = sin(a) * 43758.5453; return v - int(v) }
     BEGIN { for (i = 1; i <= 30; i++) { for (j = 1; j <= 4; j++) printf "%s%.6f", (j > 1 ? "," : ""), 2 * h(12.9898 * i + 78.233 * j); printf "\n" } }' >"$W/x.csv"
awk -F, '{ printf "%.6f,%.6f\n", $1 * $2 + 0.5 * $3, cos(2 * $1) - $2 }' "$W/x.csv" >"$W/y.csv"
awk -F, '{ print ($1 + 0.5 * $2 > 0.3 ? 2 : ($1 > -0.3 ? 1 : 0)) }' "$W/x.csv" >"$W/l.csv"
X="$W/x.csv" Y="$W/y.csv" L="$W/l.csv"

# column NAME of CSV file F, row R (1-based data row)
csv_col() { awk -F, -v name="$1" -v row="$3" 'NR == 1 { for (j = 1; j <= NF; j++) if ($j == name) c = j; next } NR == row + 1 { print $c }' "$2"; }
# "w_std b_std ridge" of the argmin of the objective column (first on ties, nan skipped; "-" when not swept)
csv_argmin() {
    awk -F, 'NR == 1 { for (j = 1; j <= NF; j++) col[$j] = j; next }
        $col["objective"] != "nan" && (!seen || $col["objective"] + 0 < best) {
            seen = 1; best = $col["objective"] + 0
            w = ("w_std" in col) ? $col["w_std"] : "-"; b = ("b_std" in col) ? $col["b_std"] : "-"; r = $col["ridge"]
        }
        END { if (seen) print w, b, r; else print "none" }' "$1"
}
# the same three from the 'chosen:' line of stdout
chosen() {
    sed -n 's/^chosen://p' "$1" | awk '{
        w = "-"; b = "-"; r = "?"
        for (i = 1; i <= NF; i++) { gsub(",", "", $(i + 2)); if ($i == "w_std") w = $(i + 2); if ($i == "b_std") b = $(i + 2); if ($i == "ridge") r = $(i + 2) }
        print w, b, r }'
}
spec_of() { sed -n 's/^spec: //p' "$1"; }

# ------------------------------------------------------------ help

flags=()
src="$NTK_TEST_DIR/../src/cli/cmd_tune.c"
if [ -r "$src" ]; then
    while read -r f; do flags+=("$f"); done < <(grep -o '{"--[a-z0-9-]*"' "$src" | tr -d '{"')
fi
flags+=(--arch --x --y --w-std --b-std --ridge --ridge-mode --criterion --folds --seed --kernel --param --labels --scale
    --limit --rows --out --plot --model --threads --quiet --force)
expect_help "tune --help: every flag, the grid syntax and an example" "usage: ntk tune" "example:" "ntk tune --" \
    "A:B:Nlog" "${flags[@]}" -- tune --help
expect_help "ntk --help lists tune" "  tune " -- --help

# ------------------------------------------------------------ usage errors (exit 2)

MO="$W/m_err.npz"
base=(tune --arch "$A" --x "$X" --y "$Y" --model "$MO")
expect_error "no --arch" 2 "$MO" "--arch is required" -- tune --x "$X" --y "$Y" --model "$MO"
expect_error "no --x" 2 "$MO" "--x is required" -- tune --arch "$A" --y "$Y" --model "$MO"
expect_error "no --y" 2 "$MO" "--y is required" -- tune --arch "$A" --x "$X" --model "$MO"
for g in 0 -1 abc 1:2 1:2:1 1:2:0log 0:1:3log 1:2:3lin 1,,2 , 1e400 nan inf 1:2:3log5 1:2:20000; do
    expect_error "--w-std '$g'" 2 "$MO" "--w-std: '" -- "${base[@]}" --w-std "$g"
done
expect_error "--w-std 0: the message" 2 "$MO" "--w-std: '0': values must be finite and > 0" -- "${base[@]}" --w-std 0
expect_error "--w-std a:b:N: the message" 2 "$MO" "--w-std: 'x:1:3': expected a number, a range A:B:N or a log range A:B:Nlog" -- "${base[@]}" --w-std x:1:3
expect_error "--w-std range of 1 point" 2 "$MO" "--w-std: '1:2:1': a range needs 2 to 10000 points" -- "${base[@]}" --w-std 1:2:1
expect_error "--w-std log range from 0" 2 "$MO" "--w-std: '0:1:3log': a log range needs both ends > 0" -- "${base[@]}" --w-std 0:1:3log
expect_error "--b-std -0.1" 2 "$MO" "--b-std: '-0.1': values must be finite and >= 0" -- "${base[@]}" --b-std 0,-0.1
expect_error "--ridge -1" 2 "$MO" "--ridge: '-1': values must be finite and >= 0" -- "${base[@]}" --ridge 1e-3,-1
expect_error "--ridge, too many values" 2 "$MO" "--ridge: more than 10000 values" -- "${base[@]}" --ridge 1:2:6000,3:4:6000
expect_error "--criterion" 2 "$MO" "--criterion: expected loo, cv, mll or mll-scaled, got 'aic'" -- "${base[@]}" --criterion aic
expect_error "--folds 1" 2 "$MO" "--folds: expected an integer in [2, 1000000], got '1'" -- "${base[@]}" --folds 1
expect_error "--folds abc" 2 "$MO" "--folds: expected an integer" -- "${base[@]}" --folds abc
expect_error "--seed without folds" 2 "$MO" "--seed orders the cross-validation folds" -- "${base[@]}" --seed 3
expect_error "--ridge-mode" 2 "$MO" "--ridge-mode: expected 'relative' or 'absolute', got 'rel'" -- "${base[@]}" --ridge-mode rel
expect_error "--kernel" 2 "$MO" "--kernel: expected 'ntk' or 'nngp', got 'gp'" -- "${base[@]}" --kernel gp
expect_error "--scale 0" 2 "$MO" "--scale: expected a number > 0" -- "${base[@]}" --scale 0
expect_error "--limit 0" 2 "$MO" "--limit: expected an integer >= 1" -- "${base[@]}" --limit 0
expect_error "unknown option, suggestion" 2 "$MO" "unknown option '--ridges' (did you mean '--ridge'?)" -- "${base[@]}" --ridges 1

# ------------------------------------------------------------ bad input (exit 1), outputs untouched

expect_error "--plot .jpg" 1 "$MO" "--plot $W/p.jpg: unknown plot format (use .png or .svg)" -- "${base[@]}" --plot "$W/p.jpg"
expect_error "--plot .PNG" 1 "$MO" "--plot $W/p.PNG: write the extension in lower case" -- "${base[@]}" --plot "$W/p.PNG"
expect_error "--plot in a missing folder" 1 "$MO" "cannot write into '$W/nodir'" -- "${base[@]}" --plot "$W/nodir/p.png"
expect_error "--out not .csv" 1 "$MO" "--out $W/t.npy: unknown file format (use .csv)" -- "${base[@]}" --out "$W/t.npy"
expect_error "--model not .npz" 1 "$W/m.csv" "--model $W/m.csv: unknown file format (use .npz)" -- tune --arch "$A" --x "$X" --y "$Y" --model "$W/m.csv"
expect_error "bad --arch" 1 "$MO" "--arch: spec:" "unknown activation 'rleu'" -- tune --arch 'dense(4),rleu' --x "$X" --y "$Y" --model "$MO"
expect_error "--x missing" 1 "$MO" "$W/missing.csv" "cannot open" -- tune --arch "$A" --x "$W/missing.csv" --y "$Y" --model "$MO"
head -4 "$Y" >"$W/y4.csv"
expect_error "rows of x and y differ" 1 "$MO" "--y $W/y4.csv has 4 rows but --x $X has 30" -- tune --arch "$A" --x "$X" --y "$W/y4.csv" --model "$MO"
sed '2s/.*/1.5/' "$L" >"$W/lfrac.csv"
expect_error "--labels, fractional" 1 "$MO" "--y $W/lfrac.csv: row 2: label 1.5 is not a whole number" -- tune --arch "$A" --x "$X" --y "$W/lfrac.csv" --labels --model "$MO"
expect_error "--folds > N" 1 "$MO" "--folds 40: more folds than the 30 training points" -- "${base[@]}" --folds 40
expect_error "--criterion cv, N < 10" 1 "$MO" "--folds 10: more folds than the 5 training points (the default for --criterion cv is 10; give --folds)" -- "${base[@]}" --criterion cv --limit 5
# a linear kernel of rank 3 on 30 points: ridges 0 and 1e-30 are too small, nothing is reliable
cut -d, -f1-3 "$X" >"$W/x3.csv"
expect_error "singular kernel, tiny ridges only: no output appears" 1 "$MO,$W/s0.csv,$W/s0.png" \
    "no grid point has a reliable criterion" "(the best, ridge 1e-30, has cond·N·eps = " -- \
    tune --arch 'dense(1)' --x "$W/x3.csv" --y "$Y" --ridge 0,1e-30 --model "$MO" --out "$W/s0.csv" --plot "$W/s0.png" --quiet
expect_error "--rows and --limit" 2 "$MO" "--rows" "--limit" -- "${base[@]}" --rows 0:10 --limit 5
expect_error "--rows past the end" 1 "$MO" "--rows" -- "${base[@]}" --rows 10:40

# ------------------------------------------------------------ a tiny grid: the argmin, the model, the plot

if run "tune: 2 w_std x 2 b_std x 3 ridges, labels, 3 folds" tune --arch "$A" --x "$X" --y "$L" --labels \
    --w-std 1,2 --b-std 0,0.2 --ridge 1e-4:1e-2:3log --folds 3 --out "$W/t.csv" --plot "$W/t.png" --model "$W/best.npz" --quiet; then
    cp "$W/stdout" "$W/t.out"
    check "CSV: header and 12 rows" "$(shape_csv "$W/t.csv")" [ "$(wc -l <"$W/t.csv")" -eq 13 ]
    check "CSV: the columns" "$(head -1 "$W/t.csv")" [ "$(head -1 "$W/t.csv")" = \
        "w_std,b_std,ridge,ridge_abs,cond,reliable,loo_mse,loo_acc,cv_mse,cv_acc,log_ml,log_ml_scaled,sigma2,objective" ]
    check "CSV: objective = loo_mse" "$(head -3 "$W/t.csv")" \
        awk -F, 'NR > 1 && $14 != $7 { exit 1 }' "$W/t.csv"
    check "the chosen point is the argmin of the CSV" "chosen '$(chosen "$W/t.out")', argmin '$(csv_argmin "$W/t.csv")'" \
        [ "$(chosen "$W/t.out")" = "$(csv_argmin "$W/t.csv")" ]
    check "stdout: one '*' row" "$(cat "$W/t.out")" [ "$(grep -c '^\*' "$W/t.out")" -eq 1 ]
    check "stdout: 4 rows (the best ridge of each (w_std, b_std)) and the header" "$(cat "$W/t.out")" \
        [ "$(grep -c '^[ *] [0-9]' "$W/t.out")" -eq 4 ]
    check "the plot is a PNG" "$(head -c 8 "$W/t.png" | od -c | head -1)" [ "$(head -c 4 "$W/t.png" | tail -c 3)" = "PNG" ]
    check "no temporary files left" "$(ls -a "$W")" [ -z "$(ls -a "$W" | grep -e '\.tmp\.' -e '\.ntk-tmp\.')" ]
    S=$(spec_of "$W/t.out")
    R=$(chosen "$W/t.out" | awk '{ print $3 }')
    check "spec: w_std and b_std of every dense layer" "$S" bash -c "[[ '$S' == dense\(32,w_std=*,*relu,dense\(32,w_std=*relu,dense\(1,w_std=* ]]"
    run "fit with the chosen values" fit --arch "$S" --x "$X" --y "$L" --labels --ridge "$R" --model "$W/fit.npz" --quiet &&
        same_bytes "--model = ntk fit with the chosen spec and ridge" "$W/best.npz" "$W/fit.npz"
fi

# every criterion picks the argmin of its own objective
for c in loo cv mll mll-scaled; do
    if run "tune --criterion $c" tune --arch "$A" --x "$X" --y "$Y" --b-std 0,0.5 --ridge 1e-6:1:4log --criterion $c \
        --folds 5 --seed 4 --out "$W/c_$c.csv" --quiet; then
        check "$c: the chosen point is the argmin of the CSV" "chosen '$(chosen "$W/stdout")', argmin '$(csv_argmin "$W/c_$c.csv")'" \
            [ "$(chosen "$W/stdout")" = "$(csv_argmin "$W/c_$c.csv")" ]
        col=$(case $c in loo) echo loo_mse ;; cv) echo cv_mse ;; mll) echo log_ml ;; mll-scaled) echo log_ml_scaled ;; esac)
        sign=$(case $c in mll*) echo -1 ;; *) echo 1 ;; esac)
        check "$c: objective = $sign * $col" "$(head -3 "$W/c_$c.csv")" awk -F, -v name="$col" -v s="$sign" \
            'NR == 1 { for (j = 1; j <= NF; j++) if ($j == name) c = j; next } $NF != "nan" && $NF + 0 != s * $c { exit 1 }' "$W/c_$c.csv"
    fi
done

# NNGP model, absolute ridges
if run "tune --kernel nngp --ridge-mode absolute" tune --arch "$A" --x "$X" --y "$Y" --kernel nngp --ridge-mode absolute \
    --ridge 1e-3,1e-2,0.1 --w-std 0.8,1.6 --model "$W/bn.npz" --quiet; then
    run "fit --kernel nngp with the chosen values" fit --arch "$(spec_of "$W/stdout")" --x "$X" --y "$Y" --kernel nngp \
        --ridge-mode absolute --ridge "$(chosen "$W/stdout" | awk '{ print $3 }')" --model "$W/fn.npz" --quiet &&
        same_bytes "--model = ntk fit (NNGP, absolute ridge)" "$W/bn.npz" "$W/fn.npz"
fi

# ------------------------------------------------------------ leave-one-out = N refits by ntk fit / ntk predict

# N = 12 points, one absolute ridge: the held-out models keep it
head -12 "$X" >"$W/x12.csv"
head -12 "$Y" >"$W/y12.csv"
if run "tune: one ridge, N = 12" tune --arch "$A" --x "$W/x12.csv" --y "$W/y12.csv" --ridge 0.05 --ridge-mode absolute --out "$W/l12.csv" --quiet; then
    sse=0
    ok=1
    for i in $(seq 1 12); do
        sed "${i}d" "$W/x12.csv" >"$W/xi.csv"
        sed "${i}d" "$W/y12.csv" >"$W/yi.csv"
        sed -n "${i}p" "$W/x12.csv" >"$W/xo.csv"
        "$NTK_BIN" fit --arch "$A" --x "$W/xi.csv" --y "$W/yi.csv" --ridge 0.05 --ridge-mode absolute --model "$W/mi.npz" --quiet &&
            "$NTK_BIN" predict --model "$W/mi.npz" --x "$W/xo.csv" --out "$W/po.csv" --quiet || { ok=0; break; }
        sse=$(paste -d, "$W/po.csv" <(sed -n "${i}p" "$W/y12.csv") | awk -F, -v s="$sse" '{ printf "%.17g", s + ($1 - $3)^2 + ($2 - $4)^2 }')
    done
    loo=$(csv_col loo_mse "$W/l12.csv" 1)
    # both sides are solves of a kernel system of condition cond (column 5): they agree to about cond·N·eps
    # relative; 1e-9 is far above that here (cond < 1e3) and far below a wrong formula's O(1)
    check "LOO MSE = the mean squared error of 12 refits (ntk fit/predict)" "tune $loo, refits $sse/24, cond $(csv_col cond "$W/l12.csv" 1)" \
        awk -v a="$loo" -v s="$sse" -v ok="$ok" 'BEGIN { b = s / 24; d = a - b; if (d < 0) d = -d; exit !(ok && d <= 1e-9 * b) }'
fi

# ------------------------------------------------------------ grids, --limit, formats, stderr

if run "ridge-only sweep" tune --arch "$A" --x "$X" --y "$Y" --ridge 1,0.1,1,1e-4:1e-2:3log --out "$W/r.csv" --plot "$W/r.svg" --quiet; then
    check "repeats dropped, sorted: 5 ridges" "$(cut -d, -f1 "$W/r.csv" | tr '\n' ' ')" \
        [ "$(cut -d, -f1 "$W/r.csv" | tr '\n' ' ')" = "ridge 0.0001 0.001 0.01 0.1 1 " ]
    check "no w_std/b_std columns when not swept" "$(head -1 "$W/r.csv")" [ "$(head -1 "$W/r.csv" | cut -d, -f1)" = ridge ]
    check "stdout: one line per ridge" "$(cat "$W/stdout")" [ "$(grep -c '^[ *] ' "$W/stdout")" -eq 6 ]
    check "the plot is an SVG" "$(head -c 100 "$W/r.svg")" grep -q "<svg" "$W/r.svg"
    check "the spec is unchanged when not swept" "$(spec_of "$W/stdout")" [ "$(spec_of "$W/stdout")" = "dense(32,w_std=1),relu,dense(32,w_std=1),relu,dense(1,w_std=1)" ]
fi
run "linear range 0.5:1.5:3 = 0.5,1,1.5" tune --arch "$A" --x "$X" --y "$Y" --w-std 0.5:1.5:3 --ridge 0.1 --out "$W/g1.csv" --quiet
run "the same as a list" tune --arch "$A" --x "$X" --y "$Y" --w-std 1.5,0.5,1 --ridge 0.1 --out "$W/g2.csv" --quiet
same_bytes "0.5:1.5:3 = 1.5,0.5,1" "$W/g1.csv" "$W/g2.csv"
head -20 "$X" >"$W/x20.csv"
head -20 "$Y" >"$W/y20.csv"
run "--limit 20" tune --arch "$A" --x "$X" --y "$Y" --limit 20 --ridge 1e-3,1 --out "$W/lim.csv" --quiet
run "the first 20 rows" tune --arch "$A" --x "$W/x20.csv" --y "$W/y20.csv" --ridge 1e-3,1 --out "$W/h20.csv" --quiet
same_bytes "--limit 20 = the first 20 rows" "$W/lim.csv" "$W/h20.csv"
sed -n 6,25p "$X" >"$W/x5.csv"
sed -n 6,25p "$Y" >"$W/y5.csv"
run "--rows 5:25" tune --arch "$A" --x "$X" --y "$Y" --rows 5:25 --ridge 1e-3,1 --out "$W/r5.csv" --quiet
run "rows 5 to 24" tune --arch "$A" --x "$W/x5.csv" --y "$W/y5.csv" --ridge 1e-3,1 --out "$W/f5.csv" --quiet
same_bytes "--rows 5:25 = rows 5 to 24" "$W/r5.csv" "$W/f5.csv"
# singular kernel: the tiny ridges are reported unreliable, the usable one is chosen
if run "singular kernel: tiny and usable ridges" tune --arch 'dense(1)' --x "$W/x3.csv" --y "$Y" --ridge 0,1e-30,1e-2 --out "$W/s.csv" --quiet; then
    check "ridges 0 and 1e-30: reliable 0, criteria nan" "$(cat "$W/s.csv")" \
        awk -F, 'NR == 2 || NR == 3 { if ($4 != 0 || $5 != "nan" || $6 != "nan" || $NF != "nan") exit 1 } NR == 4 && $4 != 1 { exit 1 }' "$W/s.csv"
    check "stdout marks them unreliable, chooses 0.01" "$(cat "$W/stdout")" \
        [ "$(grep -c '(unreliable)' "$W/stdout")" -eq 2 -a "$(chosen "$W/stdout")" = "- - 0.01" ]
fi
# without --quiet and the test hook: a short run shows its summary lines only
"$NTK_BIN" tune --arch "$A" --x "$X" --y "$Y" --w-std 1,2 --ridge 0.1 --out "$W/q.csv" >"$W/stdout" 2>"$W/stderr"
check "stderr: the run's line and the files, no progress (a short run)" "$(cat "$W/stderr")" \
    bash -c "[ \$(wc -l <'$W/stderr') -eq 2 ] && grep -q '^ntk tune: N = 30 points, d = 4, k = 2' '$W/stderr' && grep -q '^ntk tune: 2 grid points in .*; table -> $W/q.csv' '$W/stderr'"

# ------------------------------------------------------------ progress (the test hook: a line at every report)

# 2 w_std x 2 b_std, 3 folds, a model: every stage of every point, in order,
# each ending with its "100% ... done in" line; percentages never go back
# within a stage; the grid ETA and the best point so far in the note
NTK_PROGRESS_INTERVAL=0 "$NTK_BIN" tune --arch "$A" --x "$X" --y "$Y" --w-std 1,2 --b-std 0,0.2 --ridge 1e-3,1e-1 \
    --folds 3 --out "$W/pg.csv" --model "$W/pg.npz" >"$W/pg.out" 2>"$W/pg.err" </dev/null
rc=$?
why=()
[ $rc -eq 0 ] || why+=("exit code $rc: $(tail -n 2 "$W/pg.err")")
for p in 1 2 3 4; do
    for st in kernel eigendecomposition leave-one-out cross-validation likelihood; do
        grep -qE "^ntk tune: point $p/4: $st: +100% \([0-9.]+[kMG]?/[0-9.]+[kMG]?\), done in " "$W/pg.err" ||
            why+=("no '100% ... done in' line for point $p/4: $st")
    done
done
for st in kernel eigendecomposition; do
    grep -qE "^ntk tune: chosen model: $st: +100% " "$W/pg.err" || why+=("no line for the chosen model's $st")
done
# the stages in the order of the work: points 1..4, then the model
order=$(sed -nE 's/^ntk tune: (point ([0-9])\/4|chosen model): ([a-z-]+): .*/\2\3/p' "$W/pg.err" | uniq | tr '\n' ' ')
want_order=""
for p in 1 2 3 4; do want_order+="${p}kernel ${p}eigendecomposition ${p}leave-one-out ${p}cross-validation ${p}likelihood "; done
want_order+="kernel eigendecomposition "
[ "$order" = "$want_order" ] || why+=("stages in the order: $order")
bad=$(grep -E '^ntk tune: .*: +[0-9]+% \(' "$W/pg.err" | awk '{
        p = match($0, /: +[0-9]+% \(/); st = substr($0, 1, p - 1); pc = substr($0, p + 1) + 0
        if (st == last && pc < lastpc) { print st ": " lastpc "% then " pc "%"; exit }
        last = st; lastpc = pc }')
[ -n "$bad" ] && why+=("a percentage went back: $bad")
# from point 2 on (after a stage's first report): the grid ETA and the best point so far
grep -E '^ntk tune: point [234]/4: .*, grid ETA [0-9.]+[smh], best MSE [0-9.e+-]+ at w_std [0-9.]+, b_std [0-9.]+, ridge [0-9.e+-]+$' "$W/pg.err" | grep -q . ||
    why+=("no note with the grid ETA and the best point")
grep -E '^ntk tune: point 1/4: .*(grid ETA|best)' "$W/pg.err" | grep -q . && why+=("a note during point 1 (nothing is known yet)")
# the last best point named is the one chosen
last_best=$(grep -oE 'best MSE [^ ]+ at w_std [^,]+, b_std [^,]+, ridge [^ ]+$' "$W/pg.err" | tail -n 1 | awk '{ gsub(",", ""); print $6, $8, $10 }')
[ "$last_best" = "$(chosen "$W/pg.out")" ] || why+=("last 'best' note '$last_best', chosen '$(chosen "$W/pg.out")'")
if [ ${#why[@]} -eq 0 ]; then record ok "progress: every stage of every grid point, the grid ETA, the best so far"; else
    record bad "progress: every stage of every grid point" "${why[@]}" "stderr: $(head -c 600 "$W/pg.err")"
fi
"$NTK_BIN" tune --arch "$A" --x "$X" --y "$Y" --w-std 1,2 --b-std 0,0.2 --ridge 1e-3,1e-1 --folds 3 \
    --out "$W/pg2.csv" --model "$W/pg2.npz" --quiet >/dev/null 2>&1
same_bytes "progress: the CSV does not depend on it" "$W/pg.csv" "$W/pg2.csv"
same_bytes "progress: the model does not depend on it" "$W/pg.npz" "$W/pg2.npz"

# --quiet: nothing on stderr, with the test hook, and not the note on a CSV header either
{ echo "a,b,c,d"; cat "$X"; } >"$W/xh.csv"
{ echo "u,v"; cat "$Y"; } >"$W/yh.csv"
NTK_PROGRESS_INTERVAL=0 "$NTK_BIN" tune --arch "$A" --x "$W/xh.csv" --y "$W/yh.csv" --w-std 1,2 --ridge 1e-3,1e-1 \
    --folds 3 --model "$W/qq.npz" --quiet >"$W/stdout" 2>"$W/stderr" </dev/null
rc=$?
check "--quiet: stderr empty (progress, notes, summary)" "exit $rc, stderr: $(head -c 300 "$W/stderr")" \
    [ $rc -eq 0 -a ! -s "$W/stderr" ]
"$NTK_BIN" tune --arch "$A" --x "$W/xh.csv" --y "$W/yh.csv" --ridge 0.1 >"$W/stdout" 2>"$W/stderr" </dev/null
check "without --quiet: the note on a CSV header, for --x and --y" "$(cat "$W/stderr")" bash -c \
    "grep -qx 'ntk tune: note: --x $W/xh.csv: first row taken as a header (a,b,c,d): none of its fields is a number' '$W/stderr' &&
     grep -qx 'ntk tune: note: --y $W/yh.csv: first row taken as a header (u,v): none of its fields is a number' '$W/stderr'"

# ------------------------------------------------------------ checks before the work

# X1500: 1500 points, d = 8 (a 1500 x 1500 kernel is 18 MB)
awk 'BEGIN { for (i = 1; i <= 1500; i++) { for (j = 1; j <= 8; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), sin(1.3 * i + 0.7 * j) * (1 + 0.1 * j)
    printf "\n" } }' >"$W/x1500.csv"
awk -F, '{ printf "%.6f\n", $1 * $2 }' "$W/x1500.csv" >"$W/y1500.csv"
R="$W/refused"
# one grid point: the kernel (N²) + the eigendecomposition (eigenvectors N² + dsyevd's 2N²): 4·N²·8 = 72 MB, plus O(N)
NTK_MEM_AVAILABLE=50M expect_error "not enough memory for one grid point" 1 "$R.csv,$R.png" \
    "ntk tune: needs ~72." "MB of memory for one grid point of N = 1500 (kernel, eigendecomposition, criteria), 50 MB available; use fewer points (--limit or --rows) (--force to try anyway)" \
    -- tune --arch "$A" --x "$W/x1500.csv" --y "$W/y1500.csv" --ridge 1e-3,1e-1 --out "$R.csv" --plot "$R.png"
mb=$(sed -nE 's/.*needs ~([0-9.]+) MB.*/\1/p' "$W/stderr")
check "one grid point: 72.0 to 72.6 MB (4·N²·8 and O(N) terms)" "needs ~$mb MB" \
    awk -v m="$mb" 'BEGIN { exit !(m >= 72.0 && m <= 72.6) }'
# --model, NTK: its fit holds 5·N² (kernel, NNGP, Cholesky copy, dsyevd's 2N²) = 90 MB: the larger
NTK_MEM_AVAILABLE=80M expect_error "not enough memory for the model's fit" 1 "$R.npz" \
    "ntk tune: needs ~90." "MB of memory for the chosen model of N = 1500 (kernel, eigenvectors, NNGP), 80 MB available" \
    -- tune --arch "$A" --x "$W/x1500.csv" --y "$W/y1500.csv" --ridge 1e-3,1e-1 --model "$R.npz"
NTK_DISK_AVAILABLE=1M expect_error "the PNG does not fit on the disk (at most 960 x 640 x 4 bytes)" 1 "$R.png" \
    "ntk tune: --plot $R.png needs ~2.52 MB of disk space, 1 MB free in '$W' (--force to try anyway)" \
    -- tune --arch "$A" --x "$X" --y "$Y" --ridge 1e-3,1e-1 --plot "$R.png"
NTK_DISK_AVAILABLE=10k expect_error "the model does not fit on the disk" 1 "$R.npz,$R.csv" \
    "ntk tune: --out $R.csv (with the other outputs there) needs ~" "of disk space, 10 kB free" \
    -- tune --arch "$A" --x "$X" --y "$Y" --ridge 1e-3,1e-1 --out "$R.csv" --model "$R.npz"
if NTK_MEM_AVAILABLE=1k NTK_DISK_AVAILABLE=1k "$NTK_BIN" tune --arch "$A" --x "$X" --y "$Y" --w-std 1,2 --b-std 0,0.2 \
    --ridge 1e-3,1e-1 --folds 3 --out "$W/forced.csv" --model "$W/forced.npz" --force --quiet >/dev/null 2>"$W/stderr"; then
    same_bytes "--force: goes on, the same CSV" "$W/forced.csv" "$W/pg.csv"
    same_bytes "--force: the same model" "$W/forced.npz" "$W/pg.npz"
else
    record bad "--force: goes on" "$(cat "$W/stderr")"
fi

# ------------------------------------------------------------ all or nothing: a failing output leaves no model

# a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG, for root too) of 20 kB: the
# model of 12 points (~6 kB) is staged first, then the CSV of 3000 ridges (~400 kB) fails
mkdir -p "$W/fsz"
(trap '' XFSZ; ulimit -f 20; exec "$NTK_BIN" tune --arch "$A" --x "$W/x12.csv" --y "$W/y12.csv" --ridge 1e-6:1:3000log \
    --model "$W/fsz/m.npz" --out "$W/fsz/t.csv" --quiet) >"$W/stdout" 2>"$W/stderr" </dev/null
rc=$?
check "a failing --out: exit 1, one line naming it, no model, no CSV, nothing left" \
    "exit $rc, stderr: $(cat "$W/stderr"), left: $(ls -A "$W/fsz")" \
    bash -c "[ $rc -eq 1 ] && [ \$(wc -l <'$W/stderr') -eq 1 ] && grep -q '^ntk tune: --out: $W/fsz/t.csv: cannot write' '$W/stderr' && [ -z \"\$(ls -A '$W/fsz')\" ] && [ ! -s '$W/stdout' ]"
run "the same without the limit: the model and the CSV" tune --arch "$A" --x "$W/x12.csv" --y "$W/y12.csv" \
    --ridge 1e-6:1:3000log --model "$W/fsz/m.npz" --out "$W/fsz/t.csv" --quiet &&
    check "the model is small, the CSV large (the premise)" "$(ls -l "$W/fsz")" \
        bash -c "[ \$(stat -c %s '$W/fsz/m.npz') -lt 20000 ] && [ \$(stat -c %s '$W/fsz/t.csv') -gt 40000 ]"

# ------------------------------------------------------------ SIGINT / SIGTERM: nothing written

set -m # job control: background commands keep SIGINT (else a script's jobs ignore it)
T='dense(64,w_std=1.3,b_std=0.1),tanh,dense(1,w_std=1.3)' # quadrature: slow enough to be caught
mkdir -p "$W/int"
io=(--out "$W/int/t.csv" --plot "$W/int/t.png" --model "$W/int/m.npz")
interrupt_wait='^ntk tune: point 1/2: kernel: '
interrupt "SIGINT during a grid point's kernel" INT 130 "$W/int" \
    tune --arch "$T" --x "$W/x1500.csv" --y "$W/y1500.csv" --w-std 1,2 --ridge 1e-3 "${io[@]}"
interrupt "SIGTERM during a grid point's kernel" TERM 143 "$W/int" \
    tune --arch "$T" --x "$W/x1500.csv" --y "$W/y1500.csv" --w-std 1,2 --ridge 1e-3 "${io[@]}"
# during the chosen model's fit (relu: a fast kernel; the fit of 1200 points takes a while: ~0.2 s on a fast machine, 10 polls)
awk 'BEGIN { for (i = 1; i <= 1200; i++) { for (j = 1; j <= 8; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), cos(0.9 * i + 0.4 * j)
    printf "\n" } }' >"$W/x1200.csv"
awk -F, '{ printf "%.6f\n", $1 - $2 }' "$W/x1200.csv" >"$W/y1200.csv"
interrupt_wait='^ntk tune: chosen model: '
interrupt "SIGINT during the chosen model's fit: no model, no CSV" INT 130 "$W/int" \
    tune --arch "$A" --x "$W/x1200.csv" --y "$W/y1200.csv" --ridge 1e-2 "${io[@]}"
set +m

finish
