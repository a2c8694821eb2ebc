#!/usr/bin/env bash
# progress.sh — what the long-running commands show and check around their
# work (src/cli/progress.c):
#   - progress lines on a stderr that is not a terminal, with the test hook
#     NTK_PROGRESS_INTERVAL=0 (a line at every report, no quiet period), for
#     kernel, fit, predict, empirical (NTK, NNGP, Monte Carlo), features,
#     train, compare and demo: "ntk CMD: STAGE: P% (DONE/TOTAL), ..." with P
#     never decreasing within a stage and a last "100% ... done in" line;
#   - without the hook a short run shows no progress at all (only its
#     summary), and --quiet silences progress and notices (stderr empty);
#   - SIGINT and SIGTERM during the work (the command running in the
#     background, signalled once its first progress line shows the work has
#     started): exit status 130 / 143, one last line "interrupted by SIGINT
#     during STAGE (P% done); nothing written", no output file and no
#     temporary file left, for kernel, fit and train (with --log);
#   - refusals before any work, with the test hooks NTK_MEM_AVAILABLE and
#     NTK_DISK_AVAILABLE standing in for the machine's figures: one line
#     giving the numbers, exit status 1, nothing written; --force goes on.
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the
# source tree) and TMPDIR (a scratch folder). Ends with "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
run_stdout=keep
# under LeakSanitizer (CI's sanitizer run): no report of the suppressions
# used (PLplot's fontconfig) on the stderr that the --quiet checks read
[ -n "${LSAN_OPTIONS:-}" ] && export LSAN_OPTIONS="$LSAN_OPTIONS:print_suppressions=0"

# ------------------------------------------------------------ inputs

A='dense(64,w_std=1.5,b_std=0.05),relu,dense(64,w_std=1.5,b_std=0.05),relu,dense(2,w_std=1.5,b_std=0.05)'
S='dense(32,w_std=1.5,b_std=0.1),relu,dense(2,w_std=1.5)'
# X: 1500 points in d = 8 (a kernel of 1.1M entries, several work blocks);
# Y: two smooth targets; small sets for the quicker commands
awk 'BEGIN { for (i = 1; i <= 1500; i++) { for (j = 1; j <= 8; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), sin(1.3 * i + 0.7 * j) * (1 + 0.1 * j)
    printf "\n" } }' >"$W/x.csv"
head -n 300 "$W/x.csv" >"$W/x300.csv"
head -n 40 "$W/x.csv" >"$W/x40.csv"
awk -F, '{ printf "%.6f,%.6f\n", $1 * $2 + 0.5 * $3, cos($1) - $2 }' "$W/x300.csv" >"$W/y300.csv"
head -n 40 "$W/y300.csv" >"$W/y40.csv"
awk -F, '{ print $1 }' "$W/y40.csv" >"$W/y40_1.csv"
awk -F, '{ print $1 }' "$W/y300.csv" >"$W/y300_1.csv"
X="$W/x.csv"

# ------------------------------------------------------------ progress lines (not a terminal)

# progress_lines NAME CMD STAGE ARGS...: runs ntk with NTK_PROGRESS_INTERVAL=0;
# it must succeed, print at least two progress lines of STAGE (a regular
# expression) in the documented form, percentages that never decrease
# within a stage, and end the stage with a "100% ... done in" line.
progress_lines() {
    local name=$1 cmd=$2 stage=$3
    shift 3
    NTK_PROGRESS_INTERVAL=0 "$NTK_BIN" "$cmd" "$@" >"$W/stdout" 2>"$W/stderr" </dev/null
    local rc=$?
    local -a why=()
    [ "$rc" -eq 0 ] || why+=("exit code $rc: $(tail -n 2 "$W/stderr")")
    local lines
    lines=$(grep -E "^ntk $cmd: ($stage): +[0-9]+% \([0-9.]+[kMGTPE]?/[0-9.]+[kMGTPE]?\), " "$W/stderr")
    [ "$(printf '%s\n' "$lines" | grep -c .)" -ge 2 ] || why+=("fewer than two progress lines of '$stage'")
    printf '%s\n' "$lines" | grep -qE ": +100% \(.*\), done in [0-9]" || why+=("no '100% ... done in' line")
    # percentages per stage never decrease
    local bad
    bad=$(grep -E "^ntk $cmd: [^:]+(: [^:]+)?: +[0-9]+% \(" "$W/stderr" | awk '{
            line = $0; sub(/^ntk [a-z]+: /, "", line)
            p = match(line, /: +[0-9]+% \(/); st = substr(line, 1, p - 1)
            pc = substr(line, p + 1) + 0
            if (st == last && pc < lastpc) { print "stage " st ": " lastpc "% then " pc "%"; exit }
            last = st; lastpc = pc }')
    [ -z "$bad" ] || why+=("$bad")
    if [ ${#why[@]} -eq 0 ]; then record ok "$name"; else record bad "$name" "${why[@]}" "stderr: $(head -c 400 "$W/stderr")"; fi
}

progress_lines "kernel: progress lines" kernel "kernel" --arch "$A" --x1 "$X" --out "$W/k.npy"
progress_lines "kernel --x2: progress lines" kernel "kernel" --arch "$A" --x1 "$X" --x2 "$W/x300.csv" --get ntk,nngp \
    --out "$W/k2.npy,$W/k2n.npy"
progress_lines "fit: kernel lines" fit "kernel" --arch "$A" --x "$W/x300.csv" --y "$W/y300.csv" --model "$W/m.npz"
progress_lines "fit: eigendecomposition lines" fit "eigendecomposition" --arch "$A" --x "$W/x300.csv" --y "$W/y300.csv" \
    --model "$W/m.npz"
progress_lines "fit --inf-only: Cholesky lines" fit "Cholesky" --arch "$A" --x "$W/x300.csv" --y "$W/y300.csv" \
    --inf-only --model "$W/mi.npz"
progress_lines "predict: progress lines" predict "prediction" --model "$W/m.npz" --x "$X" --time 1,inf --cov \
    --out "$W/p.npy"
progress_lines "empirical NTK: progress lines" empirical "empirical NTK" --arch "$S" --x1 "$W/x300.csv" --out "$W/e.npy"
progress_lines "empirical NNGP: progress lines" empirical "empirical NNGP" --arch "$S" --x1 "$W/x300.csv" \
    --get nngp --out "$W/en.npy"
progress_lines "empirical --samples: progress lines" empirical "Monte Carlo kernels" --arch "$S" --x1 "$W/x300.csv" \
    --samples 3 --get ntk,nngp --out "$W/m1.npy,$W/m2.npy"
progress_lines "features: progress lines" features "Jacobian" --arch "$S" --x "$W/x40.csv" --out "$W/j.npy"
progress_lines "train: progress lines" train "training" --arch "$S" --x "$W/x40.csv" --y "$W/y40.csv" --lr 0.5 \
    --steps 30 --save "$W/t.npz"
progress_lines "train SGD: progress lines" train "training" --arch "$S" --x "$W/x40.csv" --y "$W/y40.csv" --lr 0.5 \
    --steps 30 --batch 8 --save "$W/t.npz"
C1='dense(16,w_std=1.4,b_std=0.1),relu,dense(1,w_std=1.4,b_std=0.1)'
progress_lines "compare: per-width lines" compare "width 32 \(2/2\): training" --arch "$C1" --x "$W/x40.csv" \
    --y "$W/y40_1.csv" --x-test "$W/x300.csv" --widths 16,32 --steps 20 --out-dir "$W/cmp"
progress_lines "compare: infinite-width lines" compare "infinite width: kernels" --arch "$C1" --x "$W/x40.csv" \
    --y "$W/y40_1.csv" --x-test "$W/x300.csv" --widths 16,32 --steps 20 --out-dir "$W/cmp"
progress_lines "demo: progress lines" demo "width 16 \(1/2\): kernels" --widths 16,32 --steps 20 --out-dir "$W/demo"

# the progress does not change a result
"$NTK_BIN" kernel --arch "$A" --x1 "$X" --out "$W/k_plain.npy" --quiet 2>/dev/null
same_bytes "kernel: the same bytes with and without progress" "$W/k.npy" "$W/k_plain.npy"

# ------------------------------------------------------------ short runs, --quiet

"$NTK_BIN" kernel --arch "$A" --x1 "$W/x40.csv" --out "$W/ks.npy" >"$W/stdout" 2>"$W/stderr"
check "a short run shows no progress (only its summary line)" "$(cat "$W/stderr")" \
    [ "$(wc -l <"$W/stderr")" -eq 1 -a -n "$(grep '^ntk kernel: NTK 40 x 40' "$W/stderr")" ]

# quiet NAME ARGS...: with the hook set, --quiet leaves stderr empty
quiet() {
    local name=$1
    shift
    NTK_PROGRESS_INTERVAL=0 "$NTK_BIN" "$@" --quiet >"$W/stdout" 2>"$W/stderr" </dev/null
    local rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s "$W/stderr" ]; then record ok "$name"; else
        record bad "$name" "exit $rc, stderr: $(head -c 300 "$W/stderr")"
    fi
}
quiet "kernel --quiet: silent" kernel --arch "$A" --x1 "$X" --out "$W/kq.npy"
quiet "fit --quiet: silent" fit --arch "$A" --x "$W/x300.csv" --y "$W/y300.csv" --model "$W/mq.npz"
quiet "predict --quiet: silent" predict --model "$W/m.npz" --x "$X" --out "$W/pq.npy"
quiet "empirical --quiet: silent" empirical --arch "$S" --x1 "$W/x300.csv" --samples 2 --out "$W/eq.npy"
quiet "features --quiet: silent" features --arch "$S" --x "$W/x40.csv" --out "$W/jq.npy"
quiet "train --quiet: silent" train --arch "$S" --x "$W/x40.csv" --y "$W/y40.csv" --lr 0.5 --steps 30 --save "$W/tq.npz"
quiet "compare --quiet: silent" compare --arch "$C1" --x "$W/x40.csv" --y "$W/y40_1.csv" --x-test "$W/x300.csv" \
    --widths 16,32 --steps 20 --out-dir "$W/cmpq"
quiet "demo --quiet: silent" demo --widths 16,32 --steps 20 --out-dir "$W/demoq"
check "demo --quiet: no table on stdout" "$(head -c 200 "$W/stdout")" [ ! -s "$W/stdout" ]

# ------------------------------------------------------------ SIGINT / SIGTERM

set -m # job control: background commands keep SIGINT (else a script's jobs ignore it)

# interrupt (lib.sh): signalled once the first progress line shows the work has started
T='dense(64,w_std=1.3,b_std=0.1),tanh,dense(1,w_std=1.3)' # quadrature: slow enough to be caught
mkdir -p "$W/int"
interrupt "kernel: SIGINT" INT 130 "$W/int" kernel --arch "$T" --x1 "$X" --get ntk,nngp --out "$W/int/K.npy,$W/int/N.npy"
interrupt "kernel: SIGTERM" TERM 143 "$W/int" kernel --arch "$T" --x1 "$X" --out "$W/int/K.npy"
interrupt "fit: SIGINT" INT 130 "$W/int" fit --arch "$T" --x "$X" --y "$W/y300.csv" --limit 300 --model "$W/int/m.npz"
interrupt "train: SIGINT" INT 130 "$W/int" train --arch "$S" --x "$W/x40.csv" --y "$W/y40.csv" --lr 0.1 \
    --steps 100000000 --save "$W/int/t.npz" --log "$W/int/loss.csv" --log-every 1000 --eval "$W/x40.csv" --out "$W/int/p.npy"
set +m

# ------------------------------------------------------------ refusals before any work

ntk_commands="kernel fit predict empirical features train compare"
K="$W/refused.npy"
# 1500² doubles = 18 MB per kernel
NTK_MEM_AVAILABLE=10M expect_error "kernel: not enough memory" 1 "$K" \
    "ntk kernel: needs ~18 MB of memory for the 1500 x 1500 kernel, 10 MB available (--force to try anyway)" \
    -- kernel --arch "$A" --x1 "$X" --out "$K"
NTK_MEM_AVAILABLE=30M expect_error "kernel: both kernels need twice" 1 "$K,$W/refused2.npy" \
    "needs ~36 MB of memory for the 1500 x 1500 NTK and NNGP, 30 MB available" \
    -- kernel --arch "$A" --x1 "$X" --get ntk,nngp --out "$K,$W/refused2.npy"
NTK_DISK_AVAILABLE=1M expect_error "kernel: not enough disk" 1 "$K" \
    "ntk kernel: --out $K needs ~18 MB of disk space, 1 MB free in '$W' (--force to try anyway)" \
    -- kernel --arch "$A" --x1 "$X" --out "$K"
NTK_DISK_AVAILABLE=30M expect_error "kernel: two outputs on one disk" 1 "$K,$W/refused2.npy" \
    "needs ~36 MB of disk space, 30 MB free" "(with the other outputs there)" \
    -- kernel --arch "$A" --x1 "$X" --get ntk,nngp --out "$K,$W/refused2.npy"
NTK_DISK_AVAILABLE=1M expect_error "kernel: CSV estimate (25 bytes a value)" 1 "$W/refused.csv" \
    "needs ~56.3 MB of disk space" -- kernel --arch "$A" --x1 "$X" --out "$W/refused.csv"
if NTK_MEM_AVAILABLE=10M NTK_DISK_AVAILABLE=1M "$NTK_BIN" kernel --arch "$A" --x1 "$X" --out "$W/forced.npy" --force \
    --quiet 2>"$W/stderr"; then
    same_bytes "kernel --force: goes on (and computes the same)" "$W/forced.npy" "$W/k_plain.npy"
else
    record bad "kernel --force: goes on" "$(cat "$W/stderr")"
fi
# fit, N = 1500: NTK with the eigendecomposition 5 N² doubles = 90 MB; --inf-only N² = 18 MB
awk -F, '{ printf "%.6f\n", $1 * $2 }' "$X" >"$W/y1500.csv"
NTK_MEM_AVAILABLE=50M expect_error "fit: not enough memory" 1 "$W/refused.npz" \
    "ntk fit: needs ~90.3 MB of memory for N = 1500 (kernel, eigenvectors, NNGP), 50 MB available; --inf-only needs 18.3 MB (--force to try anyway)" \
    -- fit --arch "$A" --x "$X" --y "$W/y1500.csv" --model "$W/refused.npz"
NTK_MEM_AVAILABLE=50M expect_error "fit --kernel nngp: 4 N²" 1 "$W/refused.npz" \
    "needs ~72.3 MB of memory for N = 1500 (kernel, eigenvectors), 50 MB available" \
    -- fit --arch "$A" --x "$X" --y "$W/y1500.csv" --kernel nngp --model "$W/refused.npz"
NTK_MEM_AVAILABLE=10M expect_error "fit --inf-only: N²" 1 "$W/refused.npz" \
    "needs ~18.3 MB of memory for N = 1500 (kernel), 10 MB available (--force" \
    -- fit --arch "$A" --x "$X" --y "$W/y1500.csv" --inf-only --model "$W/refused.npz"
NTK_DISK_AVAILABLE=10M expect_error "fit: the model does not fit on the disk" 1 "$W/refused.npz" \
    "--model $W/refused.npz needs ~36.2 MB of disk space, 10 MB free" \
    -- fit --arch "$A" --x "$X" --y "$W/y1500.csv" --model "$W/refused.npz"
NTK_MEM_AVAILABLE=100k expect_error "predict: the model does not fit in memory" 1 "$W/refused.npy" \
    "ntk predict: needs ~" "of memory for reading the model $W/m.npz, 100 kB available" \
    -- predict --model "$W/m.npz" --x "$X" --out "$W/refused.npy"
NTK_DISK_AVAILABLE=10k expect_error "predict: the outputs do not fit on the disk" 1 "$W/refused.npy,$W/refused_v.npy" \
    "needs ~" "of disk space, 10 kB free" \
    -- predict --model "$W/m.npz" --x "$X" --cov --var-out "$W/refused_v.npy" --out "$W/refused.npy"
NTK_MEM_AVAILABLE=5M expect_error "empirical: not enough memory" 1 "$W/refused.npy" \
    "ntk empirical: needs ~" "of memory for 1500 x 1500 points (NTK), 5 MB available" \
    -- empirical --arch "$S" --x1 "$X" --out "$W/refused.npy"
NTK_MEM_AVAILABLE=5M expect_error "empirical --samples: not enough memory" 1 "$W/refused.npy" \
    "of memory for 1500 x 1500 points (NTK, NNGP)" \
    -- empirical --arch "$S" --x1 "$X" --samples 2 --get ntk,nngp --out "$W/refused.npy,$W/refused2.npy"
NTK_MEM_AVAILABLE=1M expect_error "features: not enough memory" 1 "$W/refused.npy" \
    "ntk features: needs ~" "of memory for the 3000 x" "Jacobian, 1 MB available" \
    -- features --arch "$S" --x "$X" --out "$W/refused.npy"
NTK_MEM_AVAILABLE=1k expect_error "train: not enough memory" 1 "$W/refused.npz" \
    "ntk train: needs ~" "of memory for training on 40 points (" "1 kB available" \
    -- train --arch "$S" --x "$W/x40.csv" --y "$W/y40.csv" --lr 0.1 --steps 10 --save "$W/refused.npz" --quiet
NTK_DISK_AVAILABLE=1k expect_error "train: the parameters do not fit on the disk" 1 "$W/refused.npz" \
    "--save $W/refused.npz" "of disk space, 1 kB free" \
    -- train --arch "$S" --x "$W/x40.csv" --y "$W/y40.csv" --lr 0.1 --steps 10 --save "$W/refused.npz" --quiet
NTK_MEM_AVAILABLE=1M expect_error "compare: not enough memory" 1 - \
    "ntk compare: needs ~" "of memory for N = 300, k = 1, M = 300" \
    -- compare --arch "$C1" --x "$W/x300.csv" --y "$W/y300_1.csv" --x-test "$W/x300.csv" --out-dir "$W/cmpr"

finish
