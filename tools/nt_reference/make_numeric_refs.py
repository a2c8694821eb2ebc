#!/usr/bin/env python3
"""Network references for the activations without closed forms (tanh,
logistic sigmoid, softplus, SiLU), from neural-tangents' own numerical path:
stax.ElementwiseNumerical(fn, deg) — bivariate Gauss–Hermite quadrature in
jax, an implementation independent of ntk's polar Gauss–Legendre rule.

deg = 300 nodes per axis; each case is also computed at deg = 240 and the two
must agree to 1e-12 relative (measured ≤ 1.1e-14: the GH rule is converged
for these smooth activations at the moderate variances used, inputs
|x| ≤ 0.75), so the files are references to ~1e-12. (With inputs up to 1.5
the two degrees differed by 1.2e-9 for tanh: GH converges slowly once tanh
saturates, which is why ntk's own rule is a kink-split polar one.) ELU is left out: its derivative is kinked, where Gauss–Hermite
converges only algebraically (ELU is checked per activation against mpmath
in tests/ref/mp/duals.tsv instead).

Writes tests/ref/ntnum/{cases.tsv, <name>.{x1,x2,nngp,ntk}.npy} in the
format of tests/ref/nt. Run with the venv of make_refs.sh:
  .venv-ref/bin/python tools/nt_reference/make_numeric_refs.py
"""
import importlib.util
import os
import sys
import types

if importlib.util.find_spec('tensorflow') is None:
    sys.modules['neural_tangents.experimental'] = types.ModuleType('neural_tangents.experimental')

import jax  # noqa: E402

jax.config.update('jax_enable_x64', True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'ref', 'ntnum')

ACTS = {
    'tanh': jnp.tanh,
    'sigmoid': jax.nn.sigmoid,
    'softplus': jax.nn.softplus,
    'silu': jax.nn.silu,
}

# (name, param, [(width, w_std, b_std or None) | act], N1, d, N2 or None, seed)
CASES = [
    ('tanh_2l', 'ntk', [(16, 1.5, 0.1), 'tanh', (1, 1.2, 0.05)], 6, 3, None, 1),
    ('sigmoid_3l_x2', 'ntk', [(16, 1.3, 0.2), 'sigmoid', (16, 1.1, None), 'sigmoid', (1, 0.9, 0.1)], 5, 4, 3, 2),
    ('softplus_2l_std', 'standard', [(12, 1.4, 0.1), 'softplus', (1, 1.0, None)], 6, 2, None, 3),
    ('silu_3l', 'ntk', [(16, 1.2, None), 'silu', (16, 1.3, 0.1), 'silu', (1, 1.0, 0.2)], 5, 5, None, 4),
    ('tanh_softplus_std_x2', 'standard', [(10, 1.5, 0.1), 'tanh', (8, 1.2, None), 'softplus', (1, 1.1, 0.05)], 4, 3, 5, 5),
]


def spec_of(layers):
    out = []
    for l in layers:
        if isinstance(l, str):
            out.append(l)
        else:
            w, ws, bs = l
            out.append(f'dense({w},w_std={ws}' + (f',b_std={bs}' if bs is not None else '') + ')')
    return ','.join(out)


def stax_of(layers, param, deg):
    ls = []
    for l in layers:
        if isinstance(l, str):
            ls.append(stax.ElementwiseNumerical(ACTS[l], deg=deg))
        else:
            w, ws, bs = l
            ls.append(stax.Dense(w, W_std=ws, b_std=bs, parameterization=param))
    return stax.serial(*ls)


def dyadic(rng, shape):
    # k/16 · 2^e entries: every x·x'/d is exact in float64
    return (rng.integers(-12, 13, size=shape) / 16.0).astype(np.float64)


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = ['name\tparam\thas_x2\tspec']
    for name, param, layers, n1, d, n2, seed in CASES:
        rng = np.random.default_rng(seed)
        x1 = dyadic(rng, (n1, d))
        x2 = dyadic(rng, (n2, d)) if n2 else None
        res = {}
        for deg in (240, 300):
            _, _, kfn = stax_of(layers, param, deg)
            k = kfn(x1, x2, ('nngp', 'ntk'))
            res[deg] = (np.asarray(k.nngp, np.float64), np.asarray(k.ntk, np.float64))
        for i, what in enumerate(('nngp', 'ntk')):
            a, b = res[240][i], res[300][i]
            err = np.max(np.abs(a - b)) / np.max(np.abs(b))
            assert np.all(np.isfinite(b)), name
            assert err < 1e-12, f'{name} {what}: deg 240 vs 300 differ by {err:.2e}'
            print(f'{name:24s} {what}: deg 240 vs 300 agree to {err:.1e}')
        np.save(os.path.join(OUT, f'{name}.x1.npy'), x1)
        if x2 is not None:
            np.save(os.path.join(OUT, f'{name}.x2.npy'), x2)
        np.save(os.path.join(OUT, f'{name}.nngp.npy'), res[300][0])
        np.save(os.path.join(OUT, f'{name}.ntk.npy'), res[300][1])
        lines.append(f'{name}\t{param}\t{1 if x2 is not None else 0}\t{spec_of(layers)}')
    with open(os.path.join(OUT, 'cases.tsv'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'wrote {len(CASES)} cases to {os.path.normpath(OUT)}; neural-tangents {nt.__version__}, jax {jax.__version__}')


if __name__ == '__main__':
    main()
