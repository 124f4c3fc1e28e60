"""The array-API shim: one object per backend that knows its namespace and device.

``get_backend("numpy" | "cupy" | "auto" | "array_api_strict")`` returns a :class:`Backend`.
Nothing here is chosen at import time and nothing optional is imported until asked for.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

BACKENDS = ("numpy", "cupy", "array_api_strict")
DTYPES = ("float32", "float64")


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here (library missing or no device)."""


@dataclass(frozen=True)
class Backend:
    """An array namespace, the device arrays live on, and host transfers.

    Attributes
    ----------
    name : str
        ``"numpy"``, ``"cupy"`` or ``"array_api_strict"``.
    xp : module
        The array namespace (``numpy``, ``cupy`` or ``array_api_strict``).
    device : object
        Device on which arrays are created (``None`` for the namespace default).
    """

    name: str
    xp: ModuleType
    device: Any = None

    def dtype(self, name: str) -> Any:
        """Namespace dtype object for ``"float32"`` / ``"float64"``."""
        if name not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}; got {name!r}")
        return getattr(self.xp, name)

    def owns(self, x: Any) -> bool:
        """True when ``x`` is an array of this backend's namespace."""
        return hasattr(x, "shape") and namespace_name(x) == self.name

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Move ``x`` (NumPy, this backend, or a nested sequence) onto this backend.

        Returns a new array when a conversion or transfer happens; may return ``x`` itself
        when it already has the right namespace and dtype (callers never write into it).
        """
        if self.name == "array_api_strict" and not self.owns(x):
            x = np.asarray(x)
        if self.device is None:
            return self.xp.asarray(x, dtype=dtype)
        return self.xp.asarray(x, dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """This backend's array as a NumPy array on the host (a NumPy input comes back as is)."""
        if isinstance(x, np.ndarray):
            return x
        if self.name == "cupy":
            return self.xp.asnumpy(x)
        if self.name == "array_api_strict":
            return np.asarray(x.to_device(self.xp.Device("CPU_DEVICE")))
        return np.asarray(x)

    @property
    def placement(self) -> dict[str, Any]:
        """Keyword arguments that put a new array on this backend's device (``{}`` for the
        namespace default): ``xp.zeros(n, **backend.placement)``."""
        return {} if self.device is None else {"device": self.device}

    def copy(self, x: Any) -> Any:
        """A new array with the contents of this backend's array ``x``."""
        if self.name == "array_api_strict":
            return self.xp.asarray(x, copy=True)
        return x.copy()

    def all_finite(self, arrays: list[Any]) -> bool:
        """True when no array holds NaN or an infinity (one reduction each, on the device,
        and one transfer of the verdict)."""
        xp = self.xp
        flags = xp.stack([xp.all(xp.isfinite(a)) for a in arrays])
        return bool(self.to_numpy(xp.all(flags)))

    def concat(self, arrays: list[Any], axis: int = 0) -> Any:
        """Join arrays along ``axis`` (``concat`` in the array API, ``concatenate`` in CuPy
        releases that predate NumPy 2's names)."""
        join = getattr(self.xp, "concat", None) or self.xp.concatenate
        return join(arrays, axis=axis)

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU)."""
        if self.name == "cupy":
            self.xp.cuda.get_current_stream().synchronize()


def _cupy_module() -> ModuleType:
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend='cupy' needs CuPy: pip install 'xprbm[cuda12x]' or 'xprbm[cuda13x]' "
            f"(matching your CUDA driver); import failed with: {exc}"
        ) from exc
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError and friends when no driver is present
        raise BackendUnavailableError(
            f"backend='cupy': CuPy imports but no CUDA device answers ({exc}); "
            "use backend='numpy' or 'auto'"
        ) from exc
    if n_devices < 1:
        raise BackendUnavailableError("backend='cupy': no CUDA device found; use backend='numpy'")
    return cupy


@functools.cache
def get_backend(name: str | Backend = "numpy") -> Backend:
    """Return the :class:`Backend` called ``name``.

    Parameters
    ----------
    name : {"numpy", "cupy", "auto", "array_api_strict"} or Backend
        ``"auto"`` picks CuPy when it imports and a CUDA device answers, else NumPy.
        ``"array_api_strict"`` puts arrays on a non-default device of the strict reference
        namespace; it exists to prove that the generic code is portable.

    Raises
    ------
    BackendUnavailableError
        ``"cupy"`` without CuPy or without a device.
    ValueError
        An unknown name.
    """
    if isinstance(name, Backend):
        return name
    if name == "numpy":
        return Backend("numpy", np)
    if name == "cupy":
        return Backend("cupy", _cupy_module())
    if name == "auto":
        try:
            return get_backend("cupy")
        except BackendUnavailableError:
            return get_backend("numpy")
    if name == "array_api_strict":
        try:
            import array_api_strict as xps
        except ImportError as exc:
            raise BackendUnavailableError(
                "backend='array_api_strict' needs: pip install array-api-strict"
            ) from exc
        return Backend("array_api_strict", xps, xps.Device("device1"))
    raise ValueError(
        f"backend must be one of 'numpy', 'cupy', 'auto', 'array_api_strict'; got {name!r}"
    )


def namespace_name(x: Any) -> str:
    """``"cupy"``, ``"array_api_strict"`` or ``"numpy"`` (for anything else) for an object."""
    module = type(x).__module__
    for name in ("cupy", "array_api_strict"):
        if module.startswith(name):
            return name
    return "numpy"


def user_cache_dir() -> Path:
    """xprbm's per-user cache directory (nothing is created here).

    ``$XDG_CACHE_HOME/xprbm`` or ``~/.cache/xprbm`` on Linux, ``~/Library/Caches/xprbm`` on
    macOS, ``%LOCALAPPDATA%\\xprbm\\Cache`` on Windows: data sets and compiled kernels live
    there, never inside the installed package.
    """
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "xprbm" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "xprbm"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xprbm"


#: products with at most this many multiply-adds run faster on one BLAS thread
SMALL_PRODUCT = 1 << 24


def single_thread_blas_if_small(backend_name: str, multiply_adds: int, *,
                                always: bool = False) -> contextlib.AbstractContextManager:
    """Hold every BLAS (NumPy's, SciPy's) at one thread while a loop's products are small
    (or ``always``).

    Tens of thousands of small products (AIS chains, training a 784x16 model) gain nothing
    from a second BLAS thread on an idle machine and lose a lot on a busy one, where the
    threads wait for each other at every product. ``always`` is for code that
    splits its products over its own threads (the Numba training update). A no-op for large
    products or other backends; the previous limits are restored on exit.
    """
    if backend_name != "numpy" or (multiply_adds > SMALL_PRODUCT and not always):
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a declared dependency; the Numba update refuses to run without it
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
