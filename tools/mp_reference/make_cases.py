#!/usr/bin/env python3
"""Network-level NNGP/NTK references for activations neural-tangents lacks.

tanh, sigmoid, softplus, silu and elu have no closed-form dual kernels, so
neural-tangents (tools/nt_reference) cannot serve as a reference for them.
This script evaluates the docs/math.md kernel recursion entirely in mpmath
(mp.dps = 40), with every T / Tdot computed by the 2-D quadrature of
make_duals.py (each off-diagonal entry twice -- pass 1 at 30 digits and
pass 2 at 40 digits with more nodes -- agreement to 1e-20 asserted; the
diagonal entries, rho = 1 exactly, by the 1-D rule of make_duals.py and
cached per value).

Writes tests/ref/mp/{cases.tsv, <name>.x1.npy, [<name>.x2.npy],
<name>.nngp.npy, <name>.ntk.npy} in the format of tests/ref/nt:
cases.tsv has the header `name param has_x2 spec` (tab separated); arrays are
float64, x as N x d, kernels as N1 x N2 (N2 = N1 when X2 is omitted).

Inputs are dyadic (k/16 * 2^e), so K0 = x.x'/d is exact in float64 whatever
the summation order.  No case has rho = +-1 off the diagonal (no duplicate
rows, and no bias-free first layer with d = 1).

Also checked (not written):
  * wiring: the same mpmath recursion code on ReLU / identity networks (both
    parameterizations, X2 given and omitted) against a float64 recursion with
    the docs/math.md closed forms: must agree to 1e-13;
  * a float64 recursion with bivariate Gauss-Hermite quadrature (300 x 300)
    for the real cases: a coarse check only (GH converges slowly for kinked
    ELU and for steep tanh at large variances), asserted to 1e-2.

Usage (needs numpy; the repo's .venv-mp has it):
  .venv-mp/bin/python tools/mp_reference/make_cases.py [--jobs N]
"""
import argparse
import multiprocessing
import os
import re
import sys
import time

import mpmath
import numpy as np
from mpmath import mp, mpf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_duals as MD  # noqa: E402

OUT = MD.OUT
DPS = 40

# --------------------------------------------------------------------------
# Cases: (name, param, spec, (N1, d), N2 or None, seed)
# --------------------------------------------------------------------------
CASES = [
    ('tanh_2l', 'ntk',
     'dense(8,w_std=1.5,b_std=0.1),tanh,dense(1,w_std=1.2,b_std=0.05)',
     (4, 3), None),
    ('tanh_softplus_3l_x2', 'ntk',
     'dense(8,w_std=1.5,b_std=0.1),tanh,dense(8,w_std=1.5),softplus,'
     'dense(1,w_std=1.2,b_std=0.05)',
     (3, 3), 2),
    ('sigmoid_3l_std_x2', 'standard',
     'dense(6,w_std=1.3,b_std=0.2),sigmoid,dense(5,w_std=1.1),sigmoid,'
     'dense(1,w_std=0.9,b_std=0.1)',
     (3, 5), 3),
    ('silu_2l_std_d1', 'standard',
     'dense(7,w_std=1.4,b_std=0.3),silu,dense(1,w_std=1.1,b_std=0.2)',
     (4, 1), None),
    ('elu_3l', 'ntk',
     'dense(10,w_std=1.2,b_std=0.1),elu(1),dense(10,w_std=1.3,b_std=0.2),elu(0.5),dense(1)',
     (4, 5), None),
    ('elu_silu_3l_std_x2', 'standard',
     'dense(5,w_std=1.6),elu(0.5),dense(4,w_std=1.2,b_std=0.1),silu,'
     'dense(1,w_std=1.0,b_std=0.5)',
     (2, 3), 3),
]

ACT_LAYERS = ('tanh', 'sigmoid', 'softplus', 'silu', 'elu')


def parse_spec(spec):
  """Our spec syntax -> [('dense', width, w_std, b_std|None) | ('act', key)]."""
  out = []
  for item in re.findall(r'[a-z_]+(?:\([^)]*\))?', spec.replace(' ', '')):
    m = re.fullmatch(r'([a-z_]+)(?:\((.*)\))?', item)
    name, args = m.group(1), m.group(2)
    if name == 'dense':
      pos, kw = [], {}
      for a in args.split(','):
        if '=' in a:
          k, v = a.split('=')
          kw[k] = float(v)
        else:
          pos.append(float(a))
      names = ['width', 'w_std', 'b_std']
      for i, v in enumerate(pos):
        kw[names[i]] = v
      out.append(('dense', int(kw['width']), kw.get('w_std', 1.0), kw.get('b_std')))
    elif name in ACT_LAYERS:
      if name == 'elu':
        alpha = float(args) if args else 1.0
        key = f'elu({args})' if args else 'elu(1)'
        if key not in MD.ACTS:
          MD.ACTS[key] = (MD.mk_elu(alpha), None, 1.0, 'entire')
        out.append(('act', key))
      else:
        if args:
          raise ValueError(item)
        out.append(('act', name))
    else:
      raise ValueError(f'unsupported layer {item!r}')
  assert ','.join(i for i in re.findall(r'[a-z_]+(?:\([^)]*\))?', spec)) == spec, spec
  return out


def make_inputs(rng, n, d):
  """Dyadic rows k/16 * 2^e, no zero or duplicate rows."""
  while True:
    x = rng.randint(-24, 25, size=(n, d)).astype(np.float64) / 16.0
    x *= np.exp2(rng.randint(-1, 2, size=n))[:, None]
    if np.all(np.any(x != 0, axis=1)) and len({tuple(r) for r in x}) == n:
      return x


# --------------------------------------------------------------------------
# T / Tdot evaluations (worker side).
# --------------------------------------------------------------------------

def dual_pair(task):
  """Off-diagonal entry: pass 2 (dps 40) value and pass-1 agreement."""
  act, q11, q12, q22 = task
  mp.dps = MD.DPS
  T1, Td1, aT, aTd = MD.expect(act, q11, q12, q22, MD.CFG1)
  mp.dps = DPS
  T2, Td2, _, _ = MD.expect(act, q11, q12, q22, MD.CFG2, want_abs=False)
  d = max(abs(T1 - T2) / max(abs(T2), aT * mpf('1e-10')),
          abs(Td1 - Td2) / max(abs(Td2), aTd * mpf('1e-10')))
  return T2, Td2, d


def dual_diag(task):
  act, q = task
  mp.dps = DPS
  T, Td, _, _ = MD.expect(act, q, q, q, MD.CFG2)
  mp.dps = MD.DPS
  T1, Td1, _, _ = MD.expect(act, q, q, q, MD.CFG1)
  mp.dps = DPS
  d = max(abs(T1 - T) / abs(T), abs(Td1 - Td) / abs(Td))
  return T, Td, d


def mp_kernels(pool, layers, param, x1, x2):
  """docs/math.md recursion in mpmath on the stacked points."""
  mp.dps = DPS
  x = x1 if x2 is None else np.concatenate([x1, x2], 0)
  n, d = x.shape
  n1 = x1.shape[0]
  xm = [[mpf(float(v)) for v in row] for row in x]
  # entries we need: all diagonals + (i<j within x1) or (x1 x x2 block)
  pairs = ([(i, j) for i in range(n1) for j in range(i + 1, n1)] if x2 is None
           else [(i, j) for i in range(n1) for j in range(n1, n)])
  K = {}
  for i in range(n):
    K[i, i] = mpmath.fsum(v * v for v in xm[i]) / d
  for i, j in pairs:
    K[i, j] = mpmath.fsum(a * b for a, b in zip(xm[i], xm[j])) / d
  Th = {k: mpf(0) for k in K}
  n_in = d
  worst = 0
  for layer in layers:
    if layer[0] == 'dense':
      _, width, w, b = layer
      w2 = mpf(w) ** 2
      b2 = mpf(0) if b is None else mpf(b) ** 2
      for k in K:
        if param == 'ntk':
          K[k] = w2 * K[k] + b2
          Th[k] = K[k] + w2 * Th[k]
        else:
          Th[k] = n_in * K[k] + w2 * Th[k] + (0 if b is None else 1)
          K[k] = w2 * K[k] + b2
      n_in = width
    else:
      act = layer[1]
      diag = pool.map(dual_diag, [(act, K[i, i]) for i in range(n)], chunksize=1)
      off = pool.map(dual_pair, [(act, K[i, i], K[i, j], K[j, j]) for i, j in pairs],
                     chunksize=1)
      for (i, j), (T, Td, dd) in zip(pairs, off):
        K[i, j], Th[i, j] = T, Th[i, j] * Td
        worst = max(worst, dd)
      for i, (T, Td, dd) in enumerate(diag):
        K[i, i], Th[i, i] = T, Th[i, i] * Td
        worst = max(worst, dd)
  if x2 is None:
    nngp = np.empty((n1, n1))
    ntk = np.empty((n1, n1))
    for i in range(n1):
      for j in range(i, n1):
        nngp[i, j] = nngp[j, i] = float(K[i, j])
        ntk[i, j] = ntk[j, i] = float(Th[i, j])
  else:
    n2 = n - n1
    nngp = np.empty((n1, n2))
    ntk = np.empty((n1, n2))
    for i in range(n1):
      for j in range(n2):
        nngp[i, j] = float(K[i, n1 + j])
        ntk[i, j] = float(Th[i, n1 + j])
  return nngp, ntk, worst


# --------------------------------------------------------------------------
# float64 wiring check: same recursion, Gauss-Hermite 200 x 200.
# --------------------------------------------------------------------------

def np_act(key, z):
  s = 1 / (1 + np.exp(-np.clip(z, -700, 700)))
  if key == 'tanh':
    t = np.tanh(z)
    return t, 1 - t * t
  if key == 'sigmoid':
    return s, s * (1 - s)
  if key == 'softplus':
    return np.logaddexp(0, z), s
  if key == 'silu':
    return z * s, s + z * s * (1 - s)
  alpha = float(key[4:-1])
  return (np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))),
          np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))))


def np_kernels(layers, param, x1, x2):
  g, w = np.polynomial.hermite_e.hermegauss(300)
  w = w / w.sum()
  G1, G2 = np.meshgrid(g, g, indexing='ij')
  W = np.outer(w, w)
  x = x1 if x2 is None else np.concatenate([x1, x2], 0)
  K = x @ x.T / x.shape[1]
  Th = np.zeros_like(K)
  n_in = x.shape[1]
  for layer in layers:
    if layer[0] == 'dense':
      _, width, wst, b = layer
      bb = 0.0 if b is None else b * b
      if param == 'ntk':
        K = wst * wst * K + bb
        Th = K + wst * wst * Th
      else:
        Th = n_in * K + wst * wst * Th + (0 if b is None else 1)
        K = wst * wst * K + bb
      n_in = width
    elif layer[1] in ('relu', 'identity'):         # closed forms (docs/math.md)
      dg = np.diag(K)
      if layer[1] == 'identity':
        Td = np.ones_like(K)
      else:
        s = np.sqrt(np.maximum(np.outer(dg, dg) - K * K, 0))   # exactly 0 on the diagonal
        th = np.arctan2(s, K)
        Td = (np.pi - th) / (2 * np.pi)
        K = s / (2 * np.pi) + Td * K
      Th = Th * Td
    else:
      Kn, Td = np.empty_like(K), np.empty_like(K)
      for i in range(len(K)):
        for j in range(len(K)):
          q11, q22, q12 = K[i, i], K[j, j], K[i, j]
          l11 = np.sqrt(q11)
          l21 = q12 / l11
          l22 = np.sqrt(max(q22 - l21 * l21, 0))
          fu, du = np_act(layer[1], l11 * G1)
          fv, dv = np_act(layer[1], l21 * G1 + l22 * G2)
          Kn[i, j] = np.sum(W * fu * fv)
          Td[i, j] = np.sum(W * du * dv)
      K, Th = Kn, Th * Td
  n1 = x1.shape[0]
  sl = (slice(0, n1), slice(0, n1) if x2 is None else slice(n1, None))
  return K[sl], Th[sl]


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
  ap.add_argument('--only', help='run only this case (no files written)')
  args = ap.parse_args()
  cases = [c for c in CASES if not args.only or c[0] == args.only]
  parsed = [(c, parse_spec(c[2])) for c in cases]   # registers elu(alpha) before forking
  os.makedirs(OUT, exist_ok=True)
  if not args.only:
    for f in os.listdir(OUT):
      if f.endswith('.npy') or f == 'cases.tsv':
        os.remove(os.path.join(OUT, f))
  rows = ['name\tparam\thas_x2\tspec']
  fails = []
  t0 = time.time()
  with multiprocessing.Pool(args.jobs) as pool:
    # wiring check with closed-form activations
    wiring = 0.0
    spec = 'dense(5,w_std=1.3,b_std=0.2),relu,dense(4,w_std=1.1),identity,dense(3,w_std=1.2),relu,dense(1,w_std=0.9,b_std=0.1)'
    layers = [('act', i) if i in ('relu', 'identity') else parse_spec(i)[0]
              for i in re.findall(r'[a-z_]+(?:\([^)]*\))?', spec)]
    rng = np.random.RandomState(1999)
    xa, xb = make_inputs(rng, 3, 3), make_inputs(rng, 2, 3)
    for param in ('ntk', 'standard'):
      for x2 in (None, xb):
        nngp, ntk, _ = mp_kernels(pool, layers, param, xa, x2)
        kn, tn = np_kernels(layers, param, xa, x2)
        wiring = max(wiring, np.max(np.abs(nngp - kn) / np.abs(kn)),
                     np.max(np.abs(ntk - tn) / np.abs(tn)))
    print(f'wiring check (relu/identity net, mpmath recursion vs float64 closed forms): '
          f'{wiring:.1e}', flush=True)
    if wiring > 1e-13:
      fails.append(f'wiring check {wiring:.1e}')
    for seed, ((name, param, spec, (n1, d), n2), layers) in enumerate(parsed):
      assert re.fullmatch(r'[a-z0-9_]+', name)
      t1 = time.time()
      rng = np.random.RandomState(2000 + seed)
      x1 = make_inputs(rng, n1, d)
      x2 = None if n2 is None else make_inputs(rng, n2, d)
      if x2 is not None:
        assert not ({tuple(r) for r in x1} & {tuple(r) for r in x2})
      nngp, ntk, worst = mp_kernels(pool, layers, param, x1, x2)
      kn, tn = np_kernels(layers, param, x1, x2)
      e_np = max(np.max(np.abs(nngp - kn)) / np.max(np.abs(nngp)),
                 np.max(np.abs(ntk - tn)) / np.max(np.abs(ntk)))
      print(f'{name:22s} {param:8s} {nngp.shape[0]}x{nngp.shape[1]} d={d}  '
            f'pass1-vs-pass2 {float(worst):.1e}  GH-float64 {e_np:.1e}  '
            f'{time.time() - t1:.0f} s', flush=True)
      if worst > MD.TOL_VERIFY:
        fails.append(f'{name}: pass 1 vs pass 2 {float(worst):.1e}')
      if e_np > 1e-2:
        fails.append(f'{name}: float64 Gauss-Hermite check {e_np:.1e}')
      assert np.all(np.isfinite(nngp)) and np.all(np.isfinite(ntk))
      if not args.only:
        np.save(os.path.join(OUT, f'{name}.x1.npy'), x1)
        if x2 is not None:
          np.save(os.path.join(OUT, f'{name}.x2.npy'), x2)
        np.save(os.path.join(OUT, f'{name}.nngp.npy'), np.ascontiguousarray(nngp))
        np.save(os.path.join(OUT, f'{name}.ntk.npy'), np.ascontiguousarray(ntk))
      rows.append(f'{name}\t{param}\t{0 if x2 is None else 1}\t{spec}')
  if not args.only:
    with open(os.path.join(OUT, 'cases.tsv'), 'w') as f:
      f.write('\n'.join(rows) + '\n')
  print(f'{len(cases)} cases, wall {time.time() - t0:.0f} s')
  if fails:
    print('FAILURES:\n  ' + '\n  '.join(fails))
    sys.exit(1)
  print('all checks passed')


if __name__ == '__main__':
  main()
