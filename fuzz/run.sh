#!/usr/bin/env bash
# fuzz/run.sh — runs the libFuzzer harnesses for a bounded time each, JOBS
# at a time, on their committed seed corpus (fuzz/corpus/<target>) and
# dictionary (fuzz/<target>.dict); what they find goes to a scratch
# folder, never into the repository. Exits non-zero if any target found a
# crash, leak, undefined behaviour, timeout or memory blow-up, after
# printing the executions per target and the path of each saved input.
#
#   bash fuzz/run.sh BUILD_DIR [SECONDS [TARGET...]]
#
# BUILD_DIR was configured with -DCMAKE_C_COMPILER=clang -DNTK_FUZZ=ON and
# built with --target fuzzers. SECONDS per target (default 60); JOBS
# targets at once (default: the number of cores); OUT the scratch folder
# (default: a new one under $TMPDIR, removed when nothing was found); EXTRA
# more libFuzzer flags.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: bash fuzz/run.sh BUILD_DIR [SECONDS [TARGET...]]}
secs=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
jobs=${JOBS:-$(nproc)}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ntk-fuzz-run.XXXXXX")}
mkdir -p "$out"
# the harnesses' scratch files (fuzz_common.c): in memory where possible,
# and removed here even when a harness crashed before cleaning up
if [ -z "${NTK_FUZZ_TMPDIR:-}" ]; then
  base=/dev/shm; [ -w "$base" ] || base=${TMPDIR:-/tmp}
  NTK_FUZZ_TMPDIR=$(mktemp -d "$base/ntk-fuzz-run.XXXXXX")
  export NTK_FUZZ_TMPDIR
  trap 'rm -rf "$NTK_FUZZ_TMPDIR"' EXIT
fi
if [ $# -gt 0 ]; then targets=("$@"); else
  targets=(); for c in "$here"/corpus/*/; do targets+=("$(basename "$c")"); done
fi

# One target: a fresh corpus folder for what it finds (first, so that new
# inputs go there), the committed seeds read-only after it.
# The fixtures of tests/data seed the readers too (read, never written).
run_one() {
  local t=$1 bin="$build/fuzz/fuzz_$1" dict=() log="$out/$1.log" more=()
  [ -x "$bin" ] || { echo "fuzz: $bin is missing (cmake --build $build --target fuzzers)" >"$log"; return 1; }
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  case $t in
    npy | csv) more=("$here/../tests/data/io") ;;
    npz) more=("$here/../tests/data/npz") ;;
    idx) more=("$here/../tests/data/idx") ;;
  esac
  mkdir -p "$out/$t/new" "$out/$t/artifacts"
  # detect_leaks: LeakSanitizer after every input that allocated more than
  # it freed; -timeout: one input running 10 s is a hang; -rss_limit_mb and
  # malloc_limit_mb: a 4 KiB input that makes the reader allocate GBs is a bug
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
      -artifact_prefix="$out/$t/artifacts/" "${dict[@]}" ${EXTRA:-} "$out/$t/new" "$here/corpus/$t" "${more[@]}" >"$log" 2>&1
}

names=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "fuzz: $t for ${secs}s"
  { run_one "$t"; echo $? >"$out/$t.rc"; } &
  names+=("$t")
done
wait
passed=0; failed=0
for t in "${names[@]}"; do
  rc=$(cat "$out/$t.rc" 2>/dev/null || echo 99) log="$out/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    printf 'fuzz: %-7s ok     %10s executions in %ss  (%s)\n' "$t" "${execs:-?}" "$secs" "$cov"
  else
    failed=$((failed + 1))
    printf 'fuzz: %-7s FAILED (exit %d) after %s executions; log %s\n' "$t" "$rc" "${execs:-?}" "$log"
    grep -E '^==[0-9]+==ERROR|SUMMARY|runtime error|fuzz check failed|ALARM|out-of-memory|Test unit written' "$log" | head -20 | sed 's/^/    /'
    for a in "$out/$t/artifacts"/*; do [ -f "$a" ] && echo "    input: $a ($(stat -c %s "$a") bytes)"; done
  fi
done
if [ "$failed" -eq 0 ] && [ -z "${OUT:-}" ]; then
  rm -rf "$out" # a scratch folder of our own, and nothing found: nothing to keep
else
  echo "fuzz: logs, new inputs and artifacts in $out"
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
