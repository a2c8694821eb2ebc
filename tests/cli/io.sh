#!/usr/bin/env bash
# io.sh — the command line's data files and outputs (src/io, issue 9):
#   - CSV auto-header: a detected header is said on stderr ("first row taken
#     as a header (names)"), not under --quiet nor when --columns names the
#     header's columns; a first row with a number is data, never dropped
#     ('1,2 3' is an error at row 1, column 2; two byte-order marks are
#     skipped);
#   - multi-file outputs are all or nothing: with the second file's write
#     made to fail (a file size limit, as a full disk would), `kernel --get
#     ntk,nngp`, `empirical`, `train --save/--out/--log` and `predict
#     --out/--var-out` leave every output as it was (absent, or its old
#     bytes) and no temporary file;
#   - a killed `ntk kernel` leaves no temporary file.
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the
# source tree) and TMPDIR (a scratch folder). Ends with "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
ntk_commands="kernel empirical train predict fit"

A='dense(16,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)'
awk 'BEGIN { for (i = 1; i <= 60; i++) printf "%.6f,%.6f\n", sin(1.3 * i), cos(0.7 * i) }' >"$W/x.csv"
awk -F, '{ printf "%.6f\n", $1 * $2 }' "$W/x.csv" >"$W/y.csv"
{ echo "x1,x2"; cat "$W/x.csv"; } >"$W/hdr.csv"

# ------------------------------------------------------------ CSV header

"$NTK_BIN" kernel --arch "$A" --x1 "$W/hdr.csv" --out "$W/h.npy" >"$W/stdout" 2>"$W/stderr"
rc=$?
note=$(head -n 1 "$W/stderr")
want="ntk kernel: note: --x1 $W/hdr.csv: first row taken as a header (x1,x2): none of its fields is a number; --header no reads it as data"
check "kernel: a detected header is noted" "exit $rc, first line: $note" [ $rc -eq 0 -a "$note" = "$want" ]
run "kernel: no note under --quiet" kernel --arch "$A" --x1 "$W/hdr.csv" --out "$W/hq.npy" --quiet
run "kernel: no note when --columns names the header" kernel --arch "$A" --x1 "$W/hdr.csv" --columns x1,x2 \
    --out "$W/hn.npy" --quiet
run "kernel: the same without the header" kernel --arch "$A" --x1 "$W/x.csv" --out "$W/h0.npy" --quiet
same_bytes "header skipped, the data intact" "$W/h.npy" "$W/h0.npy"
"$NTK_BIN" fit --arch "$A" --x "$W/hdr.csv" --y "$W/y.csv" --model "$W/m.npz" >"$W/stdout" 2>"$W/stderr"
check "fit: the note names the flag, and no --header" "$(cat "$W/stderr")" \
    grep -qx "ntk fit: note: --x $W/hdr.csv: first row taken as a header (x1,x2): none of its fields is a number" "$W/stderr"

printf '1,2 3\n4,5\n' >"$W/bad1.csv"
expect_error "a first row with a number is data: '1,2 3'" 1 "$W/k.npy" \
    "$W/bad1.csv: row 1, column 2: '2 3' is not a number (the first row is data, not a header: column 1 looks numeric)" \
    -- kernel --arch "$A" --x1 "$W/bad1.csv" --out "$W/k.npy" --quiet
printf '\xef\xbb\xbf\xef\xbb\xbf1,2\n3,4\n' >"$W/bom2.csv"
printf '1,2\n3,4\n' >"$W/plain2.csv"
run "two byte-order marks: the first row is data" kernel --arch "$A" --x1 "$W/bom2.csv" --out "$W/b2.npy" --quiet &&
    run "the same without them" kernel --arch "$A" --x1 "$W/plain2.csv" --out "$W/p2.npy" --quiet &&
    same_bytes "two BOMs skipped, both rows kept" "$W/b2.npy" "$W/p2.npy"

# ------------------------------------------------------------ all or nothing

# ntk_limited KB ARGS: ntk under a file size limit of KB kilobytes, SIGXFSZ
# ignored (a write past the limit fails with EFBIG, as on a full disk)
ntk_limited() {
    local kb=$1
    shift
    (trap '' XFSZ; ulimit -f "$kb"; exec "$NTK_BIN" "$@")
}

# expect_untouched NAME CODE PATHS TEXT KB ARGS: under the limit, the run
# fails with CODE and one line holding TEXT; each of the comma list PATHS is
# as before, and no temporary file is left in $W
expect_untouched() {
    local name=$1 code=$2 outs=$3 text=$4 kb=$5
    shift 5
    local -a paths before
    IFS=, read -r -a paths <<<"$outs"
    local p k
    for p in "${paths[@]}"; do before+=("$(state_of "$p")"); done
    ntk_limited "$kb" "$@" >"$W/stdout" 2>"$W/stderr" </dev/null
    local rc=$?
    local -a why=()
    [ $rc -eq "$code" ] || why+=("exit $rc, expected $code")
    grep -qF -- "$text" "$W/stderr" || why+=("stderr lacks: $text")
    [ "$(wc -l <"$W/stderr")" -eq 1 ] || why+=("stderr is not one line")
    for k in "${!paths[@]}"; do
        [ "$(state_of "${paths[$k]}")" = "${before[$k]}" ] || why+=("${paths[$k]} changed (${before[$k]} -> $(state_of "${paths[$k]}"))")
    done
    if compgen -G "$W/*tmp*" >/dev/null; then why+=("temporary files: $(compgen -G "$W/*tmp*" | tr '\n' ' ')"); fi
    if [ ${#why[@]} -eq 0 ]; then record ok "$name"; else record bad "$name" "${why[@]}" "stderr: $(cat "$W/stderr")"; fi
}

# kernel: A.npy (60x60: 28.9 KB) fits under 40 KB, B.csv (about 80 KB) does not
printf 'old A\n' >"$W/A.npy"
expect_untouched "kernel --get ntk,nngp: B fails, A keeps its old bytes" 1 "$W/A.npy,$W/B.csv" \
    "$W/B.csv: write failed: File too large" 40 \
    kernel --arch "$A" --x1 "$W/x.csv" --get ntk,nngp --out "$W/A.npy,$W/B.csv" --quiet
rm -f "$W/A.npy"
expect_untouched "kernel --get ntk,nngp: B fails, A is not created" 1 "$W/A.npy,$W/B.csv" \
    "write failed: File too large" 40 \
    kernel --arch "$A" --x1 "$W/x.csv" --get ntk,nngp --out "$W/A.npy,$W/B.csv" --quiet
run "kernel --get ntk,nngp without the limit" kernel --arch "$A" --x1 "$W/x.csv" --get ntk,nngp \
    --out "$W/A.npy,$W/B.csv" --quiet
expect_untouched "kernel: a failed rerun keeps both earlier files" 1 "$W/A.npy,$W/B.csv" \
    "write failed: File too large" 40 \
    kernel --arch "$A" --x1 "$W/x.csv" --get ntk,nngp --out "$W/A.npy,$W/B.csv" --param standard --quiet
expect_untouched "empirical --get ntk,nngp: all or nothing" 1 "$W/A.npy,$W/B.csv" \
    "write failed: File too large" 40 \
    empirical --arch "$A" --x1 "$W/x.csv" --get ntk,nngp --out "$W/A.npy,$W/B.csv" --quiet

# train: --save (a few KB) and --log fit, --out (2000 x 1 CSV, about 45 KB) does not
awk 'BEGIN { for (i = 1; i <= 2000; i++) printf "%.6f,%.6f\n", sin(0.01 * i), cos(0.02 * i) }' >"$W/e.csv"
printf 'old save\n' >"$W/s.npz"
expect_untouched "train --save/--out/--log: --out fails, nothing written" 1 "$W/s.npz,$W/p.csv,$W/l.csv" \
    "write failed: File too large" 30 \
    train --arch "$A" --x "$W/x.csv" --y "$W/y.csv" --lr 0.1 --steps 5 --save "$W/s.npz" --eval "$W/e.csv" \
    --out "$W/p.csv" --log "$W/l.csv" --quiet
# predict: --out (2000 x 3 times, about 130 KB) fails
run "fit a model" fit --arch "$A" --x "$W/x.csv" --y "$W/y.csv" --model "$W/m.npz" --quiet
printf 'old var\n' >"$W/v.csv"
expect_untouched "predict --out/--var-out: all or nothing" 1 "$W/p.csv,$W/v.csv" \
    "write failed: File too large" 100 \
    predict --model "$W/m.npz" --x "$W/e.csv" --time 1,10,inf --cov --var-out "$W/v.csv" --out "$W/p.csv" --quiet

# ------------------------------------------------------------ a killed writer

# a kernel large enough to be killed while it runs or writes: no temporary
# file may stay, whatever moment the signal hits
awk 'BEGIN { for (i = 1; i <= 1500; i++) printf "%.6f,%.6f,%.6f\n", sin(1.3 * i), cos(0.7 * i), sin(0.1 * i) }' >"$W/xl.csv"
left=0
for delay in 0.2 0.5 1 1.5; do
    "$NTK_BIN" kernel --arch "$A" --x1 "$W/xl.csv" --get ntk,nngp --out "$W/KA.csv,$W/KB.csv" --quiet &
    pid=$!
    sleep "$delay"
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    if compgen -G "$W/K*tmp*" >/dev/null; then left=1; fi
done
check "kernel killed at 4 moments: no temporary file left" "$(compgen -G "$W/K*tmp*" | tr '\n' ' ')" [ $left -eq 0 ]

finish
