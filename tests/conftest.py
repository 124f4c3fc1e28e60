"""One suite for every backend: numpy with and without Numba, array_api_strict, cupy."""

from __future__ import annotations

import functools

import pytest

import xprbm
from xprbm.backend import BackendUnavailableError

# (backend, kernels) pairs; cupy runs only where a CUDA device answers
BACKENDS = {
    "numpy-numba": ("numpy", "numba"),
    "numpy-generic": ("numpy", "generic"),
    "strict": ("array_api_strict", "generic"),
    "cupy": ("cupy", "auto"),
}


@functools.cache
def _available(name: str) -> bool:
    try:
        xprbm.get_backend(name)
    except BackendUnavailableError:
        return False
    return True


@pytest.fixture(params=list(BACKENDS))
def backend(request):
    """Name of a backend configuration (see ``BACKENDS``)."""
    name = BACKENDS[request.param][0]
    if not _available(name):
        pytest.skip(f"backend {name!r} is not available here (CuPy needs a CUDA device)")
    return request.param


@pytest.fixture
def cupy_device():
    """Skip unless CuPy answers with a CUDA device (for tests of the CuPy path alone)."""
    if not _available("cupy"):
        pytest.skip("CuPy needs a CUDA device")


@pytest.fixture
def make_rbm(backend):
    """Factory ``make_rbm(n_visible, n_hidden, **kw)`` on the parametrised backend."""
    name, kernels = BACKENDS[backend]
    return functools.partial(xprbm.RBM, backend=name, fast_path=kernels)
