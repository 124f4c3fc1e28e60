"""Portable array-API versions of every hot operation: the reference for the fast paths.

Every function takes and returns arrays of one namespace ``xp`` and never writes into its
arguments, so it runs unchanged on NumPy, CuPy and ``array_api_strict``.
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import Backend
from ..rng import GOLDEN, MIX1, MIX2, UNIFORM_SCALE


def uniform(backend: Backend, shape: tuple[int, ...], base: int, dtype: Any) -> Any:
    """Counter-based uniforms in [0, 1) on a 2**-24 grid.

    Parameters
    ----------
    backend : Backend
    shape : tuple of int
    base : int
        Start of the draw, from :meth:`xprbm.rng.CounterRNG.next_base`.
    dtype : dtype
        Floating dtype of the result (the values are exact in float32).

    Returns
    -------
    array of shape ``shape``
    """
    xp = backend.xp
    n = math.prod(shape)
    kwargs = {} if backend.device is None else {"device": backend.device}

    def u64(value: int) -> Any:  # 0-d uint64 arrays: no promotion rules involved anywhere
        return xp.asarray(value, dtype=xp.uint64, **kwargs)

    z = xp.arange(1, n + 1, dtype=xp.uint64, **kwargs) * u64(GOLDEN) + u64(base)
    z = (z ^ (z >> u64(30))) * u64(MIX1)
    z = (z ^ (z >> u64(27))) * u64(MIX2)
    z = z ^ (z >> u64(31))
    u = xp.astype(z >> u64(40), dtype) * UNIFORM_SCALE
    return xp.reshape(u, shape)


def sigmoid(xp: Any, x: Any) -> Any:
    """Logistic function ``1 / (1 + exp(-x))``; saturates to 0 or 1 without overflow warnings."""
    return 1.0 / (1.0 + xp.exp(-xp.clip(x, -88.0, 88.0)))


def softplus(xp: Any, x: Any) -> Any:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def bernoulli(backend: Backend, field: Any, bias: Any, base: int) -> Any:
    """Sample units with ``p = sigmoid(field + bias)``.

    Parameters
    ----------
    field : array, shape (n_rows, n_units)
    bias : array, shape (n_units,)
    base : int
        Random draw base; element ``i`` (row-major) uses counter ``i``.

    Returns
    -------
    array, shape (n_rows, n_units), values 0.0 / 1.0 in ``field``'s dtype
    """
    xp = backend.xp
    p = sigmoid(xp, field + bias)
    u = uniform(backend, tuple(field.shape), base, field.dtype)
    return xp.astype(u < p, field.dtype)
