#!/usr/bin/env bash
# kernel_errors.sh — the `ntk` command's failures: each bad invocation must
# exit with the right code (2 usage error, 1 bad input), print exactly one
# line on stderr (nothing on stdout) that names what is wrong (flag, file,
# row/column, spec position), and leave --out alone: not created when it did
# not exist, byte-identical when it did, no temporary files left next to it.
# Also the --help texts (exit 0, every flag documented).
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the
# source tree) and TMPDIR (a scratch folder). Ends with "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
ntk_commands="kernel demo"

# ------------------------------------------------------------ inputs

A='dense(16,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)'
X="$W/x.csv"
printf '0.5,1\n-1,2\n0.25,-0.75\n' >"$X"
printf '1,2,3\n4,5,6\n' >"$W/x3.csv"
printf '1,2\n3,4,5\n6,7\n' >"$W/ragged.csv"
printf '1,2\n3,4\n5,abc\n' >"$W/nonnum.csv"
printf '1,2\nnan,4\n' >"$W/nan.csv"
printf '1,2\n3,4\n5,inf\n' >"$W/inf.csv"
printf '1,2\n-Inf,4\n' >"$W/neginf.csv"
: >"$W/empty.csv"
printf 'a,b\n' >"$W/header_only.csv"
printf 'id,a,b\n1,0.5,1\n2,-1,2\n' >"$W/labelled.csv"
cp "$X" "$W/x.txt"
mkdir "$W/dir.csv"
printf 'dense(4),\n  rleu\n' >"$W/bad.spec"
printf 'an old file\n' >"$W/existing.csv"

# a good .npy made by ntk itself, then truncated copies of it
if "$NTK_BIN" kernel --arch "$A" --x1 "$X" --out "$W/good.npy" --quiet 2>"$W/stderr"; then
    record ok "make good.npy"
else
    record bad "make good.npy" "$(cat "$W/stderr")"
fi
size=$(wc -c <"$W/good.npy")
head -c 20 "$W/good.npy" >"$W/trunc_header.npy"
head -c $((size - 8)) "$W/good.npy" >"$W/trunc_data.npy"

O="$W/out.npy" # an output that must never appear
E="$W/existing.csv"

# ------------------------------------------------------------ usage errors: exit 2

expect_error "no command" 2 - "ntk: no command given" --
expect_error "unknown command with suggestion" 2 - "ntk: unknown command 'kernal' (did you mean 'kernel'?)" -- kernal
expect_error "unknown command" 2 - "ntk: unknown command 'frobnicate'" "ntk --help" -- frobnicate
expect_error "unknown option --x-1" 2 "$O" "ntk kernel: unknown option '--x-1' (did you mean '--x1'?)" \
    -- kernel --arch "$A" --x-1 "$X" --out "$O"
expect_error "unknown option --outt" 2 "$O" "unknown option '--outt' (did you mean '--out'?)" \
    -- kernel --arch "$A" --x1 "$X" --outt "$O"
expect_error "unknown option --x-1=FILE" 2 "$O" "unknown option '--x-1' (did you mean '--x1'?)" \
    -- kernel --arch "$A" --x-1="$X" --out "$O"
expect_error "unknown option, no suggestion" 2 "$O" "unknown option '--frobnicate'" "ntk kernel --help" \
    -- kernel --arch "$A" --x1 "$X" --out "$O" --frobnicate
expect_error "positional argument" 2 "$O" "unexpected argument" "$X" -- kernel --arch "$A" "$X" --out "$O"
expect_error "missing --arch" 2 "$O" "ntk kernel: --arch is required" -- kernel --x1 "$X" --out "$O"
expect_error "missing --x1" 2 "$O" "ntk kernel: --x1 is required" -- kernel --arch "$A" --out "$O"
expect_error "missing --out" 2 - "ntk kernel: --out is required" -- kernel --arch "$A" --x1 "$X"
expect_error "--x1 without a value" 2 - "--x1 needs a value" -- kernel --arch "$A" --out "$O" --x1
expect_error "--x1 with an empty value" 2 "$O" "--x1 needs a non-empty value" -- kernel --arch "$A" --x1= --out "$O"
expect_error "--x1 twice" 2 "$O" "--x1 given twice" -- kernel --arch "$A" --x1 "$X" --x1 "$X" --out "$O"
expect_error "--diag with a value" 2 "$O" "--diag takes no value" -- kernel --arch "$A" --x1 "$X" --out "$O" --diag=1
expect_error "bad --param" 2 "$O" "--param" "'bogus'" -- kernel --arch "$A" --x1 "$X" --out "$O" --param bogus
for t in 0 -1 abc 1.5 4097; do
    expect_error "bad --threads $t" 2 "$O" "--threads" "'$t'" -- kernel --arch "$A" --x1 "$X" --out "$O" --threads "$t"
done
for q in 1 97 x 0; do
    expect_error "bad --quad-degree $q" 2 "$O" "--quad-degree" "'$q'" \
        -- kernel --arch "$A" --x1 "$X" --out "$O" --quad-degree "$q"
done
expect_error "bad --header" 2 "$O" "--header" "'maybe'" -- kernel --arch "$A" --x1 "$X" --out "$O" --header maybe
expect_error "--get bogus" 2 "$O" "--get" "'bogus'" -- kernel --arch "$A" --x1 "$X" --out "$O" --get bogus
expect_error "--get bogus,nngp with one file" 2 "$O" "--get" "'bogus,nngp'" \
    -- kernel --arch "$A" --x1 "$X" --out "$O" --get bogus,nngp
expect_error "--get ntk,ntk" 2 "$O,$W/o2.npy" "--get" "'ntk,ntk'" \
    -- kernel --arch "$A" --x1 "$X" --out "$O,$W/o2.npy" --get ntk,ntk
expect_error "--get with three kernels" 2 "$O" "--get" -- kernel --arch "$A" --x1 "$X" --out "$O" --get ntk,nngp,ntk
expect_error "--get ntk,nngp with one --out" 2 "$O" "--out: 1 file for 2 kernels" \
    -- kernel --arch "$A" --x1 "$X" --out "$O" --get ntk,nngp
expect_error "--get ntk with two --out" 2 "$O,$W/o2.npy" "--out: 2 files for 1 kernel" \
    -- kernel --arch "$A" --x1 "$X" --out "$O,$W/o2.npy"
expect_error "--out with an empty name" 2 "$O" "--out: empty file name" \
    -- kernel --arch "$A" --x1 "$X" --out "$O," --get ntk,nngp
expect_error "--out same file twice" 2 "$O" "must differ" -- kernel --arch "$A" --x1 "$X" --out "$O,$O" --get ntk,nngp
expect_error "--diag with --x2" 2 "$O" "--diag" "--x1" -- kernel --arch "$A" --x1 "$X" --x2 "$X" --out "$O" --diag
expect_error "demo: bad --steps" 2 - "ntk demo: --steps" "'0'" -- demo --steps 0
expect_error "demo: unknown option" 2 - "ntk demo: unknown option '--m'" -- demo --m 5

# ------------------------------------------------------------ bad input: exit 1

expect_error "spec syntax error" 1 "$O" "ntk kernel: --arch: spec:1:10: unknown activation 'rleu' (did you mean 'relu'?)" \
    -- kernel --arch 'dense(4),rleu' --x1 "$X" --out "$O"
expect_error "spec: bad width" 1 "$O" "spec:1:7: dense: width must be a positive integer, got 0" \
    -- kernel --arch 'dense(0),relu' --x1 "$X" --out "$O"
expect_error "spec: unbalanced parenthesis" 1 "$O" "spec:1:16:" "found end of spec" \
    -- kernel --arch 'dense(4,w_std=2' --x1 "$X" --out "$O"
expect_error "spec error in @file (line 2)" 1 "$O" "--arch: spec:2:3: unknown activation 'rleu'" \
    -- kernel --arch "@$W/bad.spec" --x1 "$X" --out "$O"
expect_error "@missing spec file" 1 "$O" "--arch" "$W/missing.spec" "No such file or directory" \
    -- kernel --arch "@$W/missing.spec" --x1 "$X" --out "$O"
expect_error "missing input file" 1 "$O" "$W/missing.csv" "No such file or directory" \
    -- kernel --arch "$A" --x1 "$W/missing.csv" --out "$O"
expect_error "missing --x2 file" 1 "$O" "$W/missing2.npy" -- kernel --arch "$A" --x1 "$X" --x2 "$W/missing2.npy" --out "$O"
expect_error "directory as input" 1 "$O" "$W/dir.csv" -- kernel --arch "$A" --x1 "$W/dir.csv" --out "$O"
expect_error "unknown input extension" 1 "$O" "$W/x.txt" "unknown file format" \
    -- kernel --arch "$A" --x1 "$W/x.txt" --out "$O"
expect_error "ragged CSV row" 1 "$O" "$W/ragged.csv: row 2" "3 fields, expected 2" \
    -- kernel --arch "$A" --x1 "$W/ragged.csv" --out "$O"
expect_error "non-numeric CSV field" 1 "$O" "$W/nonnum.csv: row 3, column 2" "'abc'" \
    -- kernel --arch "$A" --x1 "$W/nonnum.csv" --out "$O"
expect_error "NaN in CSV" 1 "$O" "$W/nan.csv: data row 2, column 1" "not finite" \
    -- kernel --arch "$A" --x1 "$W/nan.csv" --out "$O"
expect_error "Inf in CSV" 1 "$O" "$W/inf.csv: data row 3, column 2" "not finite" \
    -- kernel --arch "$A" --x1 "$W/inf.csv" --out "$O"
expect_error "-Inf in --x2 CSV" 1 "$O" "$W/neginf.csv: data row 2, column 1" "not finite" \
    -- kernel --arch "$A" --x1 "$X" --x2 "$W/neginf.csv" --out "$O"
expect_error "empty CSV" 1 "$O" "$W/empty.csv" -- kernel --arch "$A" --x1 "$W/empty.csv" --out "$O"
expect_error "header-only CSV" 1 "$O" "$W/header_only.csv" -- kernel --arch "$A" --x1 "$W/header_only.csv" --out "$O"
expect_error "truncated .npy header" 1 "$O" "$W/trunc_header.npy" "truncated" \
    -- kernel --arch "$A" --x1 "$W/trunc_header.npy" --out "$O"
expect_error "truncated .npy data" 1 "$O" "$W/trunc_data.npy" "truncated" \
    -- kernel --arch "$A" --x1 "$W/trunc_data.npy" --out "$O"
expect_error "--x2 column count differs" 1 "$O" "--x2 $W/x3.csv has 3 columns but --x1 $X has 2" \
    -- kernel --arch "$A" --x1 "$X" --x2 "$W/x3.csv" --out "$O"
expect_error "--columns out of range" 1 "$O" "$X" "column 5" -- kernel --arch "$A" --x1 "$X" --columns 1,5 --out "$O"
expect_error "--columns unknown name" 1 "$O" "$W/labelled.csv" "'nosuch'" \
    -- kernel --arch "$A" --x1 "$W/labelled.csv" --columns a,nosuch --out "$O"
expect_error "output into a missing directory" 1 "$W/nodir/k.npy" "$W/nodir/k.npy" "No such file or directory" \
    -- kernel --arch "$A" --x1 "$X" --out "$W/nodir/k.npy"
if [ -e "$W/nodir" ]; then
    record bad "missing output directory stays missing" "$W/nodir exists"
else
    record ok "missing output directory stays missing"
fi
expect_error "unknown output extension" 1 "$W/k.txt" "$W/k.txt" "unknown file format" \
    -- kernel --arch "$A" --x1 "$X" --out "$W/k.txt"
expect_error "second output bad: first not written" 1 "$W/ka.npy,$W/ka.txt" "$W/ka.txt" "unknown file format" \
    -- kernel --arch "$A" --x1 "$X" --get ntk,nngp --out "$W/ka.npy,$W/ka.txt"
expect_error "second output in a missing directory: first not written" 1 "$W/kb.npy,$W/nodir/kb.npy" "$W/nodir/kb.npy" \
    -- kernel --arch "$A" --x1 "$X" --get ntk,nngp --out "$W/kb.npy,$W/nodir/kb.npy"
expect_error "output is a directory" 1 "$W/dir.csv" "$W/dir.csv" -- kernel --arch "$A" --x1 "$X" --out "$W/dir.csv"
expect_error "existing output unchanged (bad input)" 1 "$E" "$W/nan.csv: data row 2, column 1" \
    -- kernel --arch "$A" --x1 "$W/nan.csv" --out "$E"
expect_error "existing output unchanged (bad spec)" 1 "$E" "spec:1:" -- kernel --arch 'dense(4),' --x1 "$X" --out "$E"
expect_error "existing output unchanged (usage error)" 2 "$E" "--threads" -- kernel --arch "$A" --x1 "$X" --out "$E" --threads 0
if [ "$(cat "$E")" = "an old file" ]; then
    record ok "existing output content"
else
    record bad "existing output content" "now: $(head -c 200 "$E")"
fi

# ------------------------------------------------------------ help: exit 0, every flag

expect_help "ntk --help" "usage: ntk" "kernel" "demo" -- --help
expect_help "ntk -h" "usage: ntk" -- -h
expect_help "ntk --version" "ntk " -- --version
kernel_flags=(--arch --x1 --x2 --get --out --param --diag --threads --numeric --quad-degree --columns --header --quiet)
# every flag in the option table of the source, when the source is at hand
src="${NTK_TEST_DIR:-}/../src/cli/cmd_kernel.c"
if [ -r "$src" ]; then
    while read -r f; do kernel_flags+=("$f"); done < <(grep -o '{"--[a-z0-9-]*"' "$src" | tr -d '{"')
fi
expect_help "ntk kernel --help" "usage: ntk kernel" "${kernel_flags[@]}" -- kernel --help
expect_help "ntk kernel -h (after other options)" "usage: ntk kernel" -- kernel --arch "$A" -h
demo_flags=(--arch --widths --steps --seed --out-dir --threads)
src="${NTK_TEST_DIR:-}/../src/cli/cmd_demo.c"
if [ -r "$src" ]; then
    while read -r f; do demo_flags+=("$f"); done < <(grep -o '{"--[a-z0-9-]*"' "$src" | tr -d '{"')
fi
expect_help "ntk demo --help" "usage: ntk demo" "${demo_flags[@]}" -- demo --help

finish
