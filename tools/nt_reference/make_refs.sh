#!/usr/bin/env bash
# Regenerate tests/ref/nt/ (reference kernels from neural-tangents).
#
# Creates a throwaway venv (default .venv-ref at the repo root, gitignored;
# override with NT_REF_VENV=/some/path), installs pinned CPU packages and runs
# make_refs.py, which writes the references, checks them against an
# independent float64 + 50-digit mpmath evaluation of docs/math.md, and
# records the versions in tests/ref/nt/VERSIONS.
#
# Pins: neural-tangents 0.6.5 declares tensorflow>=2.15 and tf2jax as hard
# dependencies, but they are used only by neural_tangents.experimental
# (TF interop). We install every package with --no-deps from an explicit,
# complete pin list (no TensorFlow); make_refs.py replaces the experimental
# subpackage with an empty module when TensorFlow is absent. stax is untouched.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${NT_REF_VENV:-$root/.venv-ref}"
py="${PYTHON:-python3}"

pins=(
  neural-tangents==0.6.5
  jax==0.4.23
  jaxlib==0.4.23
  numpy==1.26.4
  scipy==1.11.4
  ml_dtypes==0.3.2
  opt_einsum==3.3.0
  frozendict==2.4.0
  mpmath==1.3.0
)

"$py" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || {
  echo "make_refs.sh: needs Python 3.11 (jaxlib 0.4.23 wheels); set PYTHON=" >&2
  exit 1
}

if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-deps "${pins[@]}"

export JAX_PLATFORMS=cpu        # CPU only; float64 is enabled in make_refs.py
export JAX_ENABLE_X64=1
"$venv/bin/python" "$here/make_refs.py"

echo "--- tests/ref/nt/VERSIONS"
cat "$root/tests/ref/nt/VERSIONS"
echo "--- size: $(du -sh "$root/tests/ref/nt" | cut -f1)" \
     "($(ls "$root/tests/ref/nt" | wc -l) files)"
