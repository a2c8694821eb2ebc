# lib.sh — the harness shared by the shell tests of the `ntk` command in this
# folder (not a test itself: tests/CMakeLists.txt leaves it out). Each test
# starts with
#     set -u
#     . "$(dirname "$0")/lib.sh"
# and ends with `finish`, which prints "N passed, M failed" and fails when M
# is not 0.
#
# Sourcing it checks NTK_BIN (the binary), makes the scratch folder $W under
# $TMPDIR (removed on exit) and zeroes the counters npass and nfail.
#
# Settings a test may make after sourcing:
#   ntk_commands  space-separated command names: the error messages that
#                 expect_error accepts start with "ntk:" or "ntk CMD:" for one
#                 of these; unset or empty, any "ntk NAME:" (NAME lowercase
#                 letters) is accepted.
#   run_stdout    "empty" (default): `run` fails when the command writes to
#                 stdout; "keep": stdout is allowed (kept in $W/stdout).
#   interrupt_wait  the stderr line `interrupt` waits for before it sends
#                 the signal (default: any progress line).

: "${NTK_BIN:?NTK_BIN must name the ntk binary}"
W=$(mktemp -d "${TMPDIR:-/tmp}/ntk-$(basename "$0" .sh | tr _ -).XXXXXX") || { echo "cannot make a scratch folder"; exit 1; }
# only the script's own shell removes it (a forked child that a signal
# reaches before it execs must not)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$W"' EXIT

npass=0
nfail=0
ntk_commands=
run_stdout=empty

# ok|bad NAME [REASON...]: counts a case, printing the reasons of a failure.
record() {
    local verdict=$1 name=$2
    shift 2
    if [ "$verdict" = ok ]; then
        npass=$((npass + 1))
        return
    fi
    nfail=$((nfail + 1))
    echo "FAIL: $name"
    local r
    for r in "$@"; do echo "      $r"; done
}

# finish: prints the counts; fails when a case failed (call it last).
finish() {
    echo "$npass passed, $nfail failed"
    [ "$nfail" -eq 0 ]
}

# Prints the state of a path for before/after comparisons: "absent" or a checksum.
state_of() {
    if [ -e "$1" ]; then cksum <"$1" 2>/dev/null || echo "unreadable"; else echo absent; fi
}

# ntk_prefix_ok LINE: LINE starts with "ntk:" or "ntk CMD:", CMD one of
# $ntk_commands (when set) or any lowercase name (when not).
ntk_prefix_ok() {
    local line=$1 c
    case $line in ntk:*) return 0 ;; esac
    if [ -z "${ntk_commands:-}" ]; then
        [[ $line =~ ^ntk\ [a-z]+: ]]
        return
    fi
    for c in $ntk_commands; do
        case $line in "ntk $c:"*) return 0 ;; esac
    done
    return 1
}

# expect_error NAME CODE OUT [TEXT...] -- ARGS...
#   Runs "$NTK_BIN" ARGS and checks: exit code CODE; stdout empty; stderr is
#   one line, starting with "ntk:" or "ntk <command>:" (see ntk_commands),
#   containing every TEXT (fixed strings); OUT (a comma list of paths, or "-"
#   for none) is as it was before the run and no OUT.tmp.* or
#   OUT.ntk-tmp.* file is left behind.
expect_error() {
    local name=$1 code=$2 outs=$3
    shift 3
    local -a texts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do texts+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    local -a paths=() before=()
    local p
    if [ "$outs" != - ]; then
        IFS=, read -r -a paths <<<"$outs"
        for p in "${paths[@]}"; do before+=("$(state_of "$p")"); done
    fi

    "$NTK_BIN" "$@" >"$W/stdout" 2>"$W/stderr" </dev/null
    local rc=$?

    local -a why=()
    [ "$rc" -eq "$code" ] || why+=("exit code $rc, expected $code")
    [ -s "$W/stdout" ] && why+=("stdout not empty: $(head -c 200 "$W/stdout")")
    local nlines
    nlines=$(wc -l <"$W/stderr")
    if [ ! -s "$W/stderr" ]; then
        why+=("stderr is empty")
    elif [ "$nlines" -ne 1 ] || [ -n "$(tail -c 1 "$W/stderr")" ]; then
        why+=("stderr is not exactly one line ($nlines newlines)")
    fi
    local line
    line=$(cat "$W/stderr")
    if ! ntk_prefix_ok "$line"; then
        if [ -n "${ntk_commands:-}" ]; then
            why+=("stderr does not start with 'ntk:' or 'ntk <command>:' for a command in: $ntk_commands")
        else
            why+=("stderr does not start with 'ntk:' or 'ntk <command>:'")
        fi
    fi
    local t
    for t in "${texts[@]+"${texts[@]}"}"; do
        case $line in
        *"$t"*) ;;
        *) why+=("stderr lacks: $t") ;;
        esac
    done
    local k
    for k in "${!paths[@]}"; do
        p=${paths[$k]}
        local after
        after=$(state_of "$p")
        if [ "$after" != "${before[$k]}" ]; then
            if [ "${before[$k]}" = absent ]; then why+=("$p was created"); else why+=("$p was changed"); fi
        fi
        if compgen -G "$p.tmp.*" >/dev/null || compgen -G "$p.ntk-tmp.*" >/dev/null; then
            why+=("temporary file left: $(compgen -G "$p.*tmp.*" | tr '\n' ' ')")
        fi
    done

    if [ ${#why[@]} -eq 0 ]; then
        record ok "$name"
    else
        why+=("command: ntk $*" "stderr:  $line")
        record bad "$name" "${why[@]}"
    fi
}

# expect_help NAME TEXT... -- ARGS...: exit 0, stdout non-empty and holding
# every TEXT, stderr empty.
expect_help() {
    local name=$1
    shift
    local -a texts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do texts+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    "$NTK_BIN" "$@" >"$W/stdout" 2>"$W/stderr" </dev/null
    local rc=$?
    local -a why=()
    [ "$rc" -eq 0 ] || why+=("exit code $rc, expected 0")
    [ -s "$W/stdout" ] || why+=("stdout is empty")
    [ -s "$W/stderr" ] && why+=("stderr not empty: $(head -c 200 "$W/stderr")")
    local t
    for t in "${texts[@]+"${texts[@]}"}"; do
        grep -qF -- "$t" "$W/stdout" || why+=("stdout lacks: $t")
    done
    if [ ${#why[@]} -eq 0 ]; then record ok "$name"; else record bad "$name" "${why[@]}" "command: ntk $*"; fi
}

# run NAME ARGS...: runs "$NTK_BIN" ARGS, which must succeed with an empty
# stderr (callers pass --quiet) and, unless run_stdout=keep, an empty stdout;
# stdout is kept in $W/stdout. Returns non-zero (after recording a failure)
# otherwise, so that dependent checks can be skipped.
run() {
    local name=$1
    shift
    "$NTK_BIN" "$@" >"$W/stdout" 2>"$W/stderr" </dev/null
    local rc=$?
    local -a why=()
    [ "$rc" -eq 0 ] || why+=("exit code $rc")
    [ -s "$W/stderr" ] && why+=("stderr: $(head -c 300 "$W/stderr")")
    if [ "${run_stdout:-empty}" != keep ] && [ -s "$W/stdout" ]; then
        why+=("stdout: $(head -c 300 "$W/stdout")")
    fi
    if [ ${#why[@]} -eq 0 ]; then
        record ok "$name"
        return 0
    fi
    record bad "$name" "${why[@]}" "command: ntk $*"
    return 1
}

# check NAME REASON COMMAND...: records a pass when COMMAND succeeds, else a
# failure with REASON.
check() {
    local name=$1 reason=$2
    shift 2
    if "$@"; then record ok "$name"; else record bad "$name" "$reason"; fi
}

# same_bytes NAME FILE1 FILE2: the two files are identical.
same_bytes() {
    if [ ! -f "$2" ] || [ ! -f "$3" ]; then
        record bad "$1" "missing: $( [ -f "$2" ] || echo "$2") $( [ -f "$3" ] || echo "$3")"
    elif cmp -s "$2" "$3"; then
        record ok "$1"
    else
        record bad "$1" "$2 and $3 differ: $(cmp "$2" "$3" 2>&1 | head -1)"
    fi
}

# differ NAME FILE1 FILE2: both exist and are not identical.
differ() {
    if [ -f "$2" ] && [ -f "$3" ] && ! cmp -s "$2" "$3"; then record ok "$1"; else record bad "$1" "$2 and $3 are the same (or missing)"; fi
}

# close_csv NAME FILE REF TOL: two CSV matrices of the same shape with
# |a - b| <= TOL * max|REF| entry by entry (max over all of REF).
close_csv() {
    local msg
    msg=$(awk -F, -v tol="$4" '
        function abs(v) { return v < 0 ? -v : v }
        FNR == NR { nf1[FNR] = NF; for (j = 1; j <= NF; j++) a[FNR, j] = $j; n1 = FNR; next }
        {
            n2 = FNR
            if (NF != nf1[FNR]) { printf "row %d: %d fields vs %d\n", FNR, nf1[FNR], NF; bad = 1; exit }
            for (j = 1; j <= NF; j++) { b[FNR, j] = $j; if (abs($j) > scale) scale = abs($j) }
        }
        END {
            if (bad) exit
            if (n1 != n2) { printf "%d rows vs %d\n", n1, n2; exit }
            if (n1 == 0) { print "empty"; exit }
            for (i = 1; i <= n1; i++) for (j = 1; j <= nf1[i]; j++) {
                d = abs(a[i, j] - b[i, j])
                if (d > tol * scale) { printf "row %d, column %d: %.17g vs %.17g (|diff| %.3g > %s * %.3g)\n", i, j, a[i, j], b[i, j], d, tol, scale; exit }
            }
        }' "$2" "$3" 2>&1)
    if [ -z "$msg" ]; then record ok "$1"; else record bad "$1" "$2 vs $3: $msg"; fi
}

# shape_csv FILE: prints "ROWS COLS" (COLS of the first row) of a CSV file.
shape_csv() { awk -F, 'NR == 1 { c = NF } END { print NR, c }' "$1"; }

# interrupt NAME SIG CODE DIR ARGS...: starts "$NTK_BIN" ARGS in the
# background with a progress line at every report (NTK_PROGRESS_INTERVAL=0),
# sends SIG (INT or TERM) once stderr has a line matching $interrupt_wait (an
# extended regular expression; by default any progress line: the work has
# started), and checks the exit status CODE, the last stderr line "ntk CMD:
# interrupted by SIGSIG during STAGE (P% done); nothing written" (or "at
# the end of STAGE"), an empty stdout, and that DIR holds nothing. The
# caller sets `set -m` first (else a script's background jobs ignore
# SIGINT).
interrupt_wait='^ntk [a-z]+: .*: +[0-9]+% \('
interrupt() {
    local name=$1 sig=$2 code=$3 dir=$4
    shift 4
    # emptied here, before the fork: the wait below must not see the last
    # case's lines (a signal sent before the new process has its handler,
    # even before it has exec'd ntk, would hit the forked shell)
    : >"$W/stdout"
    : >"$W/stderr"
    NTK_PROGRESS_INTERVAL=0 "$NTK_BIN" "$@" >"$W/stdout" 2>"$W/stderr" </dev/null &
    local pid=$! i
    for i in $(seq 1 3000); do # up to 60 s for the line
        grep -qE "$interrupt_wait" "$W/stderr" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    kill -s "$sig" "$pid" 2>/dev/null
    wait "$pid"
    local rc=$?
    local -a why=()
    [ "$rc" -eq "$code" ] || why+=("exit code $rc, expected $code")
    local last signame=SIG$sig
    last=$(tail -n 1 "$W/stderr")
    [[ $last =~ ^ntk\ [a-z]+:\ interrupted\ by\ $signame\ (during\ .+\ \([0-9]+%\ done\)|at\ the\ end\ of\ .+)\;\ nothing\ written$ ]] ||
        why+=("last stderr line: $last")
    [ -s "$W/stdout" ] && why+=("stdout: $(head -c 200 "$W/stdout")")
    local left
    left=$(ls -A "$dir")
    [ -z "$left" ] || why+=("left in $dir: $left")
    if [ ${#why[@]} -eq 0 ]; then record ok "$name"; else record bad "$name" "${why[@]}" "command: ntk $*"; fi
}
