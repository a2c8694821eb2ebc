#!/usr/bin/env bash
# compare.sh — `ntk compare` and `ntk demo` end to end: the table, the CSV,
# the PNG/SVG plots, the consistency of the linearization with the own-kernel
# prediction in the CSV, and error paths (exit codes, one-line messages,
# nothing written on failure).
set -u

. "$(dirname "$0")/lib.sh"
ntk_commands="compare demo"
NTK=$NTK_BIN

# check_eval NAME EXPR [DETAIL]: a pass when `eval EXPR` succeeds, else a
# failure showing the first 20 lines of DETAIL.
check_eval() {
    if eval "$2"; then
        record ok "$1"
    elif [ -n "${3:-}" ]; then
        record bad "$1" "$(echo "$3" | head -20)"
    else
        record bad "$1"
    fi
}

# data: 1-D inputs, a smooth target
awk 'BEGIN { for (i = 0; i < 10; i++) { x = -1 + 2 * i / 9; printf "%.17g\n", x } }' > "$W/x.csv"
awk 'BEGIN { for (i = 0; i < 10; i++) { x = -1 + 2 * i / 9; printf "%.17g\n", sin(2 * x) } }' > "$W/y.csv"
awk 'BEGIN { for (i = 0; i < 41; i++) { x = -1.2 + 2.4 * i / 40; printf "%.17g\n", x } }' > "$W/xt.csv"
awk 'BEGIN { for (i = 0; i < 41; i++) { x = -1.2 + 2.4 * i / 40; printf "%.17g\n", sin(2 * x) } }' > "$W/yt.csv"
A='dense(8,w_std=1.5,b_std=0.2),erf,dense(1,w_std=1.5,b_std=0.1)'

"$NTK" compare --arch "$A" --x "$W/x.csv" --y "$W/y.csv" --x-test "$W/xt.csv" --y-test "$W/yt.csv" \
    --widths 32,128,512 --steps 100 --out-dir "$W/out" > "$W/stdout" 2> "$W/stderr"
rc=$?
check_eval "compare exits 0" '[ $rc -eq 0 ]' "$(cat "$W/stderr")"
check_eval "compare: table header" 'grep -q "width   step |  train net" "$W/stdout"' "$(cat "$W/stdout")"
check_eval "compare: slopes line" 'grep -q "net-lin -\?[0-9.]*   net-kernel" "$W/stdout"' "$(cat "$W/stdout")"
check_eval "compare: CSV has header + 9 rows + slope line" '[ "$(wc -l < "$W/out/compare.csv")" -eq 11 ]' "$(cat "$W/out/compare.csv" 2>&1)"
for f in function gaps loss; do
    check_eval "compare: $f.png is a PNG" '[ "$(head -c 8 "$W/out/$f.png" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]'
    check_eval "compare: $f.svg is an SVG" 'grep -q "<svg" "$W/out/$f.svg"'
done
check_eval "compare: no temporary files left" '[ -z "$(ls "$W/out" | grep tmp)" ]' "$(ls "$W/out")"
# linearization = own-kernel prediction (columns test_lin, test_kernel), gaps decrease with width
check_eval "compare: lin == kernel prediction in the CSV" \
    'awk -F, '"'"'NR > 1 && !/^#/ { d = $8 - $9; if (d < 0) d = -d; if (d > 1e-8 * ($9 < 0 ? -$9 : $9) + 1e-14) bad = 1 } END { exit bad }'"'"' "$W/out/compare.csv"'
check_eval "compare: net-lin gap shrinks with width at the last step" \
    'awk -F, '"'"'NR > 1 && !/^#/ && $2 == 100 { g[n++] = $11 } END { exit !(n == 3 && g[1] < g[0] && g[2] < g[1]) }'"'"' "$W/out/compare.csv"'

# demo (small, fast settings)
"$NTK" demo --widths 32,128 --steps 50 --out-dir "$W/demo" > "$W/stdout" 2> "$W/stderr"
rc=$?
check_eval "demo exits 0" '[ $rc -eq 0 ]' "$(cat "$W/stderr")"
check_eval "demo: says where the plots are" 'grep -q "wrote $W/demo/compare.csv and the plots" "$W/stdout"' "$(tail -3 "$W/stdout")"
check_eval "demo: plots exist" '[ -s "$W/demo/function.png" ] && [ -s "$W/demo/gaps.svg" ] && [ -s "$W/demo/loss.png" ]'

# errors: exit code, one line, nothing written
expect_error "compare: missing --x-test" 2 - "--x, --y and --x-test are required" -- compare --arch "$A" --x "$W/x.csv" --y "$W/y.csv"
expect_error "compare: bad widths" 2 - "--widths: expected a comma list" -- compare --arch "$A" --x "$W/x.csv" --y "$W/y.csv" --x-test "$W/xt.csv" --widths 8,0
expect_error "compare: bad lr" 2 - "--lr" -- compare --arch "$A" --x "$W/x.csv" --y "$W/y.csv" --x-test "$W/xt.csv" --lr -1
expect_error "compare: y rows" 1 - "has 41 rows but --x" -- compare --arch "$A" --x "$W/x.csv" --y "$W/yt.csv" --x-test "$W/xt.csv" --out-dir "$W/e1"
check_eval "compare: nothing written on a data error" '[ ! -e "$W/e1/compare.csv" ]'
expect_error "compare: checkpoints beyond steps" 1 - "checkpoint 500 is outside" -- compare --arch "$A" --x "$W/x.csv" --y "$W/y.csv" --x-test "$W/xt.csv" --steps 100 --checkpoints 10,500 --out-dir "$W/e2"
printf 'x' > "$W/notadir"
expect_error "compare: out-dir is a file" 1 - "exists and is not a directory" -- compare --arch "$A" --x "$W/x.csv" --y "$W/y.csv" --x-test "$W/xt.csv" --out-dir "$W/notadir"
expect_error "demo: unknown option" 2 - "unknown option '--widht' (did you mean '--widths'?)" -- demo --widht 5

finish
