"""Dispatch hot operations to a fast path or to the portable generic reference.

``method`` is ``"auto"``, ``"generic"``, ``"numba"`` or ``"cupy"``. ``"auto"`` picks Numba on
NumPy (unless ``XPRBM_DISABLE_NUMBA=1`` is set or Numba is missing), CuPy's fused kernels on
CuPy, and the generic code elsewhere. Fast modules are imported on first use only.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np

from ..backend import Backend
from . import generic

METHODS = ("auto", "generic", "numba", "cupy")


def numba_available() -> bool:
    """True when Numba imports (it is a core dependency, but may be broken or disabled)."""
    if os.environ.get("XPRBM_DISABLE_NUMBA", "") not in ("", "0"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_method(backend: Backend, method: str = "auto") -> str:
    """Turn ``method`` into the concrete kernel family for ``backend``.

    Raises
    ------
    ValueError
        Unknown method, or a fast path that does not fit the backend.
    """
    if method not in METHODS:
        raise ValueError(f"kernels must be one of {METHODS}; got {method!r}")
    if method == "auto":
        if backend.name == "numpy":
            return "numba" if numba_available() else "generic"
        return "cupy" if backend.name == "cupy" else "generic"
    if method == "numba" and backend.name != "numpy":
        raise ValueError(f"kernels='numba' runs on backend='numpy' only; got {backend.name!r}")
    if method == "cupy" and backend.name != "cupy":
        raise ValueError(f"kernels='cupy' runs on backend='cupy' only; got {backend.name!r}")
    return method


def fast_module(method: str) -> ModuleType | None:
    """The module of fused kernels for a resolved method (None for ``"generic"``)."""
    if method == "numba":
        from . import numba_cpu

        return numba_cpu
    if method == "cupy":
        from . import cupy_gpu

        return cupy_gpu
    return None


def bernoulli(backend: Backend, field: Any, bias: Any, base: int, method: str) -> Any:
    """Sample ``u < sigmoid(field + bias)`` with draw ``base``.

    Parameters
    ----------
    field : array, shape (n_rows, n_units), C-contiguous
        A temporary: fast paths overwrite it with the samples and return it.
    bias : array, shape (n_units,)
    base : int
    method : str
        A resolved method (see :func:`resolve_method`).
    """
    fast = fast_module(method)
    if fast is None:
        return generic.bernoulli(backend, field, bias, base)
    fast.bernoulli_(field, bias, np.uint64(base))
    return field


def uniform(backend: Backend, shape: tuple[int, int], base: int, dtype: Any, method: str) -> Any:
    """Counter-based uniforms of draw ``base`` (identical on every path)."""
    fast = fast_module(method)
    if fast is None:
        return generic.uniform(backend, shape, base, dtype)
    out = backend.xp.empty(shape, dtype=dtype)
    fast.uniform(np.uint64(base), out)
    return out
