#!/usr/bin/env bash
# fashion_mnist.sh — infinite-width kernel regression on Fashion-MNIST with
# `ntk fit` / `ntk predict`: a 3-hidden-layer ReLU network's NTK and NNGP,
# t = inf (kernel regression on one-hot labels, f0 = 0), trained on the first
# N training images, tested on the 10000 test images. Prints a table of
# accuracy, test MSE and times.
#
# Needs the Debian package dataset-fashion-mnist (the IDX files) and a built
# ntk. Usage, from the repository root:
#
#     apt-get install dataset-fashion-mnist
#     NTK=build/ntk tools/fashion_mnist.sh                # N = 1000 5000 20000
#     NTK=build/ntk SIZES="1000 5000" tools/fashion_mnist.sh
#
# Pixels are 0..255 in the files: --scale 1/255 maps them to [0, 1].
# Up to EIGEN_MAX (default 5000) training points the model is fitted in full
# (Cholesky and eigendecomposition, so 'ntk predict --time' works at any
# time); above it with --inf-only (Cholesky only: the eigendecomposition of
# a 20000 x 20000 kernel takes about an hour on 2 cores, the Cholesky
# factorization a minute or two; the 20000² kernel alone is 3.2 GB).
# --jitter is on: a jitter is added only if the Cholesky factorization
# needs one, and fit reports it.
set -eu

NTK=${NTK:-build/ntk}
FM=${FM:-/usr/share/datasets/fashion-mnist}
SIZES=${SIZES:-1000 5000 20000}
KERNELS=${KERNELS:-ntk nngp}
EIGEN_MAX=${EIGEN_MAX:-5000}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fmnist.XXXXXX")}
ARCH='dense(512,w_std=1.5,b_std=0.05),relu,dense(512,w_std=1.5,b_std=0.05),relu,dense(512,w_std=1.5,b_std=0.05),relu,dense(10,w_std=1.5,b_std=0.05)'

for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -r "$FM/$f" ] || { echo "fashion_mnist.sh: $FM/$f not found (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
done
[ -x "$NTK" ] || { echo "fashion_mnist.sh: $NTK is not an executable (set NTK=path/to/ntk)" >&2; exit 1; }

now() { date +%s.%N; }
echo "architecture: $ARCH"
echo "outputs in: $OUT"
printf '%-7s %-6s %-10s %-9s %-9s %-10s %-10s %-10s\n' N kernel mode accuracy test_mse fit_s predict_s jitter
for n in $SIZES; do
    for kern in $KERNELS; do
        mode=full
        extra=()
        if [ "$n" -gt "$EIGEN_MAX" ]; then mode=inf-only; extra=(--inf-only); fi
        model="$OUT/model_${kern}_$n.npz"
        t0=$(now)
        "$NTK" fit --arch "$ARCH" --kernel "$kern" --jitter "${extra[@]}" \
            --x "$FM/train-images-idx3-ubyte.gz" --y "$FM/train-labels-idx1-ubyte.gz" --labels \
            --scale 1/255 --limit "$n" --model "$model" 2>"$OUT/fit_${kern}_$n.log"
        t1=$(now)
        "$NTK" predict --model "$model" --x "$FM/t10k-images-idx3-ubyte.gz" \
            --y "$FM/t10k-labels-idx1-ubyte.gz" --labels --out "$OUT/pred_${kern}_$n.npy" \
            >"$OUT/predict_${kern}_$n.txt" 2>"$OUT/predict_${kern}_$n.log"
        t2=$(now)
        acc=$(awk 'NR == 2 { print $4 }' "$OUT/predict_${kern}_$n.txt")
        mse=$(awk 'NR == 2 { print $2 }' "$OUT/predict_${kern}_$n.txt")
        jit=$(sed -n 's/.*note: jitter \([^ ]*\) added.*/\1/p' "$OUT/fit_${kern}_$n.log")
        printf '%-7s %-6s %-10s %-9s %-9.5f %-10.1f %-10.1f %-10s\n' "$n" "$kern" "$mode" "$acc" "$mse" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')" \
            "${jit:-0}"
        rm -f "$model" # up to 0.5 GB each; the logs and predictions stay
    done
done
