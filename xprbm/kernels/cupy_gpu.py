"""CuPy kernels: the GPU twins of :mod:`xprbm.kernels.numba_cpu`, same signatures.

Each kernel is one fused ``ElementwiseKernel`` launch. Random numbers are generated inside the
kernel from ``(base, element index)`` with the SplitMix64 hash of :mod:`xprbm.rng` (no uniform
buffer, no cuRAND state arrays), so a seed gives the same uniforms on the GPU as on the CPU.
Matrix products use CuPy's cuBLAS matmul in float32; TF32 tensor cores are used only when the
user asks CuPy for them explicitly (``CUPY_TF32=1``).
"""

from __future__ import annotations

import functools
from typing import Any

import cupy as cp
import numpy as np

from ..rng import GOLDEN, MIX1, MIX2

_PREAMBLE = f"""
__device__ __forceinline__ float xprbm_uniform(unsigned long long base, long long index) {{
    unsigned long long z = base + ((unsigned long long)index + 1ULL) * {GOLDEN}ULL;
    z = (z ^ (z >> 30)) * {MIX1}ULL;
    z = (z ^ (z >> 27)) * {MIX2}ULL;
    z = z ^ (z >> 31);
    return (float)(z >> 40) * 5.9604644775390625e-08f;  /* 2**-24 */
}}

template <typename T> __device__ __forceinline__ T xprbm_sigmoid(T x) {{
    x = x < T(-88) ? T(-88) : (x > T(88) ? T(88) : x);
    return T(1) / (T(1) + exp(-x));
}}
"""


@functools.cache
def _kernels() -> dict[str, Any]:
    """Build the kernels on first use (compilation happens at the first launch)."""
    return {
        "uniform": cp.ElementwiseKernel(
            "uint64 base", "T out",
            "out = (T)xprbm_uniform(base, i);",
            "xprbm_uniform_kernel", preamble=_PREAMBLE),
        "bernoulli": cp.ElementwiseKernel(
            "T bias, uint64 base", "T x",
            "x = (xprbm_uniform(base, i) < xprbm_sigmoid(x + bias)) ? T(1) : T(0);",
            "xprbm_bernoulli", preamble=_PREAMBLE),
        # samples is written, so it is a (raw) output: CuPy makes every input const
        "scaled_sigmoid": cp.ElementwiseKernel(
            "T bias, T scale, uint64 base, int64 n_sampled", "T x, raw T samples",
            """
            T p = xprbm_sigmoid(x + bias);
            if (i < n_sampled) samples[i] = (xprbm_uniform(base, i) < p) ? T(1) : T(0);
            x = scale * p;
            """,
            "xprbm_scaled_sigmoid", preamble=_PREAMBLE),
        "momentum": cp.ElementwiseKernel(
            "T grad, T learning_rate, T momentum, T decay", "T param, T velocity",
            """
            T v = momentum * velocity + learning_rate * (grad - decay * param);
            velocity = v;
            param = param + v;
            """,
            "xprbm_momentum"),
    }


def uniform(base: np.uint64, out: cp.ndarray) -> None:
    """Fill ``out`` (C-contiguous) with the counter-based uniforms of draw ``base``."""
    _kernels()["uniform"](np.uint64(base), out)


def bernoulli_(x: cp.ndarray, bias: cp.ndarray, base: np.uint64) -> None:
    """In place: ``x = (u < sigmoid(x + bias))``; ``x`` C-contiguous (n_rows, n_units)."""
    _kernels()["bernoulli"](bias, np.uint64(base), x)


def scaled_sigmoid_(x: cp.ndarray, bias: cp.ndarray, row_scale: cp.ndarray, base: np.uint64,
                    samples: cp.ndarray, col_sum: cp.ndarray) -> None:
    """In place: ``x = row_scale[:, None] * sigmoid(x + bias)`` and ``col_sum += x.sum(0)``;
    the first ``samples.shape[0]`` rows are also drawn into ``samples`` (see the Numba twin)."""
    _kernels()["scaled_sigmoid"](bias, row_scale[:, None], np.uint64(base),
                                 np.int64(samples.size), x, samples)
    col_sum += x.sum(axis=0)


def gather_rows(X: cp.ndarray, rows: cp.ndarray, out: cp.ndarray) -> None:
    """``out[i] = X[rows[i]]`` (``X`` already in ``out``'s dtype on the device)."""
    cp.take(X, rows, axis=0, out=out)


def momentum_step(params: tuple, velocities: tuple, grads: tuple, learning_rate: float,
                  momentum: float, decays: tuple) -> None:
    """For each parameter: ``velocity = momentum * velocity + lr * (grad - decay * param);
    param += velocity`` (one fused launch per parameter)."""
    kernel = _kernels()["momentum"]
    for param, velocity, grad, decay in zip(params, velocities, grads, decays, strict=True):
        t = param.dtype.type
        kernel(grad, t(learning_rate), t(momentum), t(decay), param, velocity)
