#!/usr/bin/env python3
"""High-precision (mpmath) reference values of the dual kernels of activations.

For an activation phi and (u, v) ~ N(0, [[q11, q12], [q12, q22]]):
    T(q11, q12, q22)    = E[phi(u) phi(v)]
    Tdot(q11, q12, q22) = E[phi'(u) phi'(v)]

Writes tests/ref/mp/duals.tsv (header `act q11 q12 q22 T Tdot`, tab separated,
floats printed with repr(), i.e. 17 significant digits / shortest round trip).

Method (independent of any closed form):
  (u, v) = (sqrt(q11) g1, sqrt(q22) (rho g1 + sqrt(1 - rho^2) g2)); in polar
  coordinates (g1, g2) = r (cos a, sin a) this is
      u = r sqrt(q11) cos(a),   v = r sqrt(q22) cos(a - theta),
      theta = atan2(sqrt(q11 q22 - q12^2), q12)   (q11 q22 - q12^2 is exact in
                                                    mpmath for double inputs),
  E[f] = 1/(2 pi) int_0^{2 pi} da int_0^inf r exp(-r^2/2) f(u, v) dr.
  Along each ray u, v are linear in r, so the kinks of phi (u = 0 or v = 0)
  only appear in the angle: the a-range is split at the four angles where
  u = 0 or v = 0 (pi/2, 3pi/2, theta + pi/2, theta + 3pi/2).  The rays a and
  a + pi, i.e. (u, v) and (-u, -v), are evaluated together (phi(-z) comes
  almost free with phi(z)), so a runs over [pi/2, 3pi/2] split at theta + pi/2.
  Both integrals are composite Gauss-Legendre rules (nodes computed here by
  Newton's method in mpmath at the working precision) on panels
    - in a: graded geometrically towards the split angles (near u = 0 the
      factor phi(r sqrt(q11) cos a) varies fastest; F(a) is not analytic
      there for tanh-like phi) -- uniform, frequency-scaled panels for sin/cos;
    - in r: graded geometrically towards r = 0 (the complex singularities of
      tanh/sigmoid/softplus/silu lie on Re(r) = 0; erf-like functions grow
      off the real axis), then panels on [2, R] for the Gaussian tail
      (R = 12 or 13: exp(-R^2/2) R^3 < 1e-28); frequency-scaled for sin/cos.
  T and Tdot are accumulated from the same nodes.  (mpmath.quad, i.e. nested
  tanh-sinh, needed ~2e6 evaluations and ~25 s per integral at 40 digits,
  which does not fit the time budget; the composite rule needs ~1e5.)
  Degenerate points (q11 q22 == q12^2 exactly, rho = +-1): 1-D Gauss-Legendre
  integral over g1 split at 0, cross-checked with mpmath.quad (tanh-sinh) on
  [-26, 26] split at 0 and at a geometric set of points.

Verification, asserted inside the script (exit status 1 and a list of the
offending points otherwise):
  * every point is computed twice: pass 1 at mp.dps = 30 with 16 nodes per
    panel, pass 2 at mp.dps = 40 with 20 nodes per panel, a finer grading and
    a longer r-range; they must agree to 1e-20 relative, where "relative"
    means relative to max(|value|, 1e-10 * E|integrand|), so that values that
    vanish by symmetry (T of an odd phi at rho = 0, ReLU at rho = -1) are
    judged against the size of the integrand.  Pass 2 is what is written;
  * rho = +-1: the 1-D rule agrees with mpmath.quad to 1e-20;
  * activations with closed forms in docs/math.md (ABReLU family, Erf family,
    Sin/Cos, identity): pass 2 agrees with the closed form, evaluated in
    mpmath, to 1e-25 (same "relative");
  * GELU is compared with the neural-tangents closed form (arXiv:2002.08517)
    and the agreement is REPORTED (T and Tdot separately), not assumed.
  Values below 1e-32 * E|integrand| are exact zeros and are written as 0.0.

Points: q12 is computed in mpmath from rho, rounded to a double, and that
double is used for the reference (the C code reads the double).  Exact
rho = +-1 is only used where q11*q22 is the exact square of a double
(q11 = q22, or (0.25, 4), (4, 1)), so that the doubles really are degenerate.
sin/cos: points whose value is below 1e-6 of the integrand scale are dropped
(e.g. exp(-b^2 (q11 + q22 - 2 q12) / 2) tiny: the quadrature of an O(1)
oscillating integrand cannot give such values to 1e-25 relative).

Conditioning note for the C tests: near rho = +-1 the inputs themselves are
ill-conditioned for kinked activations (d theta / d q12 -> infinity): at
rho = 1 - 1e-10 a one-ulp change of q12, or computing q11*q22 - q12^2 in
plain double arithmetic, moves ReLU's Tdot by ~1e-12 relative.  These
references are exact for the given doubles.

Usage: python3 tools/mp_reference/make_duals.py [--jobs N] [--acts 'a;b']
(needs only mpmath; gmpy2, if installed, makes mpmath ~2x faster; with
--acts only that subset is computed and nothing is written).
"""
import math
import multiprocessing
import os
import sys
import time

import mpmath
from mpmath import mp, mpf

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'tests', 'ref', 'mp')

SIGMOID_LIKE_B = 1 / 2.4020563531719796      # a Python float, as in the C code
R_MAX = 13          # the 1-D mpmath.quad cross-check integrates over [-2 R, 2 R]
DPS = 30            # pass 1 (fewer nodes, lower precision)
DPS_CHECK = 40      # pass 2: the values written
TOL_VERIFY = mpf('1e-20')
TOL_CLOSED = mpf('1e-25')

# --------------------------------------------------------------------------
# Activations.  phi2(z) returns (phi(z), phi'(z), phi(-z), phi'(-z)): the
# integrand is evaluated at the rays a and a + pi together ((u, v) -> (-u, -v))
# and every activation below gets phi(-z) almost for free from phi(z).
# Parameters are Python floats; mpf(float) is their exact value.
# --------------------------------------------------------------------------


_CONST = {}


def const(key, fn):
  """fn() cached per working precision."""
  k = (key, mp.prec)
  if k not in _CONST:
    _CONST[k] = fn()
  return _CONST[k]


def mk_abrelu(a, b):
  def f(z):
    a_, b_ = mpf(a), mpf(b)
    if z > 0:
      return b_ * z, b_, -a_ * z, a_
    if z < 0:
      return a_ * z, a_, -b_ * z, b_
    h = (a_ + b_) / 2
    return z * 0, h, z * 0, h
  return f


def mk_erf(a, b, c):
  key = ('erf', a, b, c)

  def f(z):
    a_, b_, c_, k = const(key, lambda: (mpf(a), mpf(b), mpf(c),
                                        mpf(a) * mpf(b) * 2 / mpmath.sqrt(mp.pi)))
    bz = b_ * z
    e = a_ * mpmath.erf(bz)
    d = k * mpmath.exp(-bz * bz)
    return e + c_, d, c_ - e, d
  return f


def mk_sin(a, b, c, cos=False):
  key = ('sin', a, b, c, cos)

  def consts():
    c_ = mpf(c) + (mp.pi / 2 if cos else 0)   # a cos(x + c) = a sin(x + c + pi/2)
    return mpf(a), mpf(b), mpmath.sin(c_), mpmath.cos(c_)

  def f(z):
    a_, b_, sc, cc = const(key, consts)
    sb, cb = mpmath.sin(b_ * z), mpmath.cos(b_ * z)
    return (a_ * (sb * cc + cb * sc), a_ * b_ * (cb * cc - sb * sc),
            a_ * (cb * sc - sb * cc), a_ * b_ * (cb * cc + sb * sc))
  return f


def f_identity(z):
  one = mpf(1)
  return z, one, -z, one


def f_gelu(z):
  # phi = z Phi(z), phi' = Phi(z) + z N(z); Phi(-|z|) by erfc (no cancellation)
  x = abs(z)
  r2, rpi = const('gelu', lambda: (1 / mpmath.sqrt(2), 1 / mpmath.sqrt(2 * mp.pi)))
  p = mpmath.erfc(x * r2) / 2                        # Phi(-x)
  n = mpmath.exp(-x * x / 2) * rpi
  P = 1 - p
  fp, dp, fm, dm = x * P, P + x * n, -x * p, p - x * n   # at +x, -x
  return (fp, dp, fm, dm) if z >= 0 else (fm, dm, fp, dp)


def f_tanh(z):
  x = abs(z)
  e = mpmath.exp(-2 * x)
  t = (1 - e) / (1 + e)
  d = 4 * e / (1 + e) ** 2                         # sech^2
  return (t, d, -t, d) if z >= 0 else (-t, d, t, d)


def f_sigmoid(z):
  x = abs(z)
  e = mpmath.exp(-x)
  sp, sm, d = 1 / (1 + e), e / (1 + e), e / (1 + e) ** 2   # s(x), s(-x), s'
  return (sp, d, sm, d) if z >= 0 else (sm, d, sp, d)


def f_softplus(z):
  x = abs(z)
  e = mpmath.exp(-x)
  l = mpmath.log1p(e)
  sp, sm = 1 / (1 + e), e / (1 + e)
  return (x + l, sp, l, sm) if z >= 0 else (l, sm, x + l, sp)


def f_silu(z):
  x = abs(z)
  e = mpmath.exp(-x)
  sp, sm, d = 1 / (1 + e), e / (1 + e), e / (1 + e) ** 2
  fp, dp, fm, dm = x * sp, sp + x * d, -x * sm, sm - x * d
  return (fp, dp, fm, dm) if z >= 0 else (fm, dm, fp, dp)


def mk_elu(alpha):
  def f(z):
    al = mpf(alpha)
    x = abs(z)
    em = mpmath.expm1(x)                 # e^x - 1
    ex = em + 1
    fp, dp, fm, dm = x, mpf(1), -al * em / ex, al / ex     # at +x, -x
    if x == 0:
      dm = (1 + al) / 2
      dp = dm
    return (fp, dp, fm, dm) if z >= 0 else (fm, dm, fp, dp)
  return f


# --------------------------------------------------------------------------
# Closed forms of docs/math.md (evaluated in mpmath; theta = atan2 as there).
# --------------------------------------------------------------------------

def cf_abrelu(a, b):
  def cf(q11, q12, q22):
    a_, b_ = mpf(a), mpf(b)
    det = q11 * q22 - q12 * q12
    s = mpmath.sqrt(max(det, 0))
    th = mpmath.atan2(s, q12)
    td = (a_ * a_ + b_ * b_) / 2 - (a_ - b_) ** 2 * th / (2 * mp.pi)
    return (a_ - b_) ** 2 / (2 * mp.pi) * s + td * q12, td
  return cf


def cf_erf(a, b, c):
  def cf(q11, q12, q22):
    a_, b_, c_ = mpf(a), mpf(b), mpf(c)
    p11, p12, p22 = b_ * b_ * q11, b_ * b_ * q12, b_ * b_ * q22
    den = (1 + 2 * p11) * (1 + 2 * p22)
    T = a_ * a_ * 2 / mp.pi * mpmath.asin(2 * p12 / mpmath.sqrt(den)) + c_ * c_
    td = a_ * a_ * b_ * b_ * 4 / mp.pi / mpmath.sqrt(den - 4 * p12 * p12)
    return T, td
  return cf


def cf_sin(a, b, c, cos=False):
  def cf(q11, q12, q22):
    a_, b_, c_ = mpf(a), mpf(b), mpf(c)
    if cos:
      c_ = c_ + mp.pi / 2
    em = mpmath.exp(-b_ * b_ * (q11 + q22 - 2 * q12) / 2)
    ep = mpmath.exp(-b_ * b_ * (q11 + q22 + 2 * q12) / 2)
    c2 = mpmath.cos(2 * c_)
    return a_ * a_ / 2 * (em - ep * c2), a_ * a_ * b_ * b_ / 2 * (em + ep * c2)
  return cf


def cf_identity(q11, q12, q22):
  return q12, mpf(1)


def cf_gelu_nt(q11, q12, q22):
  """neural-tangents' Gelu kernel (arXiv:2002.08517) -- under test."""
  P = q11 * q22
  P1 = (q11 + 1) * (q22 + 1)
  D2 = P1 - q12 * q12
  D = mpmath.sqrt(D2)
  A = mpmath.atan2(q12, D)
  T = q12 / 4 + ((q12 * q12 + P * D2) / (P1 * D) + q12 * A) / (2 * mp.pi)
  td = mpf(1) / 4 + A / (2 * mp.pi) + q12 / (2 * mp.pi * D) * (1 / D2 + (1 - P) / P1 + 1)
  return T, td


# spec -> (phi, closed form or None, 'b' scale of the argument, kind)
# kind: 'smooth' (complex singularities only at Re z = 0 or entire with at most
# Gaussian growth), 'osc' (sin/cos: entire, oscillating -> uniform r panels).
ACTS = {
    'relu': (mk_abrelu(0.0, 1.0), cf_abrelu(0.0, 1.0), 1.0, 'kink'),
    'leaky_relu(0.1)': (mk_abrelu(0.1, 1.0), cf_abrelu(0.1, 1.0), 1.0, 'kink'),
    'abs': (mk_abrelu(-1.0, 1.0), cf_abrelu(-1.0, 1.0), 1.0, 'kink'),
    'abrelu(-0.5,2)': (mk_abrelu(-0.5, 2.0), cf_abrelu(-0.5, 2.0), 1.0, 'kink'),
    'erf': (mk_erf(1.0, 1.0, 0.0), cf_erf(1.0, 1.0, 0.0), 1.0, 'entire'),
    'erf(0.7,1.3,0.2)': (mk_erf(0.7, 1.3, 0.2), cf_erf(0.7, 1.3, 0.2), 1.3, 'entire'),
    'sigmoid_like': (mk_erf(0.5, SIGMOID_LIKE_B, 0.5), cf_erf(0.5, SIGMOID_LIKE_B, 0.5),
                     SIGMOID_LIKE_B, 'entire'),
    'sin(1.5,0.8,0.3)': (mk_sin(1.5, 0.8, 0.3), cf_sin(1.5, 0.8, 0.3), 0.8, 'osc'),
    'cos(1,2,0)': (mk_sin(1.0, 2.0, 0.0, cos=True), cf_sin(1.0, 2.0, 0.0, cos=True), 2.0, 'osc'),
    'identity': (f_identity, cf_identity, 1.0, 'kink'),
    'gelu': (f_gelu, None, 1.0, 'entire'),
    'tanh': (f_tanh, None, 1.0, 'smooth'),
    'sigmoid': (f_sigmoid, None, 1.0, 'smooth'),
    'softplus': (f_softplus, None, 1.0, 'smooth'),
    'silu': (f_silu, None, 1.0, 'smooth'),
    'elu(1)': (mk_elu(1.0), None, 1.0, 'entire'),
    'elu(0.5)': (mk_elu(0.5), None, 1.0, 'entire'),
}

# --------------------------------------------------------------------------
# Composite Gauss-Legendre machinery.
# --------------------------------------------------------------------------

_GL = {}


def gl_nodes(n):
  """Gauss-Legendre nodes/weights on [-1, 1] at the current precision."""
  key = (n, mp.prec)
  if key in _GL:
    return _GL[key]
  with mp.workprec(mp.prec + 30):
    eps = mpf(2) ** (-(mp.prec - 10))
    xs, ws = [], []
    for i in range(1, n // 2 + 1):
      x = mpmath.cos(mp.pi * (i - mpf(1) / 4) / (n + mpf(1) / 2))
      for _ in range(100):
        p0, p1 = mpf(1), x
        for k in range(2, n + 1):
          p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
        dp = n * (x * p1 - p0) / (x * x - 1)
        dx = p1 / dp
        x -= dx
        if abs(dx) < eps:
          break
      p0, p1 = mpf(1), x
      for k in range(2, n + 1):
        p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
      dp = n * (x * p1 - p0) / (x * x - 1)
      w = 2 / ((1 - x * x) * dp * dp)
      xs += [x, -x]
      ws += [w, w]
    if n % 2:
      x = mpf(0)
      p0, p1 = mpf(1), x
      for k in range(2, n + 1):
        p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
      dp = n * (x * p1 - p0) / (x * x - 1)
      xs.append(x)
      ws.append(2 / dp ** 2)
  res = [(+x, +w) for x, w in zip(xs, ws)]
  _GL[key] = res
  return res


def panel_nodes(edges, n):
  out = []
  g = gl_nodes(n)
  for a, b in zip(edges[:-1], edges[1:]):
    m, h = (a + b) / 2, (b - a) / 2
    out += [(m + h * x, h * w) for x, w in g]
  return out


# Quadrature settings.  S = (argument scale b) * max(|A|, |B|) on a ray.
#   n      Gauss nodes per panel
#   R      r-range [0, R] (exp(-R^2/2) R^3 is the truncation error)
#   r_c    first r panel [0, r_c / S] for kind 'smooth', then geometric (r_ratio)
#   r_tail panel edges from r = 2 on (Gaussian tail)
#   a_c    angular grading towards the split angles down to a_c / S_end
#   osc_h  'osc' (sin/cos), r: panel length * frequency / 2, panel length <= osc_g / r
#   osc_a  'osc', angle: panel length * b (sqrt(q11) + sqrt(q22))
CFG1 = dict(n=16, R=12, r_c=0.5, r_ce=1.0, r_ratio=1.7, r_tail=(2, 3, 4.5, 6.5, 9),
            a_c=0.02, a_ce=0.03, a_ratio=2, a_L=0.5, osc_h=1.5, osc_a=1.2, osc_g=5)
CFG2 = dict(n=20, R=13, r_c=0.4, r_ce=0.7, r_ratio=1.6, r_tail=(2, 3, 4.5, 6, 8, 10.5),
            a_c=0.015, a_ce=0.03, a_ratio=2, a_L=0.4, osc_h=2.5, osc_a=1.5, osc_g=6)


def r_edges(S, kind, cfg):
  R = mpf(cfg['R'])
  if kind == 'osc':
    # panel length: <= 2 osc_h / frequency, and <= osc_g / r for the Gaussian
    e, x = [mpf(0)], mpf(0)
    while x < R:
      x = min(R, x + min(mpf(2), 2 * mpf(cfg['osc_h']) / S, mpf(cfg['osc_g']) / max(x, 1)))
      e.append(x)
    return e
  e = [mpf(0)]
  if kind in ('smooth', 'entire'):
    x = min(mpf(1), mpf(cfg['r_c' if kind == 'smooth' else 'r_ce']) / S)
    while x < 2:
      e.append(x)
      x *= cfg['r_ratio']
  e += [mpf(x) for x in cfg['r_tail']] + [R]
  return e


def r_grid(S, kind, cfg, weight):
  """(r, weight) nodes; S is rounded up to a power of 2 so grids are shared."""
  k = max(-3, int(math.ceil(math.log2(max(float(S), 1e-3)))))
  key = ('r', k, kind, weight, mp.prec, tuple(sorted(cfg.items())))
  if key in _GL:
    return _GL[key]
  nodes = panel_nodes(r_edges(mpf(2) ** k, kind, cfg), cfg['n'])
  if weight == 'polar':        # r exp(-r^2/2) / (2 pi)
    res = [(r, w * r * mpmath.exp(-r * r / 2) / (2 * mp.pi)) for r, w in nodes]
  else:                        # standard normal density
    res = [(r, w * mpmath.exp(-r * r / 2) / mpmath.sqrt(2 * mp.pi)) for r, w in nodes]
  _GL[key] = res
  return res


def a_edges(lo, hi, s_lo, s_hi, kind, cfg):
  """Panel edges of the angular interval [lo, hi]; s_lo / s_hi = scale of the
  factor that vanishes at that end (phi(r A) with A ~ s (a - lo))."""
  w = hi - lo
  if w < mpf('1e-3'):
    return [lo, hi]
  if kind == 'osc':
    # F(a) varies on the scale 1/(b (sqrt(q11) + sqrt(q22))) (s = b sqrt(q))
    m = int(mpmath.ceil(w * (s_lo + s_hi) / mpf(cfg['osc_a'])))
    m = max(m, int(mpmath.ceil(w / mpf(cfg['a_L']))))
    return [lo + w * j / m for j in range(m + 1)]
  if kind == 'kink':
    m = int(mpmath.ceil(w / mpf(cfg['a_L'])))
    return [lo + w * j / m for j in range(m + 1)]
  # graded towards both ends (geometric, ratio a_ratio) from a_c / s, then
  # panels of at most a_L in the middle
  ratio, L = mpf(cfg['a_ratio']), mpf(cfg['a_L'])
  ed = [lo, (lo + hi) / 2, hi]
  for end, s, sgn in ((lo, s_lo, 1), (hi, s_hi, -1)):
    d = min(mpf(cfg['a_c' if kind == 'smooth' else 'a_ce']) / s, L / 2)
    while d < w / 2 * mpf('0.8'):
      ed.append(end + sgn * d)
      d = d * ratio if d * (ratio - 1) < L else d + L
  ed = sorted(ed)
  return ed


def expect(act, q11, q12, q22, cfg=CFG1, want_abs=True):
  """(T, Tdot, E|phi phi|, E|phi' phi'|) by composite Gauss-Legendre
  (the last two are None unless want_abs)."""
  phi2, _, bfac, kind = ACTS[act]
  q11, q12, q22 = mpf(q11), mpf(q12), mpf(q22)
  bf = mpf(bfac)
  det = q11 * q22 - q12 * q12          # exact: products of doubles
  if det < 0:
    raise ValueError('covariance not PSD')
  a, b = mpmath.sqrt(q11), mpmath.sqrt(q22)
  T = Td = aT = aTd = mpf(0)
  if det == 0:
    # rho = +-1: v = sgn (b/a) u; 1-D integral over g1 in (0, inf), with the
    # (-inf, 0) half from phi(-z).
    # (cheap: twice the nodes per panel and a finer grading than in 2-D)
    sg = 1 if q12 > 0 else -1
    cfg = dict(cfg, n=2 * cfg['n'], r_c=cfg['r_c'] / 2, r_ce=cfg['r_ce'] / 2,
               osc_h=cfg['osc_h'] / 2)
    for g, w in r_grid(bf * (a + b if kind == 'osc' else max(a, b)), kind, cfg, 'normal'):
      fu, du, fu_, du_ = phi2(a * g)
      fv, dv, fv_, dv_ = phi2(sg * b * g)
      p1, p2, d1, d2 = fu * fv, fu_ * fv_, du * dv, du_ * dv_
      T += w * (p1 + p2)
      Td += w * (d1 + d2)
      aT += w * (abs(p1) + abs(p2))
      aTd += w * (abs(d1) + abs(d2))
    return T, Td, aT, aTd
  # u = r a cos(al), v = r b cos(al - th); u = 0 at al = pi/2, v = 0 at
  # al = th + pi/2.  Rays al and al + pi are done together, so al runs over
  # [pi/2, 3 pi/2) = [pi/2, th + pi/2] + [th + pi/2, 3 pi/2].
  th = mpmath.atan2(mpmath.sqrt(det), q12)
  cth, sth = mpmath.cos(th), mpmath.sin(th)
  su, sv = a * bf, b * bf
  p0, p1, p2 = mp.pi / 2, th + mp.pi / 2, 3 * mp.pi / 2
  edges = [a_edges(p0, p1, su, sv, kind, cfg), a_edges(p1, p2, sv, su, kind, cfg)]
  for ed in edges:
    for al, wa in panel_nodes(ed, cfg['n']):
      ca, sa = mpmath.cos(al), mpmath.sin(al)
      A = a * ca
      B = b * (ca * cth + sa * sth)
      sT = sTd = saT = saTd = mpf(0)
      S = bf * (abs(A) + abs(B)) if kind == 'osc' else bf * max(abs(A), abs(B))
      rg = r_grid(S, kind, cfg, 'polar')
      if want_abs:
        for r, w in rg:
          fu, du, fu_, du_ = phi2(r * A)
          fv, dv, fv_, dv_ = phi2(r * B)
          p1, p2, d1, d2 = fu * fv, fu_ * fv_, du * dv, du_ * dv_
          sT += w * (p1 + p2)
          sTd += w * (d1 + d2)
          saT += w * (abs(p1) + abs(p2))
          saTd += w * (abs(d1) + abs(d2))
        aT += wa * saT
        aTd += wa * saTd
      else:
        for r, w in rg:
          fu, du, fu_, du_ = phi2(r * A)
          fv, dv, fv_, dv_ = phi2(r * B)
          sT += w * (fu * fv + fu_ * fv_)
          sTd += w * (du * dv + du_ * dv_)
      T += wa * sT
      Td += wa * sTd
  return (T, Td, aT, aTd) if want_abs else (T, Td, None, None)


def expect_quad1d(act, q11, q12, q22):
  """Degenerate case with mpmath.quad (tanh-sinh) -- a cross-check."""
  phi = ACTS[act][0]
  q11, q12, q22 = mpf(q11), mpf(q12), mpf(q22)
  a, b = mpmath.sqrt(q11), mpmath.sqrt(q22)
  sg = 1 if q12 > 0 else -1
  c = 1 / mpmath.sqrt(2 * mp.pi)
  S = max(a, b) * mpf(ACTS[act][2]) * (2 if ACTS[act][3] == 'osc' else 1)
  half = [mpf(2) ** k / S for k in range(-2, 8) if mpf(2) ** k / S < 2]
  half += list(range(2, 2 * R_MAX + 1, 2))
  pts = [-x for x in reversed(half)] + [mpf(0)] + half
  T = mpmath.quad(lambda g: c * mpmath.exp(-g * g / 2) * phi(a * g)[0] * phi(sg * b * g)[0], pts)
  Td = mpmath.quad(lambda g: c * mpmath.exp(-g * g / 2) * phi(a * g)[1] * phi(sg * b * g)[1], pts)
  return T, Td


# --------------------------------------------------------------------------
# Points.
# --------------------------------------------------------------------------

RHO_1M = '1-1e-10'
BASE_POINTS = [
    # exact rho = +-1 (q11 q22 is the square of a double), incl. diagonals
    (1.0, 1.0, 1), (1e-3, 1e-3, 1), (10.0, 10.0, 1), (50.0, 50.0, 1),
    (3.0, 3.0, -1), (0.1, 0.1, -1), (0.25, 4.0, 1), (4.0, 1.0, -1),
    # generic
    (1.0, 1.0, 0.7), (1.0, 1.0, -0.5), (1.0, 1.0, 0.999999), (1.0, 1.0, RHO_1M),
    (0.1, 1.0, 0.3), (1.0, 3.0, 0.99), (3.0, 10.0, -0.9), (10.0, 50.0, 0.7),
    (1e-3, 50.0, 0.3), (0.1, 10.0, 0.999999), (1.0, 50.0, -0.999999), (3.0, 0.1, 0),
    (50.0, 1.0, 0.99), (10.0, 1e-3, -0.9), (1e-3, 0.1, RHO_1M), (50.0, 50.0, 0.999999),
    (10.0, 10.0, -0.999999),
]


def make_q12(q11, q22, rho):
  with mp.workdps(60):
    r = mpf(1) - mpf('1e-10') if rho == RHO_1M else mpf(rho)
    return float(r * mpmath.sqrt(mpf(q11) * mpf(q22)))


def points_for(act):
  """The point list; sin/cos drop points whose value is exponentially small
  compared with the integrand (the quadrature cannot resolve those)."""
  pts = []
  dropped = []
  _, cf, _, kind = ACTS[act]
  for q11, q22, rho in BASE_POINTS:
    q12 = make_q12(q11, q22, rho)
    if kind == 'osc':
      with mp.workdps(DPS):
        T, Td = cf(mpf(q11), mpf(q12), mpf(q22))
        a2 = mpf(1.5) ** 2 if act.startswith('sin') else mpf(1)
        b2 = mpf(ACTS[act][2]) ** 2
        if (T != 0 and abs(T) < 1e-6 * a2) or (Td != 0 and abs(Td) < 1e-6 * a2 * b2):
          dropped.append((q11, q12, q22))
          continue
    pts.append((q11, q12, q22))
  return pts, dropped


# --------------------------------------------------------------------------
# Work.
# --------------------------------------------------------------------------

def rel(x, ref, floor):
  return abs(x - ref) / max(abs(ref), floor)


def work(task):
  """Both passes, the cross-checks, and the values for one point."""
  act, q11, q12, q22 = task
  t0 = time.time()
  _, cf, _, kind = ACTS[act]
  out = {'act': act, 'q': (q11, q12, q22)}
  mp.dps = DPS
  T1, Td1, aT, aTd = expect(act, q11, q12, q22, CFG1)
  mp.dps = DPS_CHECK
  T2, Td2, _, _ = expect(act, q11, q12, q22, CFG2, want_abs=False)
  # relative, but values that vanish by symmetry (T of an odd phi at rho = 0,
  # Tdot of cos at rho = 0, relu at rho = -1) are judged against E|integrand|
  fT, fTd = aT * mpf('1e-10'), aTd * mpf('1e-10')
  tiny = mpf('1e-300')
  out['verify'] = (rel(T1, T2, max(fT, tiny)), rel(Td1, Td2, max(fTd, tiny)))
  if q11 * q22 == q12 * q12:
    Tq, Tdq = expect_quad1d(act, q11, q12, q22)
    out['quad1d'] = (rel(Tq, T2, max(fT, tiny)), rel(Tdq, Td2, max(fTd, tiny)))
  if cf is not None:
    C, Cd = cf(mpf(q11), mpf(q12), mpf(q22))
    out['closed'] = (rel(T2, C, max(fT, tiny)), rel(Td2, Cd, max(fTd, tiny)))
  if act == 'gelu':
    C, Cd = cf_gelu_nt(mpf(q11), mpf(q12), mpf(q22))
    out['gelu_nt'] = (rel(C, T2, tiny), rel(Cd, Td2, tiny), C, Cd)
  out['T'], out['Td'] = T2, Td2
  out['abs'] = (aT, aTd)
  out['time'] = time.time() - t0
  return out


def fmt(x, scale):
  """repr of the double; |x| < 1e-32 E|integrand| is an exact zero -> 0.0."""
  if abs(x) < scale * mpf('1e-32'):
    return repr(0.0)
  return repr(float(x))


def main():
  import argparse
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
  ap.add_argument('--acts', help='semicolon-separated subset (no file is written)')
  args = ap.parse_args()
  acts = list(ACTS) if not args.acts else args.acts.split(';')
  for a in acts:
    if a not in ACTS:
      sys.exit(f'unknown activation {a!r}')
  tasks, dropped_all = [], []
  for act in acts:
    pts, dropped = points_for(act)
    dropped_all += [(act,) + d for d in dropped]
    tasks += [(act,) + p for p in pts]
  t0, c0 = time.time(), time.process_time()
  # expensive points first (large q, then oscillatory) for load balance
  cost = lambda t: (max(t[1], t[3]) * (4 if ACTS[t[0]][3] == 'osc' else 1))  # noqa: E731
  order = sorted(range(len(tasks)), key=lambda i: -cost(tasks[i]))
  with multiprocessing.Pool(args.jobs) as pool:
    res = pool.map(work, [tasks[i] for i in order], chunksize=1)
  res = [r for _, r in sorted(zip(order, res), key=lambda p: p[0])]
  wall = time.time() - t0

  lines = ['act\tq11\tq12\tq22\tT\tTdot']
  fails = []
  for r in res:
    q11, q12, q22 = r['q']
    lines.append('\t'.join([r['act'], repr(q11), repr(q12), repr(q22),
                            fmt(r['T'], r['abs'][0]), fmt(r['Td'], r['abs'][1])]))
    tag = f"{r['act']} ({q11!r}, {q12!r}, {q22!r})"
    for key, tol in (('verify', TOL_VERIFY), ('quad1d', TOL_VERIFY), ('closed', TOL_CLOSED)):
      if key in r and max(r[key]) > tol:
        fails.append(f'{tag}: {key} T {float(r[key][0]):.1e} Tdot {float(r[key][1]):.1e}')
  if not args.acts:
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'duals.tsv'), 'w') as f:
      f.write('\n'.join(lines) + '\n')

  def mx(rs, key, i):
    v = [r[key][i] for r in rs if key in r]
    return f'{float(max(v)):.0e}' if v else '    -'
  print(f'{len(res)} points, wall {wall:.0f} s on {args.jobs} processes, '
        f'CPU {sum(r["time"] for r in res):.0f} s; slowest point {max(r["time"] for r in res):.0f} s')
  print('max relative differences per activation (T / Tdot):')
  print(f'  {"act":18s} {"n":>2s}  {"pass1-vs-pass2":>14s}  {"1-D mp.quad":>13s}  '
        f'{"closed form":>13s}  {"max E|.|/|T|":>12s}  {"CPU s":>5s}')
  for act in acts:
    rs = [r for r in res if r['act'] == act]
    canc = max(float(r['abs'][0] / abs(r['T'])) if abs(r['T']) > r['abs'][0] * mpf('1e-32') else 0
               for r in rs)
    print(f'  {act:18s} {len(rs):2d}  {mx(rs, "verify", 0)}/{mx(rs, "verify", 1)}  '
          f'{mx(rs, "quad1d", 0)}/{mx(rs, "quad1d", 1)}  {mx(rs, "closed", 0)}/{mx(rs, "closed", 1)}'
          f'  {canc:12.1e}  {sum(r["time"] for r in rs):5.0f}')
  allr = lambda key: max((max(r[key]) for r in res if key in r), default=0)  # noqa: E731
  print(f'overall: pass1 vs pass2 {float(allr("verify")):.1e}, 1-D mpmath.quad vs GL '
        f'{float(allr("quad1d")):.1e}, closed forms (docs/math.md) vs quadrature '
        f'{float(allr("closed")):.1e}')
  g = [r for r in res if r['act'] == 'gelu']
  if g:
    print('GELU: neural-tangents closed form vs quadrature (relative error T, Tdot):')
    for r in g:
      q11, q12, q22 = r['q']
      print(f'  ({q11!r}, {q12!r}, {q22!r})  T {float(r["gelu_nt"][0]):.1e}'
            f'  Tdot {float(r["gelu_nt"][1]):.1e}')
    print(f'  max: T {float(max(r["gelu_nt"][0] for r in g)):.2e}, '
          f'Tdot {float(max(r["gelu_nt"][1] for r in g)):.2e}')
  for d in dropped_all:
    print(f'dropped (|value| < 1e-6 of the integrand scale, closed form): {d}')
  if fails:
    print('FAILURES:')
    for f_ in fails:
      print('  ' + f_)
    sys.exit(1)
  print('all checks passed' + ('' if args.acts else f'; wrote {os.path.join(OUT, "duals.tsv")}'))


if __name__ == '__main__':
  main()
