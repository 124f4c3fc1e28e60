"""The one dispatcher for every accelerated operation.

Each operation has a portable reference in :mod:`.generic` and fast versions: Numba kernels
on NumPy (:mod:`.numba_cpu`, :mod:`.numba_update`, :mod:`.numba_partition`) and CuPy kernels
on a CUDA device (:mod:`.cupy_gpu`). ``method`` is ``"auto"``, ``"generic"``, ``"numba"`` or
``"cupy"``: :func:`resolve_method` turns it into the concrete family once (a model keeps the
result as ``fast_path``), and every function here takes that resolved name. ``"auto"`` picks
Numba on NumPy (unless ``XPRBM_DISABLE_NUMBA=1`` is set or Numba is missing), CuPy's kernels
on CuPy, and the generic code elsewhere. Fast modules are imported on first use only.

Operations: :func:`uniform`, :func:`bernoulli`, :func:`sampler` (sampling),
:func:`count_invalid` (the fused input check), :func:`state_log_sums` (exact enumeration of a
layer's states) and :func:`make_update` (the training update, see :mod:`.update`; parallel
tempering's sweeps and swaps are in :mod:`.tempering`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import numpy as np

from ..backend import Backend
from ..progress import COMPILING, COMPILING_UPDATE, notice
from . import generic
from .update import (
    GenericUpdate,
    TemperedUpdate,
    Update,
    UpdateLayout,
    UpdateSettings,
    draw_bases,
)

METHODS = ("auto", "generic", "numba", "cupy")

__all__ = [
    "METHODS",
    "Update",
    "UpdateLayout",
    "UpdateSettings",
    "bernoulli",
    "count_invalid",
    "draw_bases",
    "make_update",
    "numba_available",
    "prepare",
    "resolve_method",
    "sampler",
    "state_log_sums",
    "uniform",
    "warm_up",
]


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
        raise ValueError(f"fast_path must be one of {METHODS}; got {method!r}")
    if method == "auto":
        if backend.name == "numpy":
            return "numba" if numba_available() else "generic"
        return "cupy" if backend.name == "cupy" else "generic"
    if method == "numba" and backend.name != "numpy":
        raise ValueError(f"fast_path='numba' runs on backend='numpy' only; got {backend.name!r}")
    if method == "cupy" and backend.name != "cupy":
        raise ValueError(f"fast_path='cupy' runs on backend='cupy' only; got {backend.name!r}")
    return method


def _fast_module(method: str) -> ModuleType | None:
    """The module of fused sampling kernels for a resolved method (None for ``"generic"``)."""
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
    fast = _fast_module(method)
    if fast is None:
        return generic.bernoulli(backend, field, bias, base)
    fast.bernoulli_(field, bias, np.uint64(base))
    return field


def sampler(backend: Backend, method: str) -> Callable[[Any, int], Any]:
    """``sample(field, base)``: 0/1 states with ``p = sigmoid(field)`` by :func:`bernoulli`
    (``field`` of shape (n_rows, n_units), C-contiguous, may be overwritten)."""
    zeros: dict[tuple, Any] = {}

    def sample(field: Any, base: int) -> Any:
        key = (field.shape[1], field.dtype)
        if key not in zeros:
            zeros[key] = backend.xp.zeros(field.shape[1], dtype=field.dtype,
                                          **backend.placement)
        return bernoulli(backend, field, zeros[key], base, method)

    return sample


def uniform(backend: Backend, shape: tuple[int, int], base: int, dtype: Any, method: str) -> Any:
    """Counter-based uniforms of draw ``base`` (identical on every path)."""
    fast = _fast_module(method)
    if fast is None:
        return generic.uniform(backend, shape, base, dtype)
    out = backend.xp.empty(shape, dtype=dtype)
    fast.uniform(np.uint64(base), out)
    return out


def count_invalid(arr: Any, binary: bool, method: str) -> int | None:
    """Entries of the 2-D array ``arr`` that are not 0/1 (``binary``) or not in [0, 1], NaN and
    infinities included, in one fused pass; None where ``method`` has no such pass (then
    :func:`xprbm.validation.check_values` looks at the array itself)."""
    fast = _fast_module(method)
    return None if fast is None else fast.count_invalid(arr, binary)


def state_log_sums(backend: Backend, small_bias: Any, coupling: Any, big_bias: Any,
                   method: str) -> Iterable[tuple[float, int]]:
    """Per-block log-sum-exp of the log weights of every state of a layer, with the block's
    number of states (see
    :func:`.generic.state_log_sums`); Numba visits the states in Gray-code order, one unit
    change per state, in parallel segments."""
    if method == "numba":
        from .numba_partition import state_log_sums as numba_state_log_sums

        return numba_state_log_sums(small_bias, coupling, big_bias)
    return generic.state_log_sums(backend, small_bias, coupling, big_bias)


def warm_up(method: str, dtype: Any, X: Any = None, progress: bool = False) -> None:
    """Compile, ahead of a loop, the sampling kernels of ``method`` for ``dtype`` (uniforms,
    Bernoulli draws) and the input check for data like ``X``, each on a tiny throwaway array;
    kernels compiled by an earlier run load from the per-user cache instead, and a process
    does each only once. Only the Numba kernels compile; other methods return at once. With
    ``progress``, a slow compilation says so on stderr (:func:`xprbm.progress.notice`)."""
    if method == "numba":
        from . import numba_cpu

        with notice(COMPILING, enabled=progress):
            numba_cpu.warm_up(X, dtype)


def prepare(update: Update, X: Any, method: str, dtype: Any, progress: bool = False) -> None:
    """:func:`warm_up` for a training loop on ``X``, and the compilation of the update itself
    (:meth:`Update.prepare`).

    Parameters
    ----------
    update : Update
        The update object the loop will call.
    X : array, shape (n_samples, n_visible), or another data source
        The training data as the loop will read them (only their type, dtype and layout
        matter).
    method : str
        The resolved kernel method of the model.
    dtype : dtype of the model
    progress : bool
        Say on stderr when compiling takes a while.
    """
    if method == "numba":
        warm_up(method, dtype, X, progress)
        with notice(COMPILING_UPDATE, enabled=progress):
            update.prepare(X)


def make_update(backend: Backend, method: str, dtype: Any, layout: UpdateLayout) -> Update:
    """The update object of a resolved kernel ``method`` for arrays of ``dtype``.

    CD and PCD run the fused update of the method (Numba; CuPy without centring). Parallel
    tempering, and centred training on CuPy, run the array code of :mod:`.update` whose draws
    go through the method's sampling kernel. A fast path that cannot start (Numba without
    SciPy's BLAS or threadpoolctl, CuPy without a cuBLAS that ctypes can load) falls back to
    :class:`GenericUpdate` with a ``RuntimeWarning``.
    """
    if layout.method == "pt":
        return TemperedUpdate(backend, layout, dtype, sampler(backend, method))
    if method == "generic" or (layout.centered and method == "cupy"):
        return GenericUpdate(backend, layout, None if method == "generic"
                             else sampler(backend, method))
    try:
        if method == "cupy":
            from .cupy_update import CupyUpdate

            return CupyUpdate(backend, dtype, layout)
        from .numba_step import NumbaUpdate

        return NumbaUpdate(backend, dtype, layout)
    except (ImportError, OSError, AttributeError) as error:
        needs = "cuBLAS through ctypes" if method == "cupy" else "SciPy and threadpoolctl"
        warnings.warn(f"the fast {method} update needs {needs} ({error}); training with the "
                      "generic update instead", RuntimeWarning, stacklevel=3)
        return GenericUpdate(backend, layout)
