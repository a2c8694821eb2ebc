#!/usr/bin/env python3
"""The Python side of bench/run: ntk against neural-tangents and PyTorch.

Run through bench/run (which builds ntk in Release and the pinned venv).
Two roles in one file:

  peers.py --ntk-case BIN --ntk-cli BIN [--quick] ...   the driver
  peers.py --worker SIDE CASE --in DIR --out DIR ...     one peer process

The driver writes identical inputs for every side (.npy in a work folder:
Fashion-MNIST rows for d = 784 when Debian's dataset-fashion-mnist is
installed, seeded random data otherwise), then per case runs the sides
ALTERNATELY, each in its own process (ntk, peer, ntk, peer, ...): every
process does one warm-up (for jax: the jit compile, reported separately)
and `--reps` timed runs; the time of a side is the median over all rounds.
Outputs are compared after the first round (max |a - b| / max |b| <= 1e-10,
float64 everywhere); a side that disagrees is reported as such and not
timed. Peak memory is each process's ru_maxrss (os.wait4).

Results: one table on stdout, bench/results.csv, and (with --md FILE) the
markdown table for docs/performance.md.
"""
import argparse
import csv
import gzip
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOL = 1e-10
THREADS = 2

RELU3 = ('dense(512,w_std=1.5,b_std=0.05),relu,' * 3 + 'dense({k},w_std=1.5,b_std=0.05)')
ERF5 = ('dense(512,w_std=1.5,b_std=0.05),erf,' * 5 + 'dense(1,w_std=1.5,b_std=0.05)')
MLP2 = 'dense({w},w_std=1.4,b_std=0.1),relu,dense({w},w_std=1.4,b_std=0.1),relu,dense(1,w_std=1.4,b_std=0.1)'


def thread_env():
  env = dict(os.environ)
  env.update(OMP_NUM_THREADS=str(THREADS), OPENBLAS_NUM_THREADS=str(THREADS),
             MKL_NUM_THREADS=str(THREADS), JAX_PLATFORMS='cpu', JAX_ENABLE_X64='1',
             # long-spinning OpenMP threads are ruinous on a loaded machine, sleeping at
             # once is ruinous for LAPACK: a short spin (see docs/performance.md)
             GOMP_SPINCOUNT=os.environ.get('GOMP_SPINCOUNT', '10000'),
             XLA_FLAGS='--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=%d' % THREADS)
  return env


# ---------------------------------------------------------------- spec parsing

def parse_spec(spec):
  """Our spec syntax, the subset the benchmark uses: dense(w, w_std=, b_std=), relu, erf."""
  layers, i = [], 0
  s = spec.replace(' ', '')
  while i < len(s):
    j = i
    while j < len(s) and s[j] not in '(,':
      j += 1
    name, args = s[i:j], []
    if j < len(s) and s[j] == '(':
      k = s.index(')', j)
      args = s[j + 1:k].split(',')
      j = k + 1
    i = j + 1
    kw, pos = {}, []
    for a in args:
      if '=' in a:
        key, v = a.split('=')
        kw[key] = float(v)
      else:
        pos.append(float(a))
    if name == 'dense':
      layers.append(('dense', int(pos[0]), kw.get('w_std', 1.0), kw.get('b_std', None)))
    elif name in ('relu', 'erf'):
      layers.append((name,))
    else:
      raise ValueError('peers.py: unsupported layer %r' % name)
  return layers


def nt_stax(spec):
  from neural_tangents import stax
  out = []
  for L in parse_spec(spec):
    if L[0] == 'dense':
      out.append(stax.Dense(L[1], W_std=L[2], b_std=L[3], parameterization='ntk'))
    elif L[0] == 'relu':
      out.append(stax.Relu())
    else:
      out.append(stax.Erf())
  return stax.serial(*out)


def read_args(d):
  args = {}
  p = os.path.join(d, 'args.txt')
  if os.path.exists(p):
    for line in open(p):
      if '=' in line:
        k, v = line.split('=', 1)
        args[k.strip()] = v.strip()
  return args


def load_params(d):
  """dense<l>.W (n_out x n_in) and dense<l>.b of ntk_net_save, with the 'ntk' multipliers."""
  z = np.load(os.path.join(d, 'params.npz'))
  spec = open(os.path.join(d, 'spec.txt')).read().strip()
  layers, l = [], 0
  for L in parse_spec(spec):
    if L[0] == 'dense':
      W, b = z['dense%d.W' % l], z['dense%d.b' % l]
      layers.append(('dense', W, b, L[2] / np.sqrt(W.shape[1]), L[3]))
      l += 1
    else:
      layers.append((L[0],))
  return spec, layers


# ---------------------------------------------------------------- workers

def nt_import():
  import importlib.util
  import types
  if importlib.util.find_spec('tensorflow') is None:
    sys.modules['neural_tangents.experimental'] = types.ModuleType('neural_tangents.experimental')
  import jax
  jax.config.update('jax_enable_x64', True)
  import neural_tangents as nt
  return jax, nt


def timed(fn, reps, block):
  t0 = time.perf_counter()
  out = block(fn())
  first = time.perf_counter() - t0
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    out = block(fn())
    times.append(time.perf_counter() - t0)
  return out, first, times


def worker_nt(case, din, dout, reps, impl):
  jax, nt = nt_import()
  args = read_args(din)
  block = lambda o: jax.tree_util.tree_map(lambda a: np.asarray(a), o)
  if case == 'kernel':
    spec = open(os.path.join(din, 'spec.txt')).read().strip()
    _, _, kernel_fn = nt_stax(spec)
    x1 = np.load(os.path.join(din, 'x1.npy'))
    p2 = os.path.join(din, 'x2.npy')
    x2 = np.load(p2) if os.path.exists(p2) else None
    bs = int(args.get('nt_batch', 0))
    if bs:
      kf = nt.batch(kernel_fn, batch_size=bs, store_on_device=False)
    else:
      kf = jax.jit(kernel_fn, static_argnames='get')
    out, first, times = timed(lambda: kf(x1, x2, ('nngp', 'ntk')), reps, block)
    np.save(os.path.join(dout, 'nngp.npy'), out[0])
    np.save(os.path.join(dout, 'ntk.npy'), out[1])
  elif case == 'empirical':
    spec, layers = load_params(din)
    _, apply_fn, _ = nt_stax(spec)
    params = [(L[1].T.copy(), L[2].copy()) if L[0] == 'dense' else () for L in layers]
    x = np.load(os.path.join(din, 'x.npy'))
    full = int(args.get('full', 0))
    k = layers[-1][1].shape[0]
    efn = jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=() if full else (-1,), vmap_axes=0,
                                      implementation=impl))
    out, first, times = timed(lambda: efn(x, None, params), reps, block)
    if full:
      n = x.shape[0]
      out = np.asarray(out).transpose(0, 2, 1, 3).reshape(n * k, n * k)
    np.save(os.path.join(dout, 'ntk.npy'), out)
  elif case == 'predict':
    kxx = np.load(os.path.join(din, 'kxx.npy'))
    kxt = np.load(os.path.join(din, 'kxt.npy'))
    y = np.load(os.path.join(din, 'y.npy'))
    ts = np.array([float(t) for t in args['times'].split(',')])
    lr = float(args.get('lr', 1.0))

    def run():
      fn = nt.predict.gradient_descent_mse(kxx, y, learning_rate=lr, diag_reg=0.)
      return fn(ts, 0., 0., kxt)[1]
    out, first, times = timed(run, reps, block)
    np.save(os.path.join(dout, 'pred.npy'), np.asarray(out).reshape(-1, y.shape[1]))
  else:
    raise ValueError(case)
  return first, times, {'jax': jax.__version__, 'neural_tangents': nt.__version__ if hasattr(nt, '__version__') else ''}


def torch_mlp(layers, torch):
  """Parameters (leaf tensors) and the forward function of the MLP, ntk's layout."""
  params = []
  for L in layers:
    if L[0] == 'dense':
      params += [torch.tensor(L[1], dtype=torch.float64), torch.tensor(L[2], dtype=torch.float64)]
  acts = [L[0] for L in layers]

  def forward(ps, x):
    h, i = x, 0
    for L in layers:
      if L[0] == 'dense':
        W, b = ps[i], ps[i + 1]
        h = L[3] * (h @ W.T) + L[4] * b
        i += 2
      elif L[0] == 'relu':
        h = torch.relu(h)
      else:
        h = torch.erf(h)
    return h
  del acts
  return params, forward


def worker_torch(case, din, dout, reps, impl):
  import torch
  torch.set_num_threads(THREADS)
  args = read_args(din)
  spec, layers = load_params(din)
  params, forward = torch_mlp(layers, torch)
  x = torch.from_numpy(np.load(os.path.join(din, 'x.npy')))
  block = lambda o: o
  if case == 'empirical':
    from torch.func import functional_call, jacrev, vmap  # noqa: F401
    full = int(args.get('full', 0))
    n = x.shape[0]
    k = layers[-1][1].shape[0]
    chunk = int(args.get('torch_chunk', 64))

    def f1(ps, xi):
      return forward(ps, xi[None])[0]

    jac = vmap(jacrev(f1), in_dims=(None, 0))

    def run():
      with torch.no_grad():
        Js = [[] for _ in params]
        for s in range(0, n, chunk):
          J = jac(params, x[s:s + chunk])  # per parameter: (c, k, *shape)
          for p, Jp in enumerate(J):
            Js[p].append(Jp.reshape(Jp.shape[0], k, -1))
        out = torch.zeros(n, n, k, k, dtype=torch.float64) if full else torch.zeros(n, n, dtype=torch.float64)
        for p in range(len(params)):
          Jp = torch.cat(Js[p])
          Js[p] = None
          if full:
            out += torch.einsum('iap,jbp->ijab', Jp, Jp)
          else:
            out += torch.einsum('iap,jap->ij', Jp, Jp) / k
        return out
    out, first, times = timed(run, reps, block)
    out = out.numpy()
    if full:
      out = out.transpose(0, 2, 1, 3).reshape(n * k, n * k)
    np.save(os.path.join(dout, 'ntk.npy'), out)
  elif case == 'train':
    y = torch.from_numpy(np.load(os.path.join(din, 'y.npy')))
    lr, steps = float(args['lr']), int(args['steps'])

    def train(nsteps):
      ps = [p.clone().requires_grad_(True) for p in params]
      opt = torch.optim.SGD(ps, lr=lr)
      for _ in range(nsteps):
        opt.zero_grad(set_to_none=True)
        loss = 0.5 * torch.mean((forward(ps, x) - y) ** 2)
        loss.backward()
        opt.step()
      return ps
    train(1)  # warm-up: one step
    t0 = time.perf_counter()
    ps = train(steps)
    first = time.perf_counter() - t0
    times = [first]
    for _ in range(reps - 1):
      t0 = time.perf_counter()
      ps = train(steps)
      times.append(time.perf_counter() - t0)
    with torch.no_grad():
      theta = torch.cat([p.detach().reshape(-1) for p in ps]).numpy()
      f = forward(ps, x).numpy()
    np.save(os.path.join(dout, 'theta.npy'), theta)
    np.save(os.path.join(dout, 'f.npy'), f)
  else:
    raise ValueError(case)
  return first, times, {'torch': torch.__version__}


def worker_main(a):
  side, case = a.worker
  os.makedirs(a.out, exist_ok=True)
  fn = worker_nt if side == 'nt' else worker_torch
  first, times, ver = fn(case, a.__dict__['in'], a.out, a.reps, a.impl)
  print(json.dumps({'side': side, 'case': case, 'first': first, 'times': times,
                    'versions': ver}))


# ---------------------------------------------------------------- driver

# Peak RSS: Linux carries the parent's RSS high-water mark into a forked
# child's ru_maxrss (and across execve), so a child forked by this driver
# (hundreds of MB once it has compared outputs) would report at least the
# driver's peak. Each side is therefore started by this small launcher (a
# bare `python -S`, ~10 MB), which forks, execs the command and writes the
# child's own ru_maxrss (KiB) to a file.
LAUNCH = r'''
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], 'w').write('%d\n' % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status) & 255 if os.WIFEXITED(status) else 1)
'''


class Proc:
  """One process of one side; time, output folder and peak memory."""

  def __init__(self, cmd, out, timeout):
    os.makedirs(out, exist_ok=True)
    self.out = out
    log = open(os.path.join(out, 'stdout.txt'), 'w')
    err = open(os.path.join(out, 'stderr.txt'), 'w')
    t0 = time.time()
    rssf = os.path.join(out, 'maxrss.txt')
    if os.path.exists(rssf):
      os.remove(rssf)
    p = subprocess.Popen([sys.executable, '-S', '-c', LAUNCH, rssf] + list(cmd), stdout=log, stderr=err,
                         env=thread_env(), start_new_session=True)
    status, ru = None, None
    while True:
      pid, status, ru = os.wait4(p.pid, os.WNOHANG)
      if pid:
        break
      if time.time() - t0 > timeout:
        os.killpg(p.pid, 9)
        pid, status, ru = os.wait4(p.pid, 0)
        status = 'timeout'
        break
      time.sleep(0.05)
    p.returncode = 0
    log.close()
    err.close()
    self.wall = time.time() - t0
    try:
      self.rss_mb = int(open(rssf).read()) / 1024.0
    except (OSError, ValueError):
      self.rss_mb = float('nan')
    self.ok = status == 0
    self.status = status
    self.json = None
    if self.ok:
      for line in open(os.path.join(out, 'stdout.txt')):
        if line.startswith('{'):
          self.json = json.loads(line)
      self.ok = self.json is not None
    if not self.ok:
      tail = open(os.path.join(out, 'stderr.txt')).read()[-600:]
      self.error = 'timeout' if status == 'timeout' else ('exit status %s: %s' % (status, tail.strip().splitlines()[-1] if tail.strip() else ''))
    else:
      self.error = None


def relerr(a, b):
  a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
  if a.shape != b.shape:
    return float('inf')
  den = np.max(np.abs(b))
  return float(np.max(np.abs(a - b)) / (den if den > 0 else 1.0))


def fashion_rows(n, offset=0):
  """n rows of Fashion-MNIST (train images), pixels/256 (dyadic: dot products are exact)."""
  p = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'
  if not os.path.exists(p) or n + offset > 60000:
    return None
  with gzip.open(p) as f:
    buf = f.read(16 + (offset + n) * 784)
  a = np.frombuffer(buf, dtype=np.uint8, offset=16 + offset * 784).reshape(n, 784)
  return a.astype(np.float64) / 256.0


def dyadic(rng, n, d):
  return rng.integers(-64, 65, size=(n, d)).astype(np.float64) / 64.0


def inputs_784(n, offset, rng):
  x = fashion_rows(n, offset)
  if x is None:
    return dyadic(rng, n, 784) / 4 + 0.5, 'random'
  return x, 'fashion-mnist'


def write_case(d, spec=None, args=None, **arrays):
  os.makedirs(d, exist_ok=True)
  if spec:
    open(os.path.join(d, 'spec.txt'), 'w').write(spec + '\n')
  if args:
    open(os.path.join(d, 'args.txt'), 'w').write(''.join('%s = %s\n' % kv for kv in args.items()))
  for k, v in arrays.items():
    np.save(os.path.join(d, k + '.npy'), np.ascontiguousarray(v, dtype=np.float64))


class Bench:
  def __init__(self, a):
    self.a = a
    self.work = a.work
    self.rows = []
    self.versions = {}
    self.notes = []

  def ntk_proc(self, case, din, tag, reps):
    out = os.path.join(self.work, 'out', tag)
    return Proc([self.a.ntk_case, case, '--in', din, '--out', out, '--reps', str(reps)], out, self.a.timeout)

  def peer_proc(self, side, case, din, tag, reps, impl=0):
    out = os.path.join(self.work, 'out', tag)
    return Proc([sys.executable, os.path.abspath(__file__), '--worker', side, case, '--in', din, '--out', out,
                 '--reps', str(reps), '--impl', str(impl)], out, self.a.timeout)

  def compare(self, case, out_ntk, out_peer):
    names = {'kernel': ['nngp.npy', 'ntk.npy'], 'empirical': ['ntk.npy'], 'predict': ['pred.npy'],
             'train': ['theta.npy', 'f.npy']}[case]
    errs = []
    sym = case == 'kernel' and not os.path.exists(os.path.join(self.cur_in, 'x2.npy'))
    for nm in names:
      a = np.load(os.path.join(out_ntk, nm))
      b = np.load(os.path.join(out_peer, nm))
      if sym and self.a.rho1_tol > 0:
        # The diagonal (rho = 1) of a ReLU-like kernel is ill-conditioned: the
        # arc-cosine angle has an infinite derivative there, so one ulp of
        # difference in K0 = x.x'/d (784 is not a power of two: x.x'*(1/d) and
        # x.x'/d round differently) moves the NTK by ~1e-8. Opt-in: judge the
        # diagonal with rho1_tol, everything else with TOL, and say so.
        den = np.max(np.abs(b))
        ed = float(np.max(np.abs(np.diag(a) - np.diag(b))) / den)
        off = np.abs(a - b)
        np.fill_diagonal(off, 0)
        self.diag_note = 'diagonal (rho = 1) rel. error %.1e accepted with --rho1-tol %.0e' % (ed, self.a.rho1_tol)
        errs.append(float(off.max() / den) if ed <= self.a.rho1_tol else ed)
        continue
      if case == 'train' and nm == 'theta.npy':
        # compare the updates θ - θ0 (θ0 is shared, so comparing θ would hide them)
        th0 = np.concatenate([np.concatenate([L[1].ravel(), L[2].ravel()])
                              for L in load_params(self.cur_in)[1] if L[0] == 'dense'])
        a, b = a.ravel() - th0, b.ravel() - th0
      errs.append(relerr(a, b))
    return max(errs)

  def run_case(self, label, case, din, peers, size, extra=None):
    """Alternating rounds; peers: list of (name, side, impl). Returns the row."""
    a = self.a
    rounds, reps = a.rounds, a.reps
    self.cur_in = din
    row = {'case': label, 'size': size}
    ntk_t, floor_t, ntk_rss = [], [], 0.0
    peer_t = {p[0]: [] for p in peers}
    peer_first = {p[0]: [] for p in peers}
    peer_rss = {p[0]: 0.0 for p in peers}
    peer_err = {p[0]: None for p in peers}
    peer_re = {}
    alive = {p[0]: True for p in peers}
    for r in range(rounds):
      P = self.ntk_proc(case, din, '%s/ntk' % label, reps)
      if not P.ok:
        row['error'] = 'ntk failed: %s' % P.error
        print('  %s: ntk FAILED: %s' % (label, P.error), flush=True)
        return self.finish(row)
      ntk_t += P.json['times']
      floor_t += P.json['floor']
      row['floor_what'] = P.json['floor_what']
      ntk_rss = max(ntk_rss, P.rss_mb)
      for name, side, impl in peers:
        if not alive[name]:
          continue
        Q = self.peer_proc(side, case, din, '%s/%s' % (label, name), reps, impl)
        if not Q.ok:
          peer_err[name] = Q.error
          alive[name] = False
          print('  %s: %s FAILED: %s' % (label, name, Q.error), flush=True)
          continue
        self.versions.update(Q.json['versions'])
        if r == 0:
          self.diag_note = None
          e = self.compare(case, P.out, Q.out)
          peer_re[name] = e
          if self.diag_note and e <= TOL:
            self.notes.append('%s %s: %s' % (label, name, self.diag_note))
          if not e <= TOL:
            peer_err[name] = 'disagrees: rel. error %.2e > %.0e' % (e, TOL)
            alive[name] = False
            print('  %s: %s DISAGREES (rel. error %.2e)' % (label, name, e), flush=True)
            continue
        peer_t[name] += Q.json['times']
        peer_first[name].append(Q.json['first'] - np.median(Q.json['times']))
        peer_rss[name] = max(peer_rss[name], Q.rss_mb)
      if r == 0:
        print('  %s: round 1: ntk %.4g s, %s' % (label, np.median(ntk_t), ', '.join(
            '%s %s' % (n, ('%.4g s (err %.1e)' % (np.median(peer_t[n]), peer_re.get(n, 0))) if peer_t[n]
                       else peer_err[n]) for n, _, _ in peers)), flush=True)
        # of several implementations of one peer, only the fastest goes on
        groups = {}
        for name, side, impl in peers:
          if alive[name] and peer_t[name]:
            groups.setdefault(side, []).append(name)
        for side, names in groups.items():
          if len(names) > 1:
            best = min(names, key=lambda n: np.median(peer_t[n]))
            for n in names:
              if n != best:
                alive[n] = False
    row['ntk_s'] = float(np.median(ntk_t))
    row['floor_s'] = float(np.median(floor_t)) if floor_t else None
    row['ntk_rss_mb'] = ntk_rss
    for side in ('nt', 'torch'):
      names = [p[0] for p in peers if p[1] == side]
      if not names:
        continue
      timed_ = [n for n in names if peer_t[n]]
      if timed_:
        best = min(timed_, key=lambda n: np.median(peer_t[n]))
        row[side + '_s'] = float(np.median(peer_t[best]))
        row[side + '_impl'] = best
        row[side + '_compile_s'] = float(np.median(peer_first[best]))
        row[side + '_rss_mb'] = peer_rss[best]
        row[side + '_err'] = peer_re.get(best)
        others = ['%s %.3g s' % (n, np.median(peer_t[n])) for n in timed_ if n != best]
        fails = ['%s: %s' % (n, peer_err[n]) for n in names if peer_err[n]]
        if others or fails:
          row[side + '_note'] = '; '.join(others + fails)
      else:
        row[side + '_note'] = '; '.join('%s: %s' % (n, peer_err[n]) for n in names if peer_err[n])
    if extra:
      row.update(extra)
    return self.finish(row)

  def finish(self, row):
    self.rows.append(row)
    fmt = lambda v: '-' if v is None else ('%.4g' % v if isinstance(v, float) else str(v))
    print('  => ' + ', '.join('%s=%s' % (k, fmt(v)) for k, v in row.items()), flush=True)
    return row

  # ------------------------------------------------------------ the cases

  def netinit(self, din, spec, d, seed=1):
    write_case(din, spec=spec, args={'d': d, 'seed': seed})
    P = Proc([self.a.ntk_case, 'netinit', '--in', din, '--out', din], din + '/init', 60)
    if not P.ok:
      raise SystemExit('netinit failed: ' + str(P.error))

  def case1(self, q):
    rng = np.random.default_rng(1)
    N = 512 if q else self.a.n1
    x, src = inputs_784(N, 0, rng)
    din = os.path.join(self.work, 'c1')
    write_case(din, spec=RELU3.format(k=1), x1=x)
    self.run_case('1 relu3 d784', 'kernel', din, [('nt', 'nt', 0)], 'N=%d (%s)' % (N, src))

  def case2(self, q):
    rng = np.random.default_rng(2)
    N = 1024 if q else self.a.n2
    din = os.path.join(self.work, 'c2')
    write_case(din, spec=ERF5, args={'nt_batch': 2048 if N > 4096 else 0}, x1=dyadic(rng, N, 16))
    self.run_case('2 erf5 d16', 'kernel', din, [('nt', 'nt', 0)], 'N=%d' % N)

  def case3(self, q):
    rng = np.random.default_rng(3)
    n1, n2 = (256, 1024) if q else (self.a.n3a, self.a.n3b)
    x1, src = inputs_784(n1, 0, rng)
    x2, _ = inputs_784(n2, n1, rng)
    din = os.path.join(self.work, 'c3')
    write_case(din, spec=RELU3.format(k=1), args={'nt_batch': 2048}, x1=x1, x2=x2)
    peers = [('nt', 'nt', 0)] if self.a.case3_nt else []
    self.run_case('3 relu3 X2', 'kernel', din, peers, 'N1=%d N2=%d (%s)' % (n1, n2, src))

  def case4(self, q):
    rng = np.random.default_rng(4)
    N = 128 if q else self.a.n4
    x, src = inputs_784(N, 0, rng)
    P = sum(784 * 512 + 512 + 2 * (512 * 512 + 512) for _ in [0])
    for k in (1, 10):
      din0 = os.path.join(self.work, 'c4k%d' % k)
      self.netinit(din0, RELU3.format(k=k), 784)
      for full in (0, 1):
        din = din0
        write_case(din, spec=RELU3.format(k=k), args={'d': 784, 'seed': 1, 'full': full}, x=x)
        # the J-based methods (nt implementation 1, torch jacrev) cost
        # N^2·k^2·P (full) or N^2·k·P (traced) flops and N·k·P·8 bytes
        flops = N * N * k * (k if full else 1) * (P + 513 * k) * 2
        jbytes = N * k * (P + 513 * k) * 8
        peers = []
        for impl in (1, 2, 3):
          if impl in (1, 2) and (flops > self.a.max_flops or jbytes > self.a.max_j_bytes):
            self.notes.append('case 4 k=%d %s: nt implementation %d not run (%.1e flops, J %.1f GB)'
                              % (k, 'full' if full else 'traced', impl, flops, jbytes / 1e9))
            continue
          peers.append(('nt_impl%d' % impl, 'nt', impl))
        if flops <= self.a.max_flops and jbytes <= self.a.max_j_bytes:
          peers.append(('torch_jacrev', 'torch', 0))
        else:
          self.notes.append('case 4 k=%d %s: torch jacrev not run (%.1e flops, J %.1f GB)'
                            % (k, 'full' if full else 'traced', flops, jbytes / 1e9))
        self.run_case('4 emp k=%d %s' % (k, 'full' if full else 'traced'), 'empirical', din, peers,
                      'N=%d (%s)' % (N, src))

  def case5(self, q):
    rng = np.random.default_rng(5)
    N = 256 if q else self.a.n5
    steps = 10 if q else self.a.steps5
    x, src = inputs_784(N, 0, rng)
    y = (rng.integers(0, 10, size=(N, 1)) - 4.5) / 4.5
    for w in (1024, 64):
      din = os.path.join(self.work, 'c5w%d' % w)
      self.netinit(din, MLP2.format(w=w), 784)
      write_case(din, spec=MLP2.format(w=w), args={'d': 784, 'seed': 1, 'lr': 0.1, 'steps': steps}, x=x, y=y)
      self.run_case('5 train w=%d' % w, 'train', din, [('torch', 'torch', 0)],
                    'N=%d, %d steps (%s)' % (N, steps, src))

  def case6(self, q):
    rng = np.random.default_rng(6)
    N = 512 if q else self.a.n6
    M, p = (100 if q else 1000), 256
    Z = rng.standard_normal((N + M, p))
    K = Z @ Z.T / p
    kxx = K[:N, :N] + 0.01 * np.eye(N)
    kxx = (kxx + kxx.T) / 2
    kxt = K[N:, :N]
    y = rng.standard_normal((N, 1))
    times = np.logspace(0, 6, 10) * (N / 100.0)
    din = os.path.join(self.work, 'c6')
    write_case(din, args={'lr': 1.0, 'times': ','.join('%.17g' % t for t in times)}, kxx=kxx, kxt=kxt, y=y)
    self.run_case('6 predict', 'predict', din, [('nt', 'nt', 0)], 'N=%d M=%d, 10 times' % (N, M))

  def case7(self, q):
    rng = np.random.default_rng(7)
    N = 2048 if q else self.a.n7
    x, src = inputs_784(N, 0, rng)
    din = os.path.join(self.work, 'c7')
    os.makedirs(din, exist_ok=True)
    np.save(os.path.join(din, 'x.npy'), x)
    out = os.path.join(self.work, 'out', 'c7')
    os.makedirs(out, exist_ok=True)
    P = Proc([self.a.ntk_cli, 'kernel', '--arch', RELU3.format(k=1), '--x1', os.path.join(din, 'x.npy'),
              '--get', 'ntk', '--out', os.path.join(out, 'ntk.npy'), '--quiet'], out, self.a.timeout)
    # the CLI prints nothing to parse; it succeeded if the output exists
    ok = os.path.exists(os.path.join(out, 'ntk.npy')) and P.status == 0
    size_mb = (N * N + N * 784) * 8 / 2**20
    row = {'case': '7 cli memory', 'size': 'N=%d (%s)' % (N, src), 'ntk_s': P.wall, 'ntk_rss_mb': P.rss_mb,
           'rss_ratio': P.rss_mb / size_mb, 'data_mb': size_mb}
    if not ok:
      row['error'] = 'ntk kernel failed: %s' % open(os.path.join(out, 'stderr.txt')).read()[-300:]
    os.remove(os.path.join(out, 'ntk.npy')) if ok else None
    self.finish(row)


COLS = ['case', 'size', 'ntk_s', 'floor_s', 'ntk/floor', 'nt_s', 'nt/ntk', 'nt_compile_s', 'torch_s',
        'torch/ntk', 'ntk_rss_mb', 'nt_rss_mb', 'torch_rss_mb', 'rss_ratio', 'nt_err', 'torch_err', 'notes']


def table(rows):
  out = []
  for r in rows:
    r = dict(r)
    if r.get('floor_s'):
      r['ntk/floor'] = r['ntk_s'] / r['floor_s']
    for s in ('nt', 'torch'):
      if r.get(s + '_s'):
        r[s + '/ntk'] = r[s + '_s'] / r['ntk_s']
    notes = [r[k] for k in ('error', 'nt_impl', 'torch_impl', 'nt_note', 'torch_note', 'floor_what') if r.get(k)]
    r['notes'] = '; '.join(str(n) for n in notes)
    out.append(r)
  return out


def fmt(v, col):
  if v is None or v == '':
    return ''
  if isinstance(v, float):
    if col.endswith('_err'):
      return '%.1e' % v
    if col.endswith('_mb'):
      return '%.0f' % v
    return '%.3g' % v
  return str(v)


def machine():
  model = ''
  for line in open('/proc/cpuinfo'):
    if line.startswith('model name'):
      model = line.split(':', 1)[1].strip()
      break
  mem = 0
  for line in open('/proc/meminfo'):
    if line.startswith('MemTotal'):
      mem = int(line.split()[1]) / 2**20
  return {'loadavg_end': ' '.join(open('/proc/loadavg').read().split()[:3]), 'nproc': os.cpu_count(), 'cpu': model, 'mem_gib': round(mem, 1), 'python': platform.python_version(),
          'numpy': np.__version__,
          'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE', '(unset)'),
          'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}


def driver(a):
  os.makedirs(a.work, exist_ok=True)
  B = Bench(a)
  only = set(a.only.split(',')) if a.only else None
  print('threads: %d for every side; OPENBLAS_CORETYPE=%s; GOMP_SPINCOUNT=%s; OMP_WAIT_POLICY=%s' % (
      THREADS, os.environ.get('OPENBLAS_CORETYPE', '(unset)'), thread_env()['GOMP_SPINCOUNT'],
      os.environ.get('OMP_WAIT_POLICY', '(unset)')),
        flush=True)
  for i in range(1, 8):
    if only and str(i) not in only:
      continue
    print('case %d ... (load average %s)' % (i, ' '.join(open('/proc/loadavg').read().split()[:3])), flush=True)
    t0 = time.time()
    try:
      getattr(B, 'case%d' % i)(a.quick)
    except Exception as e:  # a broken case must not lose the others
      B.finish({'case': str(i), 'error': '%s: %s' % (type(e).__name__, e)})
    print('  (case %d took %.0f s)' % (i, time.time() - t0), flush=True)
  rows = table(B.rows)
  info = machine()
  info.update(B.versions)
  try:
    import importlib.metadata as md
    for p in ('jax', 'jaxlib', 'neural-tangents', 'torch'):
      try:
        info[p] = md.version(p)
      except md.PackageNotFoundError:
        pass
  except ImportError:
    pass
  with open(a.csv, 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(COLS)
    for r in rows:
      w.writerow([fmt(r.get(c), c) for c in COLS])
  hdr = ['case', 'size', 'ntk_s', 'floor_s', 'ntk/floor', 'nt_s', 'nt/ntk', 'torch_s', 'torch/ntk', 'ntk_rss_mb',
         'nt_rss_mb', 'torch_rss_mb']
  print('\n' + ' | '.join(hdr))
  for r in rows:
    print(' | '.join(fmt(r.get(c), c) for c in hdr))
  print('\nmachine/versions: ' + json.dumps(info))
  for n in B.notes:
    print('note: ' + n)
  for r in rows:
    if r.get('notes'):
      print('notes %s: %s' % (r['case'], r['notes']))
  if a.md:
    with open(a.md, 'w') as f:
      f.write('| ' + ' | '.join(COLS[:-3] + ['notes']) + ' |\n')
      f.write('|' + '---|' * (len(COLS) - 2) + '\n')
      for r in rows:
        f.write('| ' + ' | '.join(fmt(r.get(c), c) for c in COLS[:-3] + ['notes']) + ' |\n')
      f.write('\n<!-- %s -->\n' % json.dumps(info))
      for n in B.notes:
        f.write('- %s\n' % n)
  json.dump({'machine': info, 'rows': rows, 'notes': B.notes}, open(os.path.join(a.work, 'results.json'), 'w'),
            indent=1, default=str)


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument('--worker', nargs=2, metavar=('SIDE', 'CASE'))
  ap.add_argument('--in', dest='in')
  ap.add_argument('--out')
  ap.add_argument('--impl', type=int, default=0)
  ap.add_argument('--reps', type=int, default=1, help='timed runs per process (after a warm-up)')
  ap.add_argument('--rounds', type=int, default=5, help='alternating rounds (processes per side)')
  ap.add_argument('--ntk-case')
  ap.add_argument('--ntk-cli')
  ap.add_argument('--work', default=os.path.join(ROOT, 'build-bench', 'work'))
  ap.add_argument('--csv', default=os.path.join(HERE, 'results.csv'))
  ap.add_argument('--md')
  ap.add_argument('--quick', action='store_true', help='small sizes (a smoke run)')
  ap.add_argument('--only', help='comma list of case numbers 1..7')
  ap.add_argument('--timeout', type=float, default=900, help='seconds per process')
  ap.add_argument('--n1', type=int, default=4096, help='N of case 1')
  ap.add_argument('--n2', type=int, default=8192, help='N of case 2')
  ap.add_argument('--n3a', type=int, default=4096, help='N1 (test) of case 3')
  ap.add_argument('--n3b', type=int, default=16384, help='N2 (train) of case 3')
  ap.add_argument('--n5', type=int, default=4096, help='N of case 5')
  ap.add_argument('--steps5', type=int, default=100, help='GD steps of case 5')
  ap.add_argument('--n4', type=int, default=1024, help='N of case 4')
  ap.add_argument('--n6', type=int, default=8192, help='N train of case 6')
  ap.add_argument('--n7', type=int, default=16384, help='N of case 7')
  ap.add_argument('--case3-nt', type=int, default=1, help='run neural-tangents in case 3 too')
  ap.add_argument('--rho1-tol', type=float, default=0.0,
                  help='opt-in: tolerance for the diagonal of symmetric kernels (0: strict, like the rest)')
  ap.add_argument('--max-flops', type=float, default=2e13, help='skip J-based peers above this')
  ap.add_argument('--max-j-bytes', type=float, default=10e9, help='skip J-based peers above this')
  a = ap.parse_args()
  if a.worker:
    worker_main(a)
  else:
    driver(a)


if __name__ == '__main__':
  main()
