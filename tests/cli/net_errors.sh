#!/usr/bin/env bash
# net_errors.sh — the failures of the finite-network commands (train,
# empirical, features, apply): each bad invocation must exit with the right
# code (2 usage error, 1 bad input or a failed run), print exactly one line
# on stderr (nothing on stdout) naming what is wrong (flag, file, row,
# column, member, step), and leave every output alone: not created when it
# did not exist, byte-identical when it did, no temporary files left beside
# it. Covers shapes (y rows, k vs y columns, d_in of saved networks), option
# values (lr, steps, batch, momentum, seed, samples, max-gb, ...), --params
# with --seed / --samples / a different --arch or --param, missing and
# corrupt parameter files, a Jacobian over --max-gb, diverging training,
# unknown options with suggestions, and the --help texts.
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the
# source tree) and TMPDIR (a scratch folder). Ends with "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
ntk_commands="train empirical features apply"

# ------------------------------------------------------------ inputs

A='dense(16,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)'
A2='dense(8),relu,dense(2)'
X="$W/x.csv" Y="$W/y.csv" E="$W/e.csv"
printf '0.5,1\n-1,2\n0.25,-0.75\n1.5,0.5\n' >"$X"
printf '0.3\n-0.2\n0.1\n0.7\n' >"$Y"
printf '0.3\n-0.2\n0.1\n' >"$W/y3rows.csv"
printf '0.3,1,2\n-0.2,1,2\n0.1,1,2\n0.7,1,2\n' >"$W/y3cols.csv"
printf '0.3\nnan\n0.1\n0.7\n' >"$W/ynan.csv"
printf '1,2,3\n4,5,6\n' >"$E"
printf '1\n2\n' >"$W/x1col.csv"
printf 'an old file\n' >"$W/existing.npz"
mkdir "$W/dir.npz"

# a good parameter file, a linearized one, and damaged copies
"$NTK_BIN" train --arch "$A" --x "$X" --y "$Y" --lr 0.5 --steps 3 --save "$W/p.npz" --quiet 2>"$W/stderr" &&
    "$NTK_BIN" train --arch "$A" --x "$X" --y "$Y" --lr 0.5 --steps 3 --save "$W/lin.npz" --linearized --quiet 2>>"$W/stderr"
if [ -s "$W/p.npz" ] && [ -s "$W/lin.npz" ]; then record ok "make p.npz, lin.npz"; else record bad "make p.npz, lin.npz" "$(cat "$W/stderr")"; fi
size=$(wc -c <"$W/p.npz")
head -c $((size / 2)) "$W/p.npz" >"$W/trunc.npz"
printf 'not a zip file at all\n' >"$W/garbage.npz"
# an archive without meta.txt, and one whose dense1.W is dense0.W's (16, 2), when zip(1) is at hand
if command -v zip >/dev/null && command -v unzip >/dev/null; then
    mkdir "$W/unz" && (cd "$W/unz" && unzip -q "$W/p.npz" && zip -q "$W/nometa.npz" arch.txt dense0.W.npy dense0.b.npy dense1.W.npy &&
        cp dense0.W.npy dense1.W.npy && zip -q "$W/badshape.npz" arch.txt meta.txt dense0.W.npy dense0.b.npy dense1.W.npy)
fi

S="$W/s.npz" O="$W/o.npy" L="$W/l.csv" # outputs that must never appear
T=(train --arch "$A" --x "$X" --y "$Y" --save "$S")

# ------------------------------------------------------------ usage errors: exit 2

expect_error "train: missing --arch" 2 "$S" "ntk train: --arch is required" -- train --x "$X" --y "$Y" --lr 1 --steps 1 --save "$S"
expect_error "train: missing --x" 2 "$S" "--x is required" -- train --arch "$A" --y "$Y" --lr 1 --steps 1 --save "$S"
expect_error "train: missing --y" 2 "$S" "--y is required" -- train --arch "$A" --x "$X" --lr 1 --steps 1 --save "$S"
expect_error "train: missing --lr" 2 "$S" "--lr is required" -- "${T[@]}" --steps 1
expect_error "train: missing --steps" 2 "$S" "--steps is required" -- "${T[@]}" --lr 1
expect_error "train: missing --save" 2 - "--save is required" -- train --arch "$A" --x "$X" --y "$Y" --lr 1 --steps 1
expect_error "train: --eval without --out" 2 "$S" "--eval needs --out" -- "${T[@]}" --lr 1 --steps 1 --eval "$X"
expect_error "train: --out without --eval" 2 "$S,$O" "--out needs --eval" -- "${T[@]}" --lr 1 --steps 1 --out "$O"
for v in 0 -1 abc inf nan 1e999 ''; do
    expect_error "train: bad --lr '$v'" 2 "$S" "--lr" -- "${T[@]}" --lr="$v" --steps 1
done
expect_error "train: --lr message" 2 "$S" "--lr: expected a positive number, got '-1'" -- "${T[@]}" --lr -1 --steps 1
for v in -1 abc 1.5 1e3 99999999999999999999; do
    expect_error "train: bad --steps '$v'" 2 "$S" "--steps" "'$v'" -- "${T[@]}" --lr 1 --steps "$v"
done
for v in -1 x 2.5; do
    expect_error "train: bad --batch '$v'" 2 "$S" "--batch" "'$v'" -- "${T[@]}" --lr 1 --steps 1 --batch "$v"
done
for v in 1 -0.1 1.5 x nan; do
    expect_error "train: bad --momentum '$v'" 2 "$S" "--momentum: expected a number in [0, 1)" "'$v'" \
        -- "${T[@]}" --lr 1 --steps 1 --momentum "$v"
done
for v in -1 abc 1.5 18446744073709551616 ' 3'; do
    expect_error "train: bad --seed '$v'" 2 "$S" "--seed: expected an integer in [0, 18446744073709551615]" \
        -- "${T[@]}" --lr 1 --steps 1 --seed "$v"
done
expect_error "train: bad --log-every" 2 "$S,$L" "--log-every" "'0'" -- "${T[@]}" --lr 1 --steps 1 --log "$L" --log-every 0
expect_error "train: bad --threads" 2 "$S" "--threads" "'0'" -- "${T[@]}" --lr 1 --steps 1 --threads 0
expect_error "train: bad --param" 2 "$S" "--param: expected 'ntk' or 'standard', got 'std'" -- "${T[@]}" --lr 1 --steps 1 --param std
expect_error "train: --linearized with a value" 2 "$S" "--linearized takes no value" -- "${T[@]}" --lr 1 --steps 1 --linearized=1
expect_error "train: --save = --out" 2 "$S" "--save and --out name the same file" \
    -- "${T[@]}" --lr 1 --steps 1 --eval "$X" --out "$S"
expect_error "train: --out = --log" 2 "$S,$L" "--out and --log name the same file" \
    -- "${T[@]}" --lr 1 --steps 1 --eval "$X" --out "$L" --log "$L"
expect_error "train: unknown option, suggestion" 2 "$S" "ntk train: unknown option '--stpes' (did you mean '--steps'?)" \
    -- "${T[@]}" --lr 1 --stpes 1
expect_error "train: unknown option --momentun" 2 "$S" "did you mean '--momentum'?" -- "${T[@]}" --lr 1 --steps 1 --momentun 0.5
expect_error "train: unknown option, no suggestion" 2 "$S" "unknown option '--frobnicate'" "ntk train --help" \
    -- "${T[@]}" --lr 1 --steps 1 --frobnicate
expect_error "train: positional argument" 2 "$S" "unexpected argument" -- "${T[@]}" --lr 1 --steps 1 extra
expect_error "unknown command, suggestion" 2 - "ntk: unknown command 'trian' (did you mean 'train'?)" -- trian
expect_error "unknown command, suggestion (empirical)" 2 - "did you mean 'empirical'?" -- empirica
expect_error "unknown command lists the commands" 2 - "kernel, empirical, features, train, apply," -- frobnicate

E1=(empirical --arch "$A" --x1 "$X" --out "$O")
expect_error "empirical: no network" 2 "$O" "ntk empirical: --arch (with --seed) or --params is required" \
    -- empirical --x1 "$X" --out "$O"
expect_error "empirical: missing --x1" 2 "$O" "--x1 is required" -- empirical --arch "$A" --out "$O"
expect_error "empirical: missing --out" 2 - "--out is required" -- empirical --arch "$A" --x1 "$X"
expect_error "empirical: --params with --seed" 2 "$O" "--params and --seed exclude each other" \
    -- empirical --params "$W/p.npz" --seed 3 --x1 "$X" --out "$O"
expect_error "empirical: --samples with --params" 2 "$O" "--samples" "cannot be used with --params" \
    -- empirical --params "$W/p.npz" --samples 4 --x1 "$X" --out "$O"
for v in 0 -2 x 1.5; do
    expect_error "empirical: bad --samples '$v'" 2 "$O" "--samples: expected an integer >= 1, got '$v'" -- "${E1[@]}" --samples "$v"
done
expect_error "empirical: bad --seed" 2 "$O" "--seed" "'-5'" -- "${E1[@]}" --seed -5
expect_error "empirical: --full without ntk" 2 "$O" "--full applies to the NTK" -- "${E1[@]}" --get nngp --full
expect_error "empirical: bad --get" 2 "$O" "--get: expected ntk, nngp or ntk,nngp, got 'ntk,ntk'" \
    -- empirical --arch "$A" --x1 "$X" --out "$O,$W/o2.npy" --get ntk,ntk
expect_error "empirical: --get with one --out" 2 "$O" "--out: 1 file for 2 kernels" -- "${E1[@]}" --get ntk,nngp
expect_error "empirical: unknown option --x-1" 2 "$O" "ntk empirical: unknown option '--x-1' (did you mean '--x1'?)" \
    -- empirical --arch "$A" --x-1 "$X" --out "$O"
expect_error "empirical: unknown option --sample" 2 "$O" "did you mean '--samples'?" -- "${E1[@]}" --sample 3
expect_error "empirical: unknown option --parms" 2 "$O" "did you mean '--params'?" -- "${E1[@]}" --parms "$W/p.npz"

F1=(features --arch "$A" --x "$X" --out "$O")
expect_error "features: no network" 2 "$O" "ntk features: --arch (with --seed) or --params is required" -- features --x "$X" --out "$O"
expect_error "features: missing --x" 2 "$O" "--x is required" -- features --arch "$A" --out "$O"
expect_error "features: --params with --seed" 2 "$O" "--params and --seed exclude each other" \
    -- features --params "$W/p.npz" --seed 1 --x "$X" --out "$O"
for v in 0 -1 x inf; do
    expect_error "features: bad --max-gb '$v'" 2 "$O" "--max-gb: expected a positive number, got '$v'" -- "${F1[@]}" --max-gb "$v"
done
expect_error "features: unknown option --max-gib" 2 "$O" "did you mean '--max-gb'?" -- "${F1[@]}" --max-gib 1

expect_error "apply: missing --params" 2 "$O" "ntk apply: --params is required" -- apply --x "$X" --out "$O"
expect_error "apply: missing --x" 2 "$O" "--x is required" -- apply --params "$W/p.npz" --out "$O"
expect_error "apply: missing --out" 2 - "--out is required" -- apply --params "$W/p.npz" --x "$X"
expect_error "apply: --seed is not an option" 2 "$O" "unknown option '--seed'" -- apply --params "$W/p.npz" --x "$X" --out "$O" --seed 1
expect_error "apply: unknown option --param" 2 "$O" "unknown option '--param' (did you mean '--params'?)" \
    -- apply --param "$W/p.npz" --x "$X" --out "$O"

# ------------------------------------------------------------ bad input: exit 1

expect_error "train: --y rows differ" 1 "$S" "--y $W/y3rows.csv has 3 rows but --x $X has 4" \
    -- train --arch "$A" --x "$X" --y "$W/y3rows.csv" --lr 1 --steps 1 --save "$S"
expect_error "train: k differs from --y columns" 1 "$S" \
    "--y $W/y3cols.csv has 3 columns but the network has 1 output (the last dense layer's width)" \
    -- train --arch "$A" --x "$X" --y "$W/y3cols.csv" --lr 1 --steps 1 --save "$S"
expect_error "train: k = 2, y has 1 column" 1 "$S" "--y $Y has 1 column but the network has 2 outputs" \
    -- train --arch "$A2" --x "$X" --y "$Y" --lr 1 --steps 1 --save "$S"
expect_error "train: NaN in --y" 1 "$S" "$W/ynan.csv: data row 2, column 1" "not finite" \
    -- train --arch "$A" --x "$X" --y "$W/ynan.csv" --lr 1 --steps 1 --save "$S"
expect_error "train: missing --x file" 1 "$S" "$W/missing.csv" "No such file or directory" \
    -- train --arch "$A" --x "$W/missing.csv" --y "$Y" --lr 1 --steps 1 --save "$S"
expect_error "train: --eval columns differ" 1 "$S,$O" "--eval $E has 3 columns but --x $X has 2" \
    -- "${T[@]}" --lr 1 --steps 1 --eval "$E" --out "$O"
expect_error "train: spec error" 1 "$S" "ntk train: --arch: spec:1:10: unknown activation 'rleu'" \
    -- train --arch 'dense(4),rleu,dense(1)' --x "$X" --y "$Y" --lr 1 --steps 1 --save "$S"
expect_error "train: --save not .npz" 1 "$W/s.npy" "--save $W/s.npy: unknown file format (use .npz)" \
    -- train --arch "$A" --x "$X" --y "$Y" --lr 1 --steps 1 --save "$W/s.npy"
expect_error "train: --save into a missing folder" 1 "$W/nodir/s.npz" "--save $W/nodir/s.npz: cannot write into '$W/nodir'" \
    -- train --arch "$A" --x "$X" --y "$Y" --lr 1 --steps 1 --save "$W/nodir/s.npz"
expect_error "train: --save is a folder" 1 "$W/dir.npz" "--save $W/dir.npz: cannot write" "directory" \
    -- train --arch "$A" --x "$X" --y "$Y" --lr 1 --steps 1 --save "$W/dir.npz"
expect_error "train: --log not .csv" 1 "$S,$W/l.txt" "--log $W/l.txt: unknown file format (use .csv)" \
    -- "${T[@]}" --lr 1 --steps 1 --log "$W/l.txt"
expect_error "train: --out with a bad extension" 1 "$S,$W/o.txt" "--out $W/o.txt: unknown file format (use .npy or .csv)" \
    -- "${T[@]}" --lr 1 --steps 1 --eval "$X" --out "$W/o.txt"
# divergence: exit 1 naming the step and a smaller rate, no file written (--quiet: the error is the only line)
expect_error "train: divergence" 1 "$S,$O,$L" "ntk train: training diverged at step" "smaller learning rate" "2n/lambda_max = " \
    -- "${T[@]}" --lr 1000 --steps 500 --eval "$X" --out "$O" --log "$L" --quiet
expect_error "train: divergence (SGD, momentum)" 1 "$S,$L" "training diverged at step" "smaller learning rate" \
    "2(1+momentum)n/lambda_max = " -- "${T[@]}" --lr 1000 --steps 500 --batch 2 --momentum 0.5 --log "$L" --quiet
expect_error "train: divergence (linearized)" 1 "$S,$L" "training diverged at step" "smaller learning rate" \
    -- "${T[@]}" --lr 1e6 --steps 2000 --linearized --log "$L" --quiet
expect_error "train: divergence leaves an existing file alone" 1 "$W/existing.npz" "training diverged" \
    -- train --arch "$A" --x "$X" --y "$Y" --lr 1000 --steps 500 --save "$W/existing.npz" --quiet
if [ "$(cat "$W/existing.npz")" = "an old file" ]; then record ok "existing file content"; else record bad "existing file content" "changed"; fi
# without --quiet: the stability lines come first, the error last; still nothing written
"$NTK_BIN" "${T[@]}" --lr 1000 --steps 500 --log "$L" >"$W/stdout" 2>"$W/stderr"
rc=$?
last=$(tail -n 1 "$W/stderr")
if [ $rc -eq 1 ] && [ ! -e "$S" ] && [ ! -e "$L" ] && ! compgen -G "$L.*tmp.*" >/dev/null &&
    grep -q "^ntk train: warning: --lr 1000 exceeds" "$W/stderr" &&
    case $last in "ntk train: training diverged at step "*"smaller learning rate"*"2n/lambda_max = "*) true ;; *) false ;; esac; then
    record ok "train: divergence without --quiet"
else
    record bad "train: divergence without --quiet" "exit $rc, stderr: $(cat "$W/stderr")"
fi

expect_error "empirical: --params missing" 1 "$O" "ntk empirical: --params: $W/missing.npz: cannot open" \
    -- empirical --params "$W/missing.npz" --x1 "$X" --out "$O"
expect_error "empirical: --params not a zip" 1 "$O" "--params: $W/garbage.npz" -- empirical --params "$W/garbage.npz" --x1 "$X" --out "$O"
expect_error "empirical: --params truncated" 1 "$O" "--params: $W/trunc.npz" -- empirical --params "$W/trunc.npz" --x1 "$X" --out "$O"
if [ -s "$W/nometa.npz" ]; then
    expect_error "empirical: --params without meta.txt" 1 "$O" "$W/nometa.npz: no member 'meta.txt'" \
        -- empirical --params "$W/nometa.npz" --x1 "$X" --out "$O"
    expect_error "apply: --params with a wrong shape" 1 "$O" "$W/badshape.npz: dense1.W has shape (16, 2), expected (1, 16)" \
        -- apply --params "$W/badshape.npz" --x "$X" --out "$O"
fi
expect_error "empirical: --params with another --arch" 1 "$O" "--arch dense(8,w_std=1),relu,dense(1,w_std=1) differs from the architecture saved in $W/p.npz" \
    -- empirical --params "$W/p.npz" --arch 'dense(8),relu,dense(1)' --x1 "$X" --out "$O"
expect_error "empirical: --params with another --param" 1 "$O" "--param standard differs from the parameterization saved in $W/p.npz (ntk)" \
    -- empirical --params "$W/p.npz" --param standard --x1 "$X" --out "$O"
expect_error "empirical: --x1 columns differ from d_in" 1 "$O" "--x1 $E has 3 columns but the network in $W/p.npz takes 2 inputs" \
    -- empirical --params "$W/p.npz" --x1 "$E" --out "$O"
expect_error "empirical: --x2 columns differ" 1 "$O" "--x2 $E has 3 columns but --x1 $X has 2" \
    -- empirical --arch "$A" --x1 "$X" --x2 "$E" --out "$O"
expect_error "empirical: --samples with a spec error" 1 "$O" "--arch: spec:1:" -- empirical --arch 'dense(4),' --samples 3 --x1 "$X" --out "$O"
expect_error "empirical: second output bad: first not written" 1 "$O,$W/o2.txt" "$W/o2.txt: unknown file format" \
    -- empirical --arch "$A" --x1 "$X" --get ntk,nngp --out "$O,$W/o2.txt"
expect_error "features: over --max-gb" 1 "$O" "the Jacobian of 4 points is 4 x 64 doubles = 2048 bytes" "GiB), over --max-gb 1e-07" \
    -- "${F1[@]}" --max-gb 1e-7
expect_error "features: --params corrupt" 1 "$O" "ntk features: --params: $W/garbage.npz" -- features --params "$W/garbage.npz" --x "$X" --out "$O"
expect_error "features: --x columns differ from d_in" 1 "$O" "--x $W/x1col.csv has 1 column but the network in $W/p.npz takes 2 inputs" \
    -- features --params "$W/p.npz" --x "$W/x1col.csv" --out "$O"
expect_error "apply: --params missing" 1 "$O" "ntk apply: --params: $W/missing.npz: cannot open" -- apply --params "$W/missing.npz" --x "$X" --out "$O"
expect_error "apply: --params is a data file" 1 "$O" "--params: $X" -- apply --params "$X" --x "$X" --out "$O"
expect_error "apply: --x columns differ" 1 "$O" "--x $E has 3 columns but the network in $W/lin.npz takes 2 inputs" \
    -- apply --params "$W/lin.npz" --x "$E" --out "$O"
expect_error "apply: NaN input" 1 "$O" "$W/ynan.csv: data row 2, column 1" -- apply --params "$W/p.npz" --x "$W/ynan.csv" --out "$O"
expect_error "apply: --out into a missing folder" 1 "$W/nodir/o.npy" "cannot write into '$W/nodir'" \
    -- apply --params "$W/p.npz" --x "$X" --out "$W/nodir/o.npy"

# ------------------------------------------------------------ help: exit 0, every flag

expect_help "ntk --help lists every command" "usage: ntk" kernel empirical features train apply demo -- --help
for c in train empirical features apply; do
    flags=()
    src="${NTK_TEST_DIR:-}/../src/cli/cmd_$c.c"
    if [ -r "$src" ]; then
        while read -r f; do flags+=("$f"); done < <(grep -o '{"--[a-z0-9-]*"' "$src" | tr -d '{"')
    fi
    case $c in
    train) flags+=(--arch --x --y --lr --steps --batch --momentum --seed --linearized --param --save --eval --out --log --log-every --threads --quiet) ;;
    empirical) flags+=(--arch --x1 --x2 --get --full --seed --params --samples --param --out --threads) ;;
    features) flags+=(--arch --x --seed --params --out --max-gb) ;;
    apply) flags+=(--params --x --out) ;;
    esac
    expect_help "ntk $c --help: every flag and an example" "usage: ntk $c" "example:" "ntk $c --" "${flags[@]}" -- $c --help
done
expect_help "ntk train -h after other options" "usage: ntk train" -- train --arch "$A" -h

finish
