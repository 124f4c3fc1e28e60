"""Where Numba keeps xprbm's compiled kernels: the per-user cache directory.

Numba's own choice for ``cache=True`` is a ``__pycache__`` beside the source, that is, inside
the installed package: files that ``pip uninstall`` leaves behind, and that turn
``xprbm/kernels`` into a stray namespace package when the project is later installed in
editable mode. :func:`install` puts a locator first in Numba's list that sends the kernels
of this folder to ``xprbm.backend.user_cache_dir() / "numba"`` instead (or to a private
folder in the temporary directory when that one cannot be written). ``NUMBA_CACHE_DIR``,
when set, still wins: then Numba's own locator applies.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from numba.core import caching, config

from ..backend import user_cache_dir

KERNELS_DIR = Path(__file__).resolve().parent


def cache_roots() -> list[Path]:
    """Where compiled kernels may go, in order of preference."""
    user = f"{os.getuid()}" if hasattr(os, "getuid") else "user"
    return [user_cache_dir() / "numba", Path(tempfile.gettempdir()) / f"xprbm-numba-{user}"]


class KernelCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for the source files of ``xprbm/kernels`` only."""

    def __init__(self, py_func: object, py_file: str, root: Path) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(root / self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self) -> str:
        return self._cache_path

    @classmethod
    def from_function(cls, py_func: object, py_file: str) -> KernelCacheLocator | None:
        if config.CACHE_DIR or Path(py_file).resolve().parent != KERNELS_DIR:
            return None
        for root in cache_roots():
            locator = cls(py_func, py_file, root)
            try:
                locator.ensure_cache_path()
            except OSError:  # not writable: the next place
                continue
            return locator
        return None


def install() -> None:
    """Put :class:`KernelCacheLocator` first in Numba's list (once)."""
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    if KernelCacheLocator not in impl._locator_classes:
        impl._locator_classes.insert(0, KernelCacheLocator)
