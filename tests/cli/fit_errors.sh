#!/usr/bin/env bash
# fit_errors.sh — the failures of `ntk fit` and `ntk predict`: each bad
# invocation must exit with the right code (2 usage error, 1 bad input or a
# failed run), print exactly one line on stderr (nothing on stdout) naming
# what is wrong (flag, file, row, column, member, time), and leave every
# output alone: not created when it did not exist, byte-identical when it
# did, no temporary files beside it. Covers option values, sizes that do not
# match (rows of x and y, d of the model and --x, label classes and k), NaN
# inputs and targets, bad labels, corrupt or truncated IDX input, missing,
# corrupt and foreign model files, what a model cannot do (finite times or
# variances of an --inf-only model, fractional steps of a discrete one),
# unknown options with suggestions, and the --help texts (every flag and an
# example).
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the
# source tree) and TMPDIR (a scratch folder). Ends with "N passed, M failed".
set -u

: "${NTK_TEST_DIR:?NTK_TEST_DIR must name the tests folder}"
. "$(dirname "$0")/lib.sh"
ntk_commands="fit predict"

# setup NAME ARGS...: a command the cases below need; a failure is counted.
setup() {
    local name=$1
    shift
    if "$NTK_BIN" "$@" >"$W/stdout" 2>"$W/stderr" </dev/null; then
        record ok "setup: $name"
    else
        record bad "setup: $name" "$(head -c 300 "$W/stderr")" "command: ntk $*"
    fi
}

# ------------------------------------------------------------ inputs

A='dense(16,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)'
X="$W/x.csv" Y="$W/y.csv" E="$W/e.csv" L="$W/l.csv"
printf '0.5,1,0\n-1,2,1\n0.25,-0.75,2\n1.5,0.5,-1\n0,0,1\n' >"$X"
printf '0.3\n-0.2\n0.1\n0.7\n0.0\n' >"$Y"
printf '0\n1\n2\n1\n0\n' >"$L"
printf '0.3\n-0.2\n0.1\n0.7\n' >"$W/y4.csv"
printf '0.3\nnan\n0.1\n0.7\n0\n' >"$W/ynan.csv"
printf '0\n1.5\n2\n1\n0\n' >"$W/lfrac.csv"
printf '0\n1\n-1\n1\n0\n' >"$W/lneg.csv"
printf '0\n1\n70000\n1\n0\n' >"$W/lbig.csv"
printf '0,1\n1,0\n1,0\n0,1\n1,1\n' >"$W/l2col.csv"
printf '0\n1\n5\n1\n0\n' >"$W/l5.csv"
printf '1,2,3\n4,5,6\n' >"$E"
printf '1,2\n4,5\n' >"$W/e2.csv"
printf '1,2,3\n4,inf,6\n' >"$W/enan.csv"
printf '1\n2\n' >"$W/ye2.csv"
printf '1,2\n3,4\n' >"$W/ye2x2.csv"
printf 'an old file\n' >"$W/existing.npz"
printf 'an old file\n' >"$W/existing.npy"
IDX="$NTK_TEST_DIR/data/idx"
M="$W/m.npz" O="$W/o.npy"

setup "fit" fit --arch "$A" --x "$X" --y "$Y" --model "$M" --quiet
setup "fit --inf-only" fit --arch "$A" --x "$X" --y "$Y" --inf-only --model "$W/mi.npz" --quiet
setup "fit --discrete" fit --arch "$A" --x "$X" --y "$Y" --discrete --model "$W/md.npz" --quiet
setup "fit --labels" fit --arch "$A" --x "$X" --y "$L" --labels --model "$W/ml.npz" --quiet
setup "train --save (a parameter file)" train --arch "$A" --x "$X" --y "$Y" --lr 1 --steps 1 --save "$W/params.npz" --quiet
# a model with one byte of the eigenvectors' data changed (the zip CRC
# catches it): their data starts 16 (name) + 20 (zip64 extra) + 128 (.npy
# header) bytes after the member name in the local header
cp "$M" "$W/corrupt.npz"
off=$(grep -obUa 'eigenvectors.npy' "$W/corrupt.npz" | head -1 | cut -d: -f1)
printf '\x55' | dd of="$W/corrupt.npz" bs=1 seek=$((off + 200)) conv=notrunc status=none
size=$(wc -c <"$M")
head -c $((size / 3)) "$M" >"$W/truncated.npz"

# ------------------------------------------------------------ fit: usage (exit 2)

MO="$W/new.npz"
expect_error "fit: no --arch" 2 "$MO" "--arch (or --kernel-file, the training kernel) is required" -- fit --x "$X" --y "$Y" --model "$MO"
expect_error "fit: no --x" 2 "$MO" "--x is required" -- fit --arch "$A" --y "$Y" --model "$MO"
expect_error "fit: no --y" 2 "$MO" "--y is required" -- fit --arch "$A" --x "$X" --model "$MO"
expect_error "fit: no --model" 2 - "--model is required" -- fit --arch "$A" --x "$X" --y "$Y"
expect_error "fit: --kernel foo" 2 "$MO" "--kernel: expected 'ntk' or 'nngp', got 'foo'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --kernel foo
expect_error "fit: --lr 0" 2 "$MO" "--lr: expected a positive number, got '0'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --lr 0
expect_error "fit: --ridge -1" 2 "$MO" "--ridge: expected a number >= 0, got '-1'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --ridge -1
expect_error "fit: --ridge-mode" 2 "$MO" "--ridge-mode: expected 'relative' or 'absolute', got 'rel'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --ridge-mode rel
expect_error "fit: --param" 2 "$MO" "--param: expected 'ntk' or 'standard', got 'std'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --param std
for s in 0 -1 abc 1/0 1/ /2 inf nan 1/255x; do
    expect_error "fit: --scale '$s'" 2 "$MO" "--scale: expected a number > 0 or a fraction like 1/255, got '$s'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --scale "$s"
done
expect_error "fit: --limit 0" 2 "$MO" "--limit: expected an integer >= 1, got '0'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --limit 0
expect_error "fit: --threads 0" 2 "$MO" "--threads: expected an integer in [1, 4096], got '0'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --threads 0
expect_error "fit: unknown option, suggestion" 2 "$MO" "unknown option '--ridg' (did you mean '--ridge'?)" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --ridg 1
expect_error "fit: --labels takes no value" 2 "$MO" "--labels takes no value" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" --labels=1
expect_error "fit: a positional argument" 2 "$MO" "unexpected argument 'extra'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$MO" extra

# ------------------------------------------------------------ fit: bad input (exit 1), outputs untouched

expect_error "fit: --model not .npz" 1 "$W/m.npy" "--model $W/m.npy: unknown file format (use .npz)" -- fit --arch "$A" --x "$X" --y "$Y" --model "$W/m.npy"
expect_error "fit: --model in a missing folder" 1 "$W/nodir/m.npz" "cannot write into '$W/nodir'" -- fit --arch "$A" --x "$X" --y "$Y" --model "$W/nodir/m.npz"
expect_error "fit: bad --arch" 1 "$W/existing.npz" "--arch: spec:" "unknown activation 'rleu'" -- fit --arch 'dense(4),rleu' --x "$X" --y "$Y" --model "$W/existing.npz"
expect_error "fit: --x missing" 1 "$W/existing.npz" "$W/missing.csv" "cannot open" -- fit --arch "$A" --x "$W/missing.csv" --y "$Y" --model "$W/existing.npz"
expect_error "fit: rows of x and y differ" 1 "$W/existing.npz" "--y $W/y4.csv has 4 rows but --x $X has 5" -- fit --arch "$A" --x "$X" --y "$W/y4.csv" --model "$W/existing.npz"
expect_error "fit: NaN target" 1 "$W/existing.npz" "$W/ynan.csv: data row 2, column 1: nan is not finite" -- fit --arch "$A" --x "$X" --y "$W/ynan.csv" --model "$W/existing.npz"
expect_error "fit: NaN input" 1 "$W/existing.npz" "$W/enan.csv: data row 2, column 2: inf is not finite" -- fit --arch "$A" --x "$W/enan.csv" --y "$W/ye2.csv" --model "$W/existing.npz"
expect_error "fit: --labels, fractional" 1 "$W/existing.npz" "--y $W/lfrac.csv: row 2: label 1.5 is not a whole number" -- fit --arch "$A" --x "$X" --y "$W/lfrac.csv" --labels --model "$W/existing.npz"
expect_error "fit: --labels, negative" 1 "$W/existing.npz" "--y $W/lneg.csv: row 3: label -1 is negative" -- fit --arch "$A" --x "$X" --y "$W/lneg.csv" --labels --model "$W/existing.npz"
expect_error "fit: --labels, too many classes" 1 "$W/existing.npz" "row 3: label 70000 is too large (at most 65536 classes)" -- fit --arch "$A" --x "$X" --y "$W/lbig.csv" --labels --model "$W/existing.npz"
expect_error "fit: --labels, two columns" 1 "$W/existing.npz" "--labels needs one column of class labels, the file has 2 columns" -- fit --arch "$A" --x "$X" --y "$W/l2col.csv" --labels --model "$W/existing.npz"
expect_error "fit: truncated IDX" 1 "$W/existing.npz" "$IDX/trunc-data-idx3-ubyte: truncated: expected 30 bytes of data" -- fit --arch "$A" --x "$IDX/trunc-data-idx3-ubyte" --y "$Y" --model "$W/existing.npz"
expect_error "fit: corrupt gzip IDX" 1 "$W/existing.npz" "$IDX/corrupt-idx3-ubyte.gz: corrupt gzip data" -- fit --arch "$A" --x "$IDX/corrupt-idx3-ubyte.gz" --y "$Y" --model "$W/existing.npz"
expect_error "fit: IDX rows differ after --limit" 1 "$W/existing.npz" "has 3 rows but --x $IDX/images-idx3-ubyte.gz has 5 (after --limit 5)" -- fit --arch "$A" --x "$IDX/images-idx3-ubyte.gz" --y "$IDX/u8-3d-idx3-ubyte" --limit 5 --model "$W/existing.npz"

# ------------------------------------------------------------ predict: usage (exit 2)

expect_error "predict: no --model" 2 "$O" "--model is required" -- predict --x "$E" --out "$O"
expect_error "predict: no --x" 2 "$O" "--x (the points to predict) or --kernel-file (their kernel) is required" -- predict --model "$M" --out "$O"
expect_error "predict: no --out" 2 - "--out is required" -- predict --model "$M" --x "$E"
expect_error "predict: --labels without --y" 2 "$O" "--labels needs --y" -- predict --model "$M" --x "$E" --out "$O" --labels
expect_error "predict: --out = --var-out" 2 "$O" "--out and --var-out name the same file" -- predict --model "$M" --x "$E" --out "$O" --var-out "$O"
for t in "1,,2" "-1" "abc" "1,nan" "1e999" ","; do
    expect_error "predict: --time '$t'" 2 "$O" "--time:" -- predict --model "$M" --x "$E" --out "$O" --time "$t"
done
expect_error "predict: --limit 0" 2 "$O" "--limit: expected an integer >= 1" -- predict --model "$M" --x "$E" --out "$O" --limit 0
expect_error "predict: --scale 0" 2 "$O" "--scale: expected a number > 0" -- predict --model "$M" --x "$E" --out "$O" --scale 0
expect_error "predict: unknown option, suggestion" 2 "$O" "unknown option '--tim' (did you mean '--time'?)" -- predict --model "$M" --x "$E" --out "$O" --tim 1

# ------------------------------------------------------------ predict: bad input (exit 1)

expect_error "predict: --out bad extension" 1 "$W/o.txt" "--out $W/o.txt: unknown file format (use .npy or .csv)" -- predict --model "$M" --x "$E" --out "$W/o.txt"
expect_error "predict: --var-out in a missing folder" 1 "$O,$W/nodir/v.npy" "cannot write into '$W/nodir'" -- predict --model "$M" --x "$E" --out "$O" --var-out "$W/nodir/v.npy"
expect_error "predict: model missing" 1 "$O" "--model: $W/missing.npz: cannot open" -- predict --model "$W/missing.npz" --x "$E" --out "$O"
expect_error "predict: model is a parameter file" 1 "$O" "--model: $W/params.npz: not a model file of 'ntk fit' (meta.txt: format = ntk-params 1: a network's parameters)" -- predict --model "$W/params.npz" --x "$E" --out "$O"
expect_error "predict: model is not a zip" 1 "$O" "--model: $W/existing.npz" -- predict --model "$W/existing.npz" --x "$E" --out "$O"
expect_error "predict: corrupt model" 1 "$O" "--model: $W/corrupt.npz" "CRC" -- predict --model "$W/corrupt.npz" --x "$E" --out "$O"
expect_error "predict: truncated model" 1 "$O" "--model: $W/truncated.npz" -- predict --model "$W/truncated.npz" --x "$E" --out "$O"
expect_error "predict: d differs" 1 "$W/existing.npy" "--x $W/e2.csv has 2 columns but the model in $M was fit on 3" -- predict --model "$M" --x "$W/e2.csv" --out "$W/existing.npy"
expect_error "predict: NaN input" 1 "$W/existing.npy" "$W/enan.csv: data row 2, column 2: inf is not finite" -- predict --model "$M" --x "$W/enan.csv" --out "$W/existing.npy"
expect_error "predict: --y rows differ" 1 "$O" "--y $Y has 5 rows but --x $E has 2" -- predict --model "$M" --x "$E" --y "$Y" --out "$O"
expect_error "predict: --y columns differ" 1 "$O" "--y $W/ye2x2.csv has 2 columns but the model has k = 1 output" -- predict --model "$M" --x "$E" --y "$W/ye2x2.csv" --out "$O"
expect_error "predict: label outside the model's classes" 1 "$O" "--y $W/l5.csv: row 3: label 5 is not a class of the model (it has k = 3 outputs, classes 0 to 2)" -- predict --model "$W/ml.npz" --x "$X" --y "$W/l5.csv" --labels --out "$O"
expect_error "predict: labels for a 1-output model without --labels" 1 "$O" "--y $W/l2col.csv has 2 columns but the model has k = 1 output" -- predict --model "$M" --x "$X" --y "$W/l2col.csv" --out "$O"
expect_error "predict: finite time of an --inf-only model" 1 "$O" "--time 5: $W/mi.npz was fit with --inf-only" -- predict --model "$W/mi.npz" --x "$E" --out "$O" --time inf,5
expect_error "predict: --cov of an --inf-only model" 1 "$O" "--cov: $W/mi.npz was fit with --inf-only" -- predict --model "$W/mi.npz" --x "$E" --out "$O" --cov
expect_error "predict: fractional step of a discrete model" 1 "$O" "--time 2.5: $W/md.npz models discrete gradient descent: times are whole steps" -- predict --model "$W/md.npz" --x "$E" --out "$O" --time 2.5

# ------------------------------------------------------------ help: exit 0, every flag and an example

for c in fit predict; do
    flags=()
    src="$NTK_TEST_DIR/../src/cli/cmd_$c.c"
    if [ -r "$src" ]; then
        while read -r f; do flags+=("$f"); done < <(grep -o '{"--[a-z0-9-]*"' "$src" | tr -d '{"')
    fi
    case $c in
    fit) flags+=(--arch --x --y --model --kernel --lr --ridge --ridge-mode --discrete --jitter --inf-only --param --labels --scale --limit --threads --quiet) ;;
    predict) flags+=(--model --x --out --time --cov --var-out --y --labels --scale --limit --threads --quiet) ;;
    esac
    expect_help "ntk $c --help: every flag and an example" "usage: ntk $c" "example:" "ntk $c --" "${flags[@]}" -- $c --help
done
expect_help "ntk --help lists fit and predict" "  fit " "  predict " -- --help

finish
