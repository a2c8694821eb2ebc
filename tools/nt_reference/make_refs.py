#!/usr/bin/env python3
"""Reference NNGP/NTK kernels from neural-tangents (stax) for the ntk C test suite.

Run through tools/nt_reference/make_refs.sh (which builds the pinned venv).

For every case below this script
  * parses the architecture spec with a small parser for OUR syntax
    (the same strings the C library parses) and maps it to stax.serial(...);
  * builds inputs with a fixed seed and calls
    kernel_fn(x1, x2, ('nngp', 'ntk')) in float64;
  * independently evaluates the docs/math.md recursion twice -- in float64
    numpy and in 50-digit mpmath -- and checks neural-tangents against both;
  * checks finiteness, symmetry (X2 omitted), float64 dtype, and that the
    'standard' parameterization really changes the NTK;
  * writes tests/ref/nt/{cases.tsv, <name>.{x1,x2,nngp,ntk}.npy, VERSIONS}.

Inputs are "dyadic": every entry is k/16 * 2^e with small integers k, e, so
every input dot product x.x' is exact in float64 and K0 = x.x'/d is the same
bit pattern however it is summed.  This matters: at rho = 1 (diagonal entries,
duplicate rows) T(q11,q12,q22) of ReLU-like activations has a square-root
singularity, and a one-ulp mismatch between q12 and sqrt(q11 q22) moves the
NTK by ~1e-8 relative -- far above the 1e-10 test tolerance.  Row norms are
still varied over 2^-3 .. 2^4.
"""
import importlib.metadata
import importlib.util
import os
import platform
import re
import sys
import types

# neural_tangents/__init__.py imports neural_tangents.experimental, whose only
# content is the TensorFlow interop (empirical_tf: `import tensorflow`,
# `import tf2jax`, jax2tf).  None of it is used by stax; when TensorFlow is
# not installed we register an empty stand-in for that subpackage.
if importlib.util.find_spec('tensorflow') is None:
  sys.modules['neural_tangents.experimental'] = types.ModuleType(
      'neural_tangents.experimental')

import jax  # noqa: E402

jax.config.update('jax_enable_x64', True)

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402
from scipy import special as sps  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'tests', 'ref', 'nt')

# Value of theta for ABReLU-type activations at a zero-variance pair
# (q11*q22 = q12 = 0).  neural-tangents uses pi/2; math.md's plain
# atan2(0, 0) would give 0.  Switched only for the informational comparison.
ZERO_VARIANCE_THETA = 'pi/2'

# Sigmoid_like in neural-tangents is Erf(a=0.5, b=1/2.4020563531719796, c=0.5).
SIGMOID_LIKE_B = 1 / 2.4020563531719796

# --------------------------------------------------------------------------
# Parser for our spec syntax.
# --------------------------------------------------------------------------

# name -> list of (arg name, default); REQUIRED = must be given.
REQUIRED = object()
LAYERS = {
    'dense': [('width', REQUIRED), ('w_std', 1.0), ('b_std', None)],
    'relu': [],
    'leaky_relu': [('alpha', REQUIRED)],
    'abs': [],
    'abrelu': [('a', REQUIRED), ('b', REQUIRED)],
    'erf': [('a', 1.0), ('b', 1.0), ('c', 0.0)],
    'sigmoid_like': [],
    'sin': [('a', 1.0), ('b', 1.0), ('c', 0.0)],
    'cos': [('a', 1.0), ('b', 1.0), ('c', 0.0)],
    'identity': [],
    'gelu': [],
}


def _split_top(s, sep=','):
  parts, depth, cur = [], 0, []
  for ch in s:
    if ch == '(':
      depth += 1
    elif ch == ')':
      depth -= 1
      if depth < 0:
        raise ValueError(f'unbalanced ")" in {s!r}')
    if ch == sep and depth == 0:
      parts.append(''.join(cur))
      cur = []
    else:
      cur.append(ch)
  if depth != 0:
    raise ValueError(f'unbalanced "(" in {s!r}')
  parts.append(''.join(cur))
  return parts


def parse_spec(spec):
  """'dense(512, w_std=1.5), relu, dense(1)' -> [('dense', {...}), ...]."""
  s = re.sub(r'\s+', '', spec)
  layers = []
  for item in _split_top(s):
    m = re.fullmatch(r'([a-z_]+)(?:\((.*)\))?', item)
    if not m:
      raise ValueError(f'bad layer {item!r} in {spec!r}')
    name, argstr = m.group(1), m.group(2)
    if name not in LAYERS:
      raise ValueError(f'unknown layer {name!r}')
    sig = LAYERS[name]
    args = {}
    if argstr is not None and argstr != '':
      seen_named = False
      for i, a in enumerate(argstr.split(',')):
        if '=' in a:
          k, v = a.split('=', 1)
          seen_named = True
          if k not in [n for n, _ in sig]:
            raise ValueError(f'{name}: unknown argument {k!r}')
        else:
          if seen_named:
            raise ValueError(f'{name}: positional after named argument')
          if i >= len(sig):
            raise ValueError(f'{name}: too many arguments')
          k, v = sig[i][0], a
        if k in args:
          raise ValueError(f'{name}: {k} given twice')
        args[k] = float(v)
    for k, d in sig:
      if k not in args:
        if d is REQUIRED:
          raise ValueError(f'{name}: missing argument {k}')
        args[k] = d
    if name == 'dense':
      w = args['width']
      if w != int(w) or w < 1:
        raise ValueError(f'dense: bad width {w}')
      args['width'] = int(w)
    layers.append((name, args))
  return layers


def to_stax(layers, param):
  fs = []
  for name, a in layers:
    if name == 'dense':
      fs.append(stax.Dense(a['width'], W_std=a['w_std'], b_std=a['b_std'],
                           parameterization=param))
    elif name == 'relu':
      fs.append(stax.Relu())
    elif name == 'leaky_relu':
      fs.append(stax.LeakyRelu(a['alpha']))
    elif name == 'abs':
      fs.append(stax.Abs())
    elif name == 'abrelu':
      fs.append(stax.ABRelu(a['a'], a['b']))
    elif name == 'erf':
      fs.append(stax.Erf(a['a'], a['b'], a['c']))
    elif name == 'sigmoid_like':
      fs.append(stax.Sigmoid_like())
    elif name == 'sin':
      fs.append(stax.Sin(a['a'], a['b'], a['c']))
    elif name == 'cos':
      fs.append(stax.Cos(a['a'], a['b'], a['c']))
    elif name == 'identity':
      fs.append(stax.Identity())
    elif name == 'gelu':
      fs.append(stax.Gelu())
    else:
      raise AssertionError(name)
  return stax.serial(*fs)


# --------------------------------------------------------------------------
# Independent implementation of docs/math.md (generic over float64 / mpmath).
# Operates on the full Gram matrix of the stacked points [x1; x2], so the
# diagonal K(x, x) goes through the very same formula as off-diagonal pairs.
# --------------------------------------------------------------------------

class NumpyOps:
  pi = np.pi
  sqrt = staticmethod(np.sqrt)
  atan2 = staticmethod(np.arctan2)
  asin = staticmethod(np.arcsin)
  exp = staticmethod(np.exp)
  cos = staticmethod(np.cos)

  @staticmethod
  def num(v):
    return np.float64(v)

  @staticmethod
  def clip0(x):
    return np.maximum(x, 0.0)

  @staticmethod
  def clip1(x):
    return np.clip(x, -1.0, 1.0)

  @staticmethod
  def where(c, a, b):
    return np.where(c, a, b)

  @staticmethod
  def from_inputs(x):
    x = np.asarray(x, np.float64)
    return x @ x.T / x.shape[1]


class MpOps:
  def __init__(self, dps=50):
    mpmath.mp.dps = dps
    self.pi = mpmath.pi
    v = lambda f: np.vectorize(f, otypes=[object])  # noqa: E731
    self.sqrt = v(mpmath.sqrt)
    self.atan2 = v(mpmath.atan2)
    self.asin = v(mpmath.asin)
    self.exp = v(mpmath.exp)
    self.cos = v(mpmath.cos)
    self.clip0 = v(lambda t: t if t > 0 else mpmath.mpf(0))
    self.clip1 = v(lambda t: max(min(t, mpmath.mpf(1)), mpmath.mpf(-1)))

  @staticmethod
  def num(v):
    return mpmath.mpf(float(v))   # exact value of the float64 parameter

  @staticmethod
  def where(c, a, b):
    a = np.broadcast_to(np.asarray(a, object), c.shape)
    b = np.broadcast_to(np.asarray(b, object), c.shape)
    return np.where(c, a, b)

  @staticmethod
  def from_inputs(x):
    x = np.asarray(x, np.float64)
    n, d = x.shape
    xm = np.vectorize(mpmath.mpf, otypes=[object])(x)
    g = np.empty((n, n), object)
    for i in range(n):
      for j in range(n):
        g[i, j] = mpmath.fsum(xm[i, k] * xm[j, k] for k in range(d)) / d
    return g


def act_T_Tdot(ops, name, a, K):
  """T and Tdot on the full Gram matrix K (q11 = diag rows, q22 = diag cols)."""
  q = np.array([K[i, i] for i in range(K.shape[0])], dtype=K.dtype)
  q11, q22, q12 = q[:, None], q[None, :], K
  num = ops.num
  if name in ('relu', 'leaky_relu', 'abs', 'abrelu'):
    A, B = {'relu': (0, 1), 'abs': (-1, 1),
            'leaky_relu': (a.get('alpha'), 1),
            'abrelu': (a.get('a'), a.get('b'))}[name]
    A, B = num(A), num(B)
    s = ops.sqrt(ops.clip0(q11 * q22 - q12 * q12))
    # neural-tangents' convention when q11*q22 = q12 = 0 (a zero-variance
    # point): theta = pi/2, i.e. phi'(0) = (a+b)/2.  Plain atan2(0,0) = 0.
    fill = ops.pi / 2 if ZERO_VARIANCE_THETA == 'pi/2' else ops.num(0.0)
    theta = ops.where((s == 0) & (q12 == 0), fill, ops.atan2(s, q12))
    td = (A * A + B * B) / 2 - (A - B) ** 2 * theta / (2 * ops.pi)
    return (A - B) ** 2 / (2 * ops.pi) * s + td * q12, td
  if name in ('erf', 'sigmoid_like'):
    if name == 'sigmoid_like':
      A, B, C = num(0.5), num(SIGMOID_LIKE_B), num(0.5)
    else:
      A, B, C = num(a['a']), num(a['b']), num(a['c'])
    p11, p22, p12 = B * B * q11, B * B * q22, B * B * q12
    den = (1 + 2 * p11) * (1 + 2 * p22)
    T = A * A * (2 / ops.pi) * ops.asin(ops.clip1(2 * p12 / ops.sqrt(den))) + C * C
    td = A * A * B * B * (4 / ops.pi) / ops.sqrt(den - 4 * p12 * p12)
    return T, td
  if name in ('sin', 'cos'):
    A, B, C = num(a['a']), num(a['b']), num(a['c'])
    if name == 'cos':
      C = C + ops.pi / 2
    em = ops.exp(-B * B * (q11 + q22 - 2 * q12) / 2)
    ep = ops.exp(-B * B * (q11 + q22 + 2 * q12) / 2)
    c2 = ops.cos(2 * C)
    return A * A / 2 * (em - ep * c2), A * A * B * B / 2 * (em + ep * c2)
  if name == 'identity':
    return q12.copy(), q12 * 0 + 1
  if name == 'gelu':
    # phi(z) = z * Phi(z).  Closed form (Tsuchida et al. 2020, as used by
    # neural-tangents), with P = (1+q11)(1+q22), D = sqrt(P - q12^2):
    #   T    = q12/4 + q12*atan2(q12, D)/(2 pi)
    #          + (q12^2 + q11 q22 D^2) / (2 pi P D)
    #   Tdot = 1/4 + atan2(q12, D)/(2 pi)
    #          + q12/(2 pi D) * (1/D^2 + (1 - q11 q22)/P + 1)
    # checked against Gauss-Hermite quadrature in check_gelu_formula().
    P = (1 + q11) * (1 + q22)
    D2 = P - q12 * q12
    D = ops.sqrt(D2)
    ang = ops.atan2(q12, D)
    T = q12 / 4 + q12 * ang / (2 * ops.pi) + (q12 * q12 + q11 * q22 * D2) / (2 * ops.pi * P * D)
    td = 0.25 + ang / (2 * ops.pi) + q12 / (2 * ops.pi * D) * (1 / D2 + (1 - q11 * q22) / P + 1)
    return T, td
  raise AssertionError(name)


def mathmd_kernels(ops, layers, param, x1, x2):
  x = x1 if x2 is None else np.concatenate([x1, x2], 0)
  K = ops.from_inputs(x)
  Th = K * 0
  n_in = x.shape[1]
  for name, a in layers:
    if name == 'dense':
      w, b = ops.num(a['w_std']), a['b_std']
      bb = ops.num(0.0 if b is None else b)
      if param == 'ntk':
        K = w * w * K + bb * bb
        Th = K + w * w * Th
      else:
        Th = n_in * K + w * w * Th + (0 if b is None else 1)
        K = w * w * K + bb * bb
      n_in = a['width']
    else:
      K, td = act_T_Tdot(ops, name, a, K)
      Th = Th * td
  n1 = x1.shape[0]
  sl = (slice(0, n1), slice(0, n1) if x2 is None else slice(n1, None))
  return K[sl], Th[sl]


def check_gelu_formula():
  """Max abs error of the Gelu closed form vs bivariate Gauss-Hermite."""
  g, w = np.polynomial.hermite_e.hermegauss(160)
  w = w / w.sum()
  G1, G2 = np.meshgrid(g, g, indexing='ij')
  W = np.outer(w, w)
  phi = lambda z: z * sps.ndtr(z)  # noqa: E731
  dphi = lambda z: sps.ndtr(z) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # noqa: E731
  worst = 0.0
  for q11, q22, rho in [(1.0, 1.0, 0.3), (0.5, 2.0, -0.7), (2.0, 1.5, 0.95),
                        (0.2, 0.3, 0.0), (1.0, 1.0, 1.0), (3.0, 0.7, -0.99)]:
    q12 = rho * np.sqrt(q11 * q22)
    L11 = np.sqrt(q11)
    L21 = q12 / L11
    L22 = np.sqrt(max(q22 - L21 ** 2, 0.0))
    u, v = L11 * G1, L21 * G1 + L22 * G2
    Tq = np.sum(W * phi(u) * phi(v))
    Tdq = np.sum(W * dphi(u) * dphi(v))
    K = np.array([[q11, q12], [q12, q22]])
    T, td = act_T_Tdot(NumpyOps, 'gelu', {}, K)
    worst = max(worst, abs(T[0, 1] - Tq) / max(abs(Tq), 1e-3),
                abs(td[0, 1] - Tdq) / max(abs(Tdq), 1e-3))
  return worst


# --------------------------------------------------------------------------
# Inputs.
# --------------------------------------------------------------------------

def make_inputs(rng, n, d, scales=None, zero_rows=(), dup=()):
  """Dyadic inputs: entries k/16, k in [-24, 24], rows scaled by 2^e.

  scales: per-row exponents e (default: random in -3..4).
  zero_rows: rows set to 0.  dup: (i, j) pairs, row i := row j (after scaling).
  """
  x = rng.randint(-24, 25, size=(n, d)).astype(np.float64) / 16.0
  for i in range(n):                 # no accidental all-zero rows
    if not np.any(x[i]):
      x[i, 0] = 1.0
  e = rng.randint(-3, 5, size=n) if scales is None else np.asarray(scales)
  x *= np.exp2(e)[:, None]
  for i, j in dup:
    x[i] = x[j]
  for i in zero_rows:
    x[i] = 0.0
  return x


# --------------------------------------------------------------------------
# Cases: (name, param, spec, x1 kwargs, x2 kwargs or None)
# --------------------------------------------------------------------------

CASES = [
    # depth 1: a lone dense layer (NNGP = w^2 x.x'/d + b^2)
    ('dense_1l_x2', 'ntk', 'dense(1, 1.3, 0.2)',
     dict(n=5, d=2), dict(n=7, d=2)),
    ('relu_2l', 'ntk',
     'dense(512, w_std=1.5, b_std=0.05), relu, dense(1, w_std=1.5, b_std=0.05)',
     dict(n=8, d=3), None),
    ('relu_3l_nobias', 'ntk', 'dense(100), relu, dense(100), relu, dense(1)',
     dict(n=9, d=10), None),
    # depth 4, relu with zero and duplicate rows in X1 and X2, X2 shares rows
    ('relu_4l_dup_zero_x2', 'ntk',
     'dense(64,w_std=1.4142135623730951,b_std=0.1),relu,'
     'dense(64,w_std=1.4142135623730951,b_std=0.1),relu,'
     'dense(64,w_std=1.4142135623730951,b_std=0.1),relu,dense(1)',
     dict(n=7, d=3, zero_rows=(2,), dup=((4, 1),)),
     dict(n=6, d=3, zero_rows=(0,), dup=((3, 5),), share=((1, 1), (4, 6)))),
    # deep: 6 dense layers, w_std = 2, relu
    ('deep_relu_6l', 'ntk',
     'dense(2048, w_std=2), relu, dense(2048, w_std=2), relu, '
     'dense(2048, w_std=2), relu, dense(2048, w_std=2), relu, '
     'dense(2048, w_std=2), relu, dense(1, w_std=2)',
     dict(n=10, d=10, dup=((9, 0),)), None),
    ('deep_relu_6l_std', 'standard',
     'dense(40, w_std=2, b_std=0.1), relu, dense(30, w_std=2, b_std=0.1), relu, '
     'dense(20, w_std=2, b_std=0.1), relu, dense(10, w_std=2, b_std=0.1), relu, '
     'dense(5, w_std=2, b_std=0.1), relu, dense(1, w_std=2, b_std=0.1)',
     dict(n=6, d=3), dict(n=5, d=3)),
    ('leaky_relu_3l', 'ntk',
     'dense(64, w_std=1.4, b_std=0.1), leaky_relu(0.1), '
     'dense(64, w_std=1.4, b_std=0.1), leaky_relu(alpha=-0.3), dense(1)',
     dict(n=8, d=2), None),
    ('abs_2l_d100_x2', 'ntk', 'dense(10, b_std=0.5), abs, dense(1)',
     dict(n=6, d=100), dict(n=4, d=100)),
    ('abrelu_3l', 'ntk',
     'dense(32, 1.2, 0.3), abrelu(-0.5, 2), dense(32, 1.2, 0.3), '
     'abrelu(a=0.25, b=-1.5), dense(1, 1.2)',
     dict(n=8, d=3), None),
    ('erf_2l_d1', 'ntk', 'dense(50, w_std=1.0, b_std=0.1), erf, dense(1)',
     dict(n=8, d=1, zero_rows=(3,)), None),
    ('erf_abc_3l', 'ntk',
     'dense(20, 1.5, 0.5), erf(2, 0.5, 0.3), dense(20, w_std=0.8), '
     'erf(a=0.7, b=1.3, c=-0.2), dense(1, 1, 0.1)',
     dict(n=7, d=10), dict(n=5, d=10)),
    ('sigmoid_like_2l', 'ntk',
     'dense(100, b_std=0.2), sigmoid_like, dense(1, w_std=2)',
     dict(n=8, d=2, dup=((5, 2),)), None),
    ('sin_2l', 'ntk', 'dense(10, w_std=1.2, b_std=0.3), sin, dense(1)',
     dict(n=8, d=3, zero_rows=(0,)), None),
    ('sin_abc_3l_x2', 'ntk',
     'dense(16, 1, 0.1), sin(1.5, 0.7, 0.4), dense(16, w_std=1.3), '
     'sin(a=1, b=2, c=-1), dense(1)',
     dict(n=6, d=2), dict(n=6, d=2)),
    ('cos_2l', 'ntk',
     'dense(8, w_std=1.1), cos(a=1.2, b=0.9, c=0.25), dense(1, b_std=0.3)',
     dict(n=8, d=10), None),
    ('cos_default_std', 'standard', 'dense(12, w_std=0.9, b_std=0.2), cos, dense(1)',
     dict(n=7, d=3), None),
    ('identity_3l_std', 'standard',
     'dense(30, w_std=1.5, b_std=0.5), identity, dense(7, w_std=0.5), identity, '
     'dense(1, b_std=1)',
     dict(n=6, d=10), dict(n=4, d=10)),
    ('gelu_2l', 'ntk', 'dense(100, w_std=1.2, b_std=0.1), gelu, dense(1)',
     dict(n=8, d=3, zero_rows=(6,), dup=((7, 1),)), None),
    ('gelu_3l_std', 'standard',
     'dense(20, w_std=1.3, b_std=0.2), gelu, dense(9, w_std=1.1), gelu, dense(1)',
     dict(n=6, d=2), dict(n=5, d=2)),
    # big pre-activation variances for erf / gelu / sin
    ('big_var_erf_gelu_sin', 'ntk',
     'dense(64, w_std=2.5, b_std=1.0), erf, dense(64, w_std=2.5, b_std=1.0), gelu, '
     'dense(64, w_std=2.5, b_std=1.0), sin(1, 1, 0.5), dense(1, w_std=2.5, b_std=1.0)',
     dict(n=8, d=3, scales=(-1, 0, 1, 2, 0, 1, 2, 3)), None),
    ('big_var_gelu_std', 'standard',
     'dense(16, w_std=2.5, b_std=1.0), gelu, dense(8, w_std=2.5, b_std=1.0), erf, '
     'dense(1, w_std=2.5, b_std=1.0)',
     dict(n=6, d=2), None),
    # a network that ends with an activation (no final dense)
    ('ends_with_act', 'ntk',
     'dense(256, w_std=1.4, b_std=0.1), relu, dense(256, w_std=1.4), erf',
     dict(n=7, d=3), None),
    ('ends_with_act_std', 'standard',
     'dense(5, w_std=1.4, b_std=0.1), gelu, dense(11, w_std=1.4), abs',
     dict(n=6, d=2), dict(n=3, d=2)),
    # same spec, both parameterizations (widths enter only under 'standard')
    ('pair_relu_ntk', 'ntk',
     'dense(7, w_std=1.3, b_std=0.2), relu, dense(13, w_std=1.1, b_std=0.3), relu, dense(1)',
     dict(n=8, d=3, seed=77), None),
    ('pair_relu_std', 'standard',
     'dense(7, w_std=1.3, b_std=0.2), relu, dense(13, w_std=1.1, b_std=0.3), relu, dense(1)',
     dict(n=8, d=3, seed=77), None),
    # ReLU after erf: q12 at rho = 1 comes out of the erf formula, not x.x'
    ('erf_then_relu_x2', 'standard',
     'dense(8, w_std=1.7, b_std=0.1), erf, dense(8, w_std=1.2), relu, dense(1)',
     dict(n=7, d=3, dup=((3, 1),)), dict(n=5, d=3, share=((0, 0), (2, 3)))),
    # depth 5, mixed activations, whitespace and argument styles
    ('mixed_5l', 'ntk',
     ' dense( 32 , w_std = 1.5 ,b_std=0.25 ) ,relu , dense(32,1.2,0.1), erf(1.2, 0.8, 0), '
     'dense(32, b_std=0.1, w_std=1.1), gelu, dense(32, w_std=1.3), sin(1, 0.5, 0.3), '
     'dense(1, 1.0)',
     dict(n=8, d=10, dup=((6, 3),)), None),
    ('mixed_6l_std_x2', 'standard',
     'dense(9, w_std=1.4, b_std=0.1), leaky_relu(0.2), dense(8, w_std=1.2), abs, '
     'dense(7, w_std=0.9, b_std=0.3), sigmoid_like, dense(6, w_std=1.5), '
     'cos(1, 1.1, 0.2), dense(5, w_std=1.1, b_std=0.2), identity, dense(1, 1.0, 0.5)',
     dict(n=5, d=100), dict(n=6, d=100)),
    # 'standard' with a zero-std bias on a zero input: K = 0 but Theta = 1 at
    # the zero row, so the ReLU derivative at a zero-variance point matters
    # (neural-tangents: theta = pi/2 there, i.e. Tdot = 1/4).
    ('std_zero_bias_zero_row', 'standard', 'dense(5, b_std=0), relu, dense(1)',
     dict(n=5, d=3, zero_rows=(1,)), None),
]


def build_inputs(seed, spec1, spec2):
  spec1 = dict(spec1)
  seed = spec1.pop('seed', seed)
  rng = np.random.RandomState(seed)
  x1 = make_inputs(rng, **spec1)
  if spec2 is None:
    return x1, None
  spec2 = dict(spec2)
  share = spec2.pop('share', ())
  x2 = make_inputs(rng, **spec2)
  for i2, i1 in share:               # x2[i2] := x1[i1]  (rho = 1 across X1/X2)
    x2[i2] = x1[i1]
  return x1, x2


def relerr(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def relerr_entry(a, b):
  """Max over entries of |a-b|/|b| (entries with |b| > 1e-300)."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  m = np.abs(b) > 1e-300
  return float(np.max(np.abs(a - b)[m] / np.abs(b)[m]))


def main():
  os.makedirs(OUT, exist_ok=True)
  for f in os.listdir(OUT):
    if f.endswith('.npy') or f in ('cases.tsv', 'VERSIONS'):
      os.remove(os.path.join(OUT, f))

  names = [c[0] for c in CASES]
  assert len(set(names)) == len(names)
  mp = MpOps(50)
  failures = []
  results = {}
  rows = ['name\tparam\thas_x2\tspec']
  print(f'{"case":26s} {"N1xN2":>6s} {"np-vs-nt":>9s} {"mp-vs-nt":>9s} '
        f'{"mp-vs-nt*":>9s} {"min|k|/max|k|":>12s}')
  for seed, (name, param, spec, s1, s2) in enumerate(CASES):
    assert re.fullmatch(r'[a-z0-9_]+', name), name
    assert '\t' not in spec and '\n' not in spec
    layers = parse_spec(spec)
    x1, x2 = build_inputs(1000 + seed, s1, s2)
    _, _, kernel_fn = to_stax(layers, param)
    k = kernel_fn(x1, x2, ('nngp', 'ntk'))
    nngp, ntk = k.nngp, k.ntk
    if nngp.dtype != np.float64 or ntk.dtype != np.float64:
      failures.append(f'{name}: dtype {nngp.dtype}/{ntk.dtype}')
    nngp = np.ascontiguousarray(np.asarray(nngp, np.float64))
    ntk = np.ascontiguousarray(np.asarray(ntk, np.float64))
    n2 = x1.shape[0] if x2 is None else x2.shape[0]
    assert nngp.shape == ntk.shape == (x1.shape[0], n2), (name, nngp.shape)
    if not (np.all(np.isfinite(nngp)) and np.all(np.isfinite(ntk))):
      failures.append(f'{name}: non-finite kernel')
    if x2 is None:
      for nm, m in (('nngp', nngp), ('ntk', ntk)):
        if not np.array_equal(m, m.T):
          asym = np.max(np.abs(m - m.T)) / np.max(np.abs(m))
          if asym > 1e-15:
            failures.append(f'{name}: {nm} not symmetric ({asym:.1e})')
    # independent evaluations of docs/math.md
    Kn, Tn = mathmd_kernels(NumpyOps, layers, param, x1, x2)
    Km, Tm = mathmd_kernels(mp, layers, param, x1, x2)
    Km = np.array(Km.tolist(), dtype=np.float64)
    Tm = np.array(Tm.tolist(), dtype=np.float64)
    e_np = max(relerr(nngp, Kn), relerr(ntk, Tn))
    e_mp = max(relerr(nngp, Km), relerr(ntk, Tm))
    e_mp_entry = max(relerr_entry(nngp, Km), relerr_entry(ntk, Tm))
    small = float(min(np.min(np.abs(nngp)) / np.max(np.abs(nngp)),
                      np.min(np.abs(ntk)) / np.max(np.abs(ntk))))
    nzero = int(np.sum(nngp == 0) + np.sum(ntk == 0))
    results[name] = (nngp, ntk)
    print(f'{name:26s} {x1.shape[0]:>2d}x{n2:<3d} {e_np:9.1e} {e_mp:9.1e} '
          f'{e_mp_entry:9.1e} {small:12.1e}' + (f'  ({nzero} exact zeros)' if nzero else ''))
    if e_mp > 1e-12:
      failures.append(f'{name}: neural-tangents vs 50-digit math.md: {e_mp:.2e}')
    if e_np > 1e-11:
      failures.append(f'{name}: neural-tangents vs float64 math.md: {e_np:.2e}')

    np.save(os.path.join(OUT, f'{name}.x1.npy'), x1)
    if x2 is not None:
      np.save(os.path.join(OUT, f'{name}.x2.npy'), x2)
    np.save(os.path.join(OUT, f'{name}.nngp.npy'), nngp)
    np.save(os.path.join(OUT, f'{name}.ntk.npy'), ntk)
    rows.append(f'{name}\t{param}\t{0 if x2 is None else 1}\t{spec}')

  print('column np-vs-nt / mp-vs-nt: max|nt - ref| / max|ref| over both kernels;'
        ' mp-vs-nt*: max entrywise relative error;'
        ' min|k|/max|k|: smallest entry relative to largest, min over both kernels')

  # The plain-numpy recursion on one ReLU case (spec -> stax mapping check).
  nngp, ntk = results['relu_2l']
  name, param, spec, s1, s2 = CASES[names.index('relu_2l')]
  x1, _ = build_inputs(1000 + names.index('relu_2l'), s1, s2)
  K = x1 @ x1.T / x1.shape[1]
  Th = np.zeros_like(K)
  for w, b, act in ((1.5, 0.05, True), (1.5, 0.05, False)):
    K = w * w * K + b * b
    Th = K + w * w * Th
    if act:
      q = np.sqrt(np.diag(K))
      c = np.clip(K / np.outer(q, q), -1, 1)
      th = np.arccos(c)
      Th = Th * (np.pi - th) / (2 * np.pi)
      K = np.outer(q, q) * (np.sin(th) + (np.pi - th) * c) / (2 * np.pi)
  e = max(relerr(nngp, K), relerr(ntk, Th))
  print(f'relu_2l vs textbook arccos ReLU recursion (numpy): {e:.2e}')
  if e > 1e-7:       # arccos near rho = 1 loses ~sqrt(eps) on the diagonal
    failures.append(f'relu_2l vs arccos recursion: {e:.2e}')

  # 'standard' must really be passed: same spec/inputs, NTK differs, NNGP not.
  a, b = results['pair_relu_ntk'], results['pair_relu_std']
  d_nngp, d_ntk = relerr(b[0], a[0]), relerr(b[1], a[1])
  print(f'pair_relu_std vs pair_relu_ntk: nngp diff {d_nngp:.1e}, ntk diff {d_ntk:.2e}')
  if d_nngp > 1e-14 or d_ntk < 1e-2:
    failures.append('standard vs ntk parameterization check failed')

  # How much the zero-variance convention matters in the one case built for it.
  global ZERO_VARIANCE_THETA
  i = names.index('std_zero_bias_zero_row')
  name, param, spec, s1, s2 = CASES[i]
  x1, x2 = build_inputs(1000 + i, s1, s2)
  ZERO_VARIANCE_THETA = 'atan2'
  _, T0 = mathmd_kernels(NumpyOps, parse_spec(spec), param, x1, x2)
  ZERO_VARIANCE_THETA = 'pi/2'
  nt_ntk = results[name][1]
  print(f'{name}: with theta = atan2(0,0) = 0 at the zero row instead of pi/2, '
        f'the NTK would differ from neural-tangents by {relerr(T0, nt_ntk):.2e} '
        f'(max abs {np.max(np.abs(T0 - nt_ntk)):.3g})')

  g = check_gelu_formula()
  print(f'Gelu closed form vs Gauss-Hermite(160) quadrature: max rel err {g:.1e}')
  if g > 1e-9:
    failures.append(f'gelu formula vs quadrature: {g:.1e}')

  with open(os.path.join(OUT, 'cases.tsv'), 'w') as f:
    f.write('\n'.join(rows) + '\n')

  vers = [('python', platform.python_version())]
  for pkg in ('jax', 'jaxlib', 'neural-tangents', 'numpy', 'scipy', 'mpmath'):
    vers.append((pkg, importlib.metadata.version(pkg)))
  vers.append(('tensorflow', 'not installed (neural_tangents.experimental stubbed)'
               if 'neural_tangents.experimental' in sys.modules
               and not hasattr(sys.modules['neural_tangents.experimental'],
                               'empirical_ntk_fn_tf') else 'installed'))
  vers.append(('jax_enable_x64', str(jax.config.jax_enable_x64)))
  assert nt.__version__ == '0.6.5', nt.__version__
  with open(os.path.join(OUT, 'VERSIONS'), 'w') as f:
    for k_, v_ in vers:
      f.write(f'{k_}={v_}\n')

  total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
  print(f'{len(CASES)} cases, {total} bytes in {os.path.relpath(OUT, ROOT)}')
  if failures:
    print('FAILURES:\n  ' + '\n  '.join(failures))
    sys.exit(1)
  print('all checks passed')


if __name__ == '__main__':
  main()
