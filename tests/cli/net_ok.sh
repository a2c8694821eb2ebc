#!/usr/bin/env bash
# net_ok.sh — the finite-network commands' happy paths and how their outputs
# agree with each other:
#   - train --eval predictions = apply on the saved file (bitwise), plain and
#     --linearized, .npy and .csv; the saved archive's members;
#   - --log: "step,loss" then steps+1 rows (full batch), --log-every, the
#     epoch default of SGD; the loss goes down;
#   - reproducibility: the same seed gives identical files, for --threads 1
#     and 2 (full batch, SGD with momentum, linearized); another seed differs;
#   - one θ0 per seed across commands: empirical --seed S = empirical
#     --params of 'train --steps 0 --seed S' (bitwise), features likewise,
#     and features' J·Jᵀ (traced: /k) = empirical --get ntk (--full too);
#   - a linearized file: its NTK is θ0's, f_lin(θ0) = f(θ0);
#   - shapes: --full (N1·k x N2·k), traced and NNGP N1 x N2, features
#     (N·k x P); --samples 4 is the mean of the kernels of seeds S..S+3 and
#     differs from one sample;
#   - stderr: the stability line and the warning, the N·k > 4096 note, the
#     summary lines, a progress bar only on a terminal.
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the
# source tree) and TMPDIR (a scratch folder). Ends with "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"

# ------------------------------------------------------------ inputs

A1='dense(32,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)'
A2='dense(12,w_std=1.5,b_std=0.05),tanh,dense(2,w_std=1.3,b_std=0.1)'
# X: 30 points in d = 3; Y (k = 1) and Y2 (k = 2) smooth functions of X; E: 7 test points
awk 'BEGIN { for (i = 1; i <= 30; i++) { for (j = 1; j <= 3; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), sin(1.3 * i + 0.7 * j) * (1 + 0.1 * j)
    printf "\n" } }' >"$W/x.csv"
awk -F, '{ printf "%.6f\n", $1 * $2 + 0.5 * $3 }' "$W/x.csv" >"$W/y.csv"
awk -F, '{ printf "%.6f,%.6f\n", $1 * $2 + 0.5 * $3, cos($1) - $2 }' "$W/x.csv" >"$W/y2.csv"
awk 'BEGIN { for (i = 1; i <= 7; i++) { for (j = 1; j <= 3; j++)
        printf "%s%.6f", (j > 1 ? "," : ""), cos(0.9 * i + 0.4 * j)
    printf "\n" } }' >"$W/e.csv"
head -n 5 "$W/x.csv" >"$W/x5.csv"
tail -n 3 "$W/x.csv" >"$W/x3.csv"
X="$W/x.csv" Y="$W/y.csv" Y2="$W/y2.csv" E="$W/e.csv"

# ------------------------------------------------------------ train -> apply

if run "train (full batch, --eval, --log)" train --arch "$A1" --x "$X" --y "$Y" --lr 1 --steps 25 --seed 4 \
    --save "$W/p.npz" --eval "$E" --out "$W/pred.npy" --log "$W/loss.csv" --quiet; then
    run "apply" apply --params "$W/p.npz" --x "$E" --out "$W/apply.npy" --quiet &&
        same_bytes "apply = train --eval predictions (.npy)" "$W/pred.npy" "$W/apply.npy"
    run "apply to .csv" apply --params "$W/p.npz" --x "$E" --out "$W/apply.csv" --quiet &&
        check "apply .csv shape 7 x 1" "$(shape_csv "$W/apply.csv")" [ "$(shape_csv "$W/apply.csv")" = "7 1" ]
    # the documented members, in order
    if command -v unzip >/dev/null; then
        members=$(unzip -Z1 "$W/p.npz" | tr '\n' ' ')
        check "saved members" "$members" [ "$members" = "arch.txt meta.txt dense0.W.npy dense0.b.npy dense1.W.npy " ]
        meta=$(unzip -p "$W/p.npz" meta.txt)
        check "meta.txt" "$meta" [ "$meta" = "$(printf 'format = ntk-params 1\nntk_version = %s\nparam = ntk\nd_in = 3\nk = 1\nn_params = 160\nseed = 4' \
            "$("$NTK_BIN" --version | head -1 | cut -d' ' -f2)")" ]
        check "arch.txt is the canonical spec" "$(unzip -p "$W/p.npz" arch.txt)" [ "$(unzip -p "$W/p.npz" arch.txt)" = "$A1" ]
    fi
    # the loss log: header, steps+1 rows 0..25, decreasing overall
    msg=$(awk -F, 'NR == 1 { if ($0 != "step,loss") { print "header: " $0; exit } next }
        { if ($1 != NR - 2) { print "row " NR ": step " $1 ", expected " NR - 2; exit } if (NR == 2) first = $2; last = $2 }
        END { if (NR != 27) print NR " lines, expected 27"; else if (!(last < 0.5 * first)) print "loss " first " -> " last }' "$W/loss.csv")
    check "--log: header, 26 rows for 25 steps, loss falls" "$msg" [ -z "$msg" ]
fi
run "train --out .csv" train --arch "$A1" --x "$X" --y "$Y" --lr 1 --steps 25 --seed 4 --save "$W/pc.npz" \
    --eval "$E" --out "$W/pred.csv" --quiet &&
    run "apply .csv" apply --params "$W/pc.npz" --x "$E" --out "$W/apply2.csv" --quiet &&
    same_bytes "apply = train --eval predictions (.csv)" "$W/pred.csv" "$W/apply2.csv"
same_bytes "the same run saves the same file" "$W/p.npz" "$W/pc.npz"

run "train --log-every 10" train --arch "$A1" --x "$X" --y "$Y" --lr 1 --steps 25 --seed 4 --save "$W/pe.npz" \
    --log "$W/loss10.csv" --log-every 10 --quiet &&
    check "--log-every 10: steps 0,10,20,25" "$(cut -d, -f1 "$W/loss10.csv" | tr '\n' ' ')" \
        [ "$(cut -d, -f1 "$W/loss10.csv" | tr '\n' ' ')" = "step 0 10 20 25 " ]
same_bytes "--log does not change the parameters" "$W/p.npz" "$W/pe.npz"
# SGD: 30 rows in batches of 8 = 4 steps an epoch, the default log interval
run "train SGD" train --arch "$A1" --x "$X" --y "$Y" --lr 0.5 --steps 10 --batch 8 --momentum 0.5 --seed 2 \
    --save "$W/sgd.npz" --log "$W/sgd.csv" --quiet &&
    check "SGD --log: every epoch (4 steps) and the last" "$(cut -d, -f1 "$W/sgd.csv" | tr '\n' ' ')" \
        [ "$(cut -d, -f1 "$W/sgd.csv" | tr '\n' ' ')" = "step 0 4 8 10 " ]
run "train --steps 0" train --arch "$A1" --x "$X" --y "$Y" --lr 1 --steps 0 --seed 4 --save "$W/p0.npz" \
    --log "$W/loss0.csv" --quiet &&
    check "--steps 0: one log row" "$(wc -l <"$W/loss0.csv")" [ "$(wc -l <"$W/loss0.csv")" -eq 2 ]
differ "--steps 0 saves θ0, not the trained θ" "$W/p0.npz" "$W/p.npz"

# ------------------------------------------------------------ reproducibility

for mode in full sgd lin; do
    case $mode in
    full) extra=() ;;
    sgd) extra=(--batch 7 --momentum 0.9) ;;
    lin) extra=(--linearized) ;;
    esac
    for t in 1 2; do
        run "train $mode --threads $t" train --arch "$A2" --x "$X" --y "$Y2" --lr 0.5 --steps 12 --seed 9 \
            "${extra[@]}" --threads $t --save "$W/r_${mode}_$t.npz" --eval "$E" --out "$W/r_${mode}_$t.npy" \
            --log "$W/r_${mode}_$t.csv" --quiet
    done
    same_bytes "$mode: saved file, threads 1 = threads 2" "$W/r_${mode}_1.npz" "$W/r_${mode}_2.npz"
    same_bytes "$mode: predictions, threads 1 = threads 2" "$W/r_${mode}_1.npy" "$W/r_${mode}_2.npy"
    same_bytes "$mode: loss log, threads 1 = threads 2" "$W/r_${mode}_1.csv" "$W/r_${mode}_2.csv"
done
run "train, another seed" train --arch "$A2" --x "$X" --y "$Y2" --lr 0.5 --steps 12 --seed 10 --save "$W/r_s10.npz" --quiet
differ "another seed, another network" "$W/r_full_1.npz" "$W/r_s10.npz"
differ "linearized and plain training differ" "$W/r_full_1.npy" "$W/r_lin_1.npy"

# ------------------------------------------------------------ linearized models

if run "train --linearized" train --arch "$A1" --x "$X" --y "$Y" --lr 1 --steps 25 --seed 4 --linearized \
    --save "$W/lin.npz" --eval "$E" --out "$W/lin_pred.npy" --quiet; then
    run "apply a linearized model" apply --params "$W/lin.npz" --x "$E" --out "$W/lin_apply.npy" --quiet &&
        same_bytes "apply = train --linearized --eval predictions" "$W/lin_pred.npy" "$W/lin_apply.npy"
    differ "f_lin differs from f" "$W/lin_pred.npy" "$W/pred.npy"
    if command -v unzip >/dev/null; then
        check "linearized file: theta0 members and meta" "$(unzip -Z1 "$W/lin.npz" | tr '\n' ' ')" \
            [ "$(unzip -Z1 "$W/lin.npz" | grep -c '^theta0\.dense')" -eq 3 ] && unzip -p "$W/lin.npz" meta.txt | grep -qx 'linearized = 1'
    fi
    # the NTK of a linearized model is that of the network at θ0
    run "empirical --params linearized" empirical --params "$W/lin.npz" --x1 "$X" --out "$W/lin_ntk.npy" --quiet
    run "empirical --seed 4" empirical --arch "$A1" --seed 4 --x1 "$X" --out "$W/s4_ntk.npy" --quiet
    same_bytes "linearized model's NTK = θ0's NTK" "$W/lin_ntk.npy" "$W/s4_ntk.npy"
    run "features --params linearized" features --params "$W/lin.npz" --x "$X" --out "$W/lin_J.npy" --quiet
    run "features --seed 4" features --arch "$A1" --seed 4 --x "$X" --out "$W/s4_J.npy" --quiet
    same_bytes "linearized model's features = θ0's Jacobian" "$W/lin_J.npy" "$W/s4_J.npy"
fi
# f_lin(θ0) = f(θ0)
run "train --linearized --steps 0" train --arch "$A1" --x "$X" --y "$Y" --lr 1 --steps 0 --seed 4 --linearized \
    --save "$W/lin0.npz" --eval "$E" --out "$W/lin0.csv" --quiet &&
    run "apply θ0" apply --params "$W/p0.npz" --x "$E" --out "$W/p0_apply.csv" --quiet &&
    close_csv "f_lin(θ0) = f(θ0)" "$W/lin0.csv" "$W/p0_apply.csv" 1e-14
# the NNGP of a linearized model is f_lin·f_lin/k: at θ0, the network's
for x2 in "" "$E"; do
    run "empirical nngp, linearized θ0 ${x2:+(--x2)}" empirical --params "$W/lin0.npz" --x1 "$X" ${x2:+--x2 "$x2"} \
        --get nngp --out "$W/lin0_nngp.csv" --quiet &&
        run "empirical nngp, θ0 ${x2:+(--x2)}" empirical --params "$W/p0.npz" --x1 "$X" ${x2:+--x2 "$x2"} \
            --get nngp --out "$W/p0_nngp.csv" --quiet &&
        close_csv "linearized model's NNGP at θ0 = the network's ${x2:+(--x2)}" "$W/lin0_nngp.csv" "$W/p0_nngp.csv" 1e-14
done

# ------------------------------------------------------------ one θ0 per seed across commands

run "train --steps 0 (k = 2)" train --arch "$A2" --x "$X" --y "$Y2" --lr 1 --steps 0 --seed 11 --save "$W/a2.npz" --quiet
for what in ntk nngp; do
    run "empirical $what --seed" empirical --arch "$A2" --seed 11 --x1 "$X" --get $what --out "$W/es_$what.npy" --quiet
    run "empirical $what --params" empirical --params "$W/a2.npz" --x1 "$X" --get $what --out "$W/ep_$what.npy" --quiet
    same_bytes "empirical $what: --seed 11 = --params of train --seed 11" "$W/es_$what.npy" "$W/ep_$what.npy"
done
run "empirical --params with the same --arch" empirical --params "$W/a2.npz" --arch "$A2" --x1 "$X" --out "$W/ep_arch.npy" --quiet &&
    same_bytes "--arch equal to the saved one is accepted" "$W/ep_ntk.npy" "$W/ep_arch.npy"
run "features --seed" features --arch "$A2" --seed 11 --x "$W/x5.csv" --out "$W/J.csv" --quiet
run "features --params" features --params "$W/a2.npz" --x "$W/x5.csv" --out "$W/Jp.csv" --quiet
same_bytes "features: --seed 11 = --params of train --seed 11" "$W/J.csv" "$W/Jp.csv"
# J is (N·k) x P: 5·2 rows, P = 12·3 + 12 + 2·12 + 2 = 74
check "features shape 10 x 74" "$(shape_csv "$W/J.csv")" [ "$(shape_csv "$W/J.csv")" = "10 74" ]
# J·Jᵀ traced (1/k Σ_a) and full, by awk, against empirical
awk -F, -v k=2 -v mode=traced '
    { for (p = 1; p <= NF; p++) J[NR, p] = $p; P = NF; n = NR }
    END { N = n / k
        if (mode == "traced") for (i = 0; i < N; i++) { for (j = 0; j < N; j++) { s = 0
            for (a = 1; a <= k; a++) for (p = 1; p <= P; p++) s += J[i * k + a, p] * J[j * k + a, p]
            printf "%s%.17g", (j ? "," : ""), s / k } printf "\n" }
    }' "$W/J.csv" >"$W/JJt.csv"
awk -F, '{ for (p = 1; p <= NF; p++) J[NR, p] = $p; P = NF; n = NR }
    END { for (i = 1; i <= n; i++) { for (j = 1; j <= n; j++) { s = 0
            for (p = 1; p <= P; p++) s += J[i, p] * J[j, p]
            printf "%s%.17g", (j > 1 ? "," : ""), s } printf "\n" } }' "$W/J.csv" >"$W/JJt_full.csv"
run "empirical traced (csv)" empirical --arch "$A2" --seed 11 --x1 "$W/x5.csv" --out "$W/ent.csv" --quiet &&
    close_csv "features J·Jᵀ/k (traced) = empirical --get ntk" "$W/JJt.csv" "$W/ent.csv" 1e-10
run "empirical --full (csv)" empirical --arch "$A2" --seed 11 --x1 "$W/x5.csv" --full --out "$W/enf.csv" --quiet &&
    close_csv "features J·Jᵀ = empirical --full" "$W/JJt_full.csv" "$W/enf.csv" 1e-10

# ------------------------------------------------------------ shapes, Monte Carlo

run "empirical --full with --x2" empirical --arch "$A2" --x1 "$W/x5.csv" --x2 "$W/x3.csv" --full --get ntk,nngp \
    --out "$W/f_ntk.csv,$W/f_nngp.csv" --quiet && {
    check "--full NTK shape (5·2) x (3·2)" "$(shape_csv "$W/f_ntk.csv")" [ "$(shape_csv "$W/f_ntk.csv")" = "10 6" ]
    check "NNGP shape 5 x 3 (not affected by --full)" "$(shape_csv "$W/f_nngp.csv")" [ "$(shape_csv "$W/f_nngp.csv")" = "5 3" ]
}
run "empirical traced with --x2" empirical --arch "$A2" --x1 "$W/x5.csv" --x2 "$W/x3.csv" --out "$W/t_ntk.csv" --quiet &&
    check "traced NTK shape 5 x 3" "$(shape_csv "$W/t_ntk.csv")" [ "$(shape_csv "$W/t_ntk.csv")" = "5 3" ]
# the traced NTK is the mean of the full one's diagonal output blocks
if [ -s "$W/f_ntk.csv" ] && [ -s "$W/t_ntk.csv" ]; then
    awk -F, '{ for (j = 1; j <= NF; j++) F[NR - 1, j - 1] = $j; n = NR }
        END { for (i = 0; i < n / 2; i++) { for (j = 0; j < 3; j++)
            printf "%s%.17g", (j ? "," : ""), (F[2 * i, 2 * j] + F[2 * i + 1, 2 * j + 1]) / 2; printf "\n" } }' \
        "$W/f_ntk.csv" >"$W/f_tr.csv"
    close_csv "traced = mean of the full NTK's diagonal blocks" "$W/f_tr.csv" "$W/t_ntk.csv" 1e-12
fi
run "empirical --samples 4" empirical --arch "$A2" --seed 20 --samples 4 --x1 "$W/x5.csv" --x2 "$W/x3.csv" \
    --get ntk,nngp --out "$W/mc_ntk.csv,$W/mc_nngp.csv" --quiet && {
    check "--samples 4: NTK shape 5 x 3" "$(shape_csv "$W/mc_ntk.csv")" [ "$(shape_csv "$W/mc_ntk.csv")" = "5 3" ]
    check "--samples 4: NNGP shape 5 x 3" "$(shape_csv "$W/mc_nngp.csv")" [ "$(shape_csv "$W/mc_nngp.csv")" = "5 3" ]
}
for s in 20 21 22 23; do
    run "empirical --seed $s" empirical --arch "$A2" --seed $s --x1 "$W/x5.csv" --x2 "$W/x3.csv" \
        --get ntk,nngp --out "$W/s${s}_ntk.csv,$W/s${s}_nngp.csv" --quiet
done
differ "--samples 4 differs from one sample" "$W/mc_ntk.csv" "$W/s20_ntk.csv"
for what in ntk nngp; do
    paste -d, "$W/s20_$what.csv" "$W/s21_$what.csv" "$W/s22_$what.csv" "$W/s23_$what.csv" |
        awk -F, '{ c = NF / 4; for (j = 1; j <= c; j++) printf "%s%.17g", (j > 1 ? "," : ""), ($j + $(j + c) + $(j + 2 * c) + $(j + 3 * c)) / 4; printf "\n" }' \
            >"$W/mean_$what.csv"
    close_csv "--samples 4 = mean over seeds 20..23 ($what)" "$W/mc_$what.csv" "$W/mean_$what.csv" 1e-12
done
run "empirical --samples 1 = --seed" empirical --arch "$A2" --seed 20 --samples 1 --x1 "$W/x5.csv" --x2 "$W/x3.csv" \
    --out "$W/mc1.csv" --quiet && same_bytes "--samples 1 is one network" "$W/mc1.csv" "$W/s20_ntk.csv"
run "empirical threads 1" empirical --arch "$A2" --samples 3 --x1 "$X" --get ntk,nngp --full --threads 1 \
    --out "$W/th1_ntk.npy,$W/th1_nngp.npy" --quiet
run "empirical threads 2" empirical --arch "$A2" --samples 3 --x1 "$X" --get ntk,nngp --full --threads 2 \
    --out "$W/th2_ntk.npy,$W/th2_nngp.npy" --quiet
same_bytes "empirical NTK: threads 1 = threads 2" "$W/th1_ntk.npy" "$W/th2_ntk.npy"
same_bytes "empirical NNGP: threads 1 = threads 2" "$W/th1_nngp.npy" "$W/th2_nngp.npy"

# ------------------------------------------------------------ stderr: stability line, summaries, progress bar

"$NTK_BIN" train --arch "$A1" --x "$X" --y "$Y" --lr 0.5 --steps 5 --save "$W/loud.npz" >"$W/stdout" 2>"$W/stderr"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$W/stdout" ] && [ "$(wc -l <"$W/stderr")" -eq 2 ] &&
    grep -q "^ntk train: largest stable learning rate .*2n/lambda_max = [0-9.e+-]* (n = 30, lambda_max = " "$W/stderr" &&
    grep -q "^ntk train: 5 steps of full-batch GD on 30 points (160 parameters): loss .* -> $W/loud.npz" "$W/stderr" &&
    ! grep -q "warning" "$W/stderr" && ! grep -q $'\r' "$W/stderr"; then
    record ok "train: stability line and summary, no bar off a terminal"
else
    record bad "train: stability line and summary, no bar off a terminal" "exit $rc, stderr: $(cat "$W/stderr")"
fi
bound=$(sed -n 's/.*2n\/lambda_max = \([0-9.e+-]*\) .*/\1/p' "$W/stderr")
# an lr above the bound is warned about (two steps stay finite)
big=$(awk -v b="${bound:-1}" 'BEGIN { printf "%.6g", 1.5 * b }')
"$NTK_BIN" train --arch "$A1" --x "$X" --y "$Y" --lr "$big" --steps 2 --save "$W/warn.npz" >"$W/stdout" 2>"$W/stderr"
if grep -q "^ntk train: warning: --lr $big exceeds 2n/lambda_max = $bound" "$W/stderr"; then
    record ok "train: warning above 2n/lambda_max"
else
    record bad "train: warning above 2n/lambda_max" "bound $bound, stderr: $(cat "$W/stderr")"
fi
"$NTK_BIN" train --arch "$A1" --x "$X" --y "$Y" --lr 0.5 --momentum 0.5 --steps 1 --save "$W/mom.npz" >"$W/stdout" 2>"$W/stderr"
check "train: the bound with momentum is 2(1+momentum)n/lambda_max" "$(cat "$W/stderr")" \
    grep -q "2(1+momentum)n/lambda_max = " "$W/stderr"
# N·k > 4096: the bound is skipped with a note
awk 'BEGIN { for (i = 1; i <= 2100; i++) printf "%.6f,%.6f\n", sin(0.01 * i), cos(0.013 * i) }' >"$W/big_x.csv"
awk -F, '{ printf "%.6f,%.6f\n", $1 * $2, $1 - $2 }' "$W/big_x.csv" >"$W/big_y.csv"
"$NTK_BIN" train --arch 'dense(8),relu,dense(2)' --x "$W/big_x.csv" --y "$W/big_y.csv" --lr 0.1 --steps 1 \
    --save "$W/big.npz" >"$W/stdout" 2>"$W/stderr"
check "train: note when N·k > 4096" "$(cat "$W/stderr")" grep -q "^ntk train: note: N·k = 4200 > 4096" "$W/stderr"
for c in empirical features apply; do
    case $c in
    empirical) args=(empirical --arch "$A1" --x1 "$X" --out "$W/loud_e.npy") ;;
    features) args=(features --arch "$A1" --x "$X" --out "$W/loud_f.npy") ;;
    apply) args=(apply --params "$W/loud.npz" --x "$X" --out "$W/loud_a.npy") ;;
    esac
    "$NTK_BIN" "${args[@]}" >"$W/stdout" 2>"$W/stderr"
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$W/stdout" ] && [ "$(wc -l <"$W/stderr")" -eq 1 ] && grep -q "^ntk $c: .*-> $W/loud_" "$W/stderr"; then
        record ok "$c: one summary line"
    else
        record bad "$c: one summary line" "exit $rc, stderr: $(cat "$W/stderr")"
    fi
done
# a progress bar on a terminal (script(1) gives the command one);
# NTK_PROGRESS_INTERVAL=0 lifts the ~2 s before anything is shown
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1; then
    NTK_PROGRESS_INTERVAL=0 script -qec "'$NTK_BIN' train --arch '$A1' --x '$X' --y '$Y' --lr 0.5 --steps 50 --save '$W/tty.npz'" /dev/null \
        >"$W/tty.out" 2>&1 </dev/null
    if grep -q "ntk train: \[#*\.*\] training: 100% (50/50), done in [0-9]*s, loss" "$W/tty.out" && grep -q $'\r' "$W/tty.out"; then
        record ok "progress bar on a terminal"
    else
        record bad "progress bar on a terminal" "$(tr '\r' '|' <"$W/tty.out" | head -c 600)"
    fi
    NTK_PROGRESS_INTERVAL=0 script -qec "'$NTK_BIN' train --arch '$A1' --x '$X' --y '$Y' --lr 0.5 --steps 50 --save '$W/tty2.npz' --quiet" /dev/null \
        >"$W/tty.out" 2>&1 </dev/null
    check "--quiet: no bar on a terminal" "$(head -c 300 "$W/tty.out")" [ ! -s "$W/tty.out" ]
    same_bytes "the bar does not change the result" "$W/tty.npz" "$W/tty2.npz"
fi

finish
