"""A NumPy stand-in for :mod:`xprbm.kernels.cupy_gpu`, so that the CuPy update object's logic
(buffers, draw numbers, graph signatures, chains written back) runs on a machine without a
GPU. Each function does what its CUDA kernel's docstring says, with the generic code's
sigmoid and uniforms; ``capture`` returns a "graph" that replays the recorded call."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from xprbm.backend import get_backend
from xprbm.kernels import generic
from xprbm.rng import stream_base

_NUMPY = get_backend("numpy")
captures = []


def cublas():
    return None


def _uniforms(shape, key, counter, draw, dtype):
    base = stream_base(int(key), int(counter[0]) + draw)
    return generic.uniform(_NUMPY, shape, base, dtype)


def gather_rows_(X, rows, out, step, counter):
    out[...] = X[rows]
    counter[0] = step


def bernoulli_counted_(x, bias, key, counter, draw):
    p = generic.sigmoid(np, x + bias)
    x[...] = _uniforms(x.shape, key, counter, draw, x.dtype) < p


def hidden_(hid, bias, row_scale, samples, key, counter, draw):
    p = generic.sigmoid(np, hid + bias)
    if samples.size:
        n = samples.shape[0]
        samples[...] = _uniforms(samples.shape, key, counter, draw, hid.dtype) < p[:n]
    hid[...] = row_scale[:, None] * p


def apply_velocities_(params, velocities, decay_step):
    (W, b, c), (vW, vb, vc) = params, velocities
    vW -= W.dtype.type(decay_step) * W
    W += vW
    b += vb
    c += vc


def gemm(a, b, out, alpha_beta, *, trans_a=False, trans_b=False):
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    alpha, beta = alpha_beta
    product = alpha * (a @ b)
    out[...] = product if beta == 0 else product + beta * out  # as BLAS: beta 0 reads nothing


def address(x):
    return x.ctypes.data


def capture(enqueue):
    captures.append(enqueue)
    return SimpleNamespace(launch=enqueue)
