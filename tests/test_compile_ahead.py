"""Kernels compile before the progress bar starts, never during the first updates."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stderr

import numpy as np
import pytest

import xprbm
from xprbm import kernels
from xprbm.progress import notice

numba = pytest.importorskip("numba")
if not kernels.numba_available():
    pytest.skip("Numba is disabled", allow_module_level=True)

from xprbm.kernels import numba_cpu, numba_update  # noqa: E402

DISPATCHERS = [numba_update._update, numba_cpu._count_invalid_serial,
               numba_cpu._count_invalid_parallel, numba_cpu._uniform_serial,
               numba_cpu._uniform_parallel, numba_cpu._bernoulli_serial,
               numba_cpu._bernoulli_parallel]


def _signatures() -> list[int]:
    return [len(dispatcher.signatures) for dispatcher in DISPATCHERS]


def _rows(kind: str) -> np.ndarray:
    X = (np.random.default_rng(0).random((60, 40)) < 0.3)
    return {"uint8": X.astype(np.uint8), "bool": X,
            "float64 fortran": np.asfortranarray(X, dtype=np.float64),
            "float32 strided": np.repeat(X.astype(np.float32), 2, axis=1)[:, ::2],
            "list": X.astype(int).tolist()}[kind]


@pytest.mark.parametrize("kind", ["uint8", "bool", "float64 fortran", "float32 strided",
                                  "list"])
@pytest.mark.parametrize("options", [{}, {"method": "cd", "k": 2}, {"centered": True}])
def test_training_compiles_nothing_after_prepare(kind, options):
    X = _rows(kind)
    rbm = xprbm.RBM(40, 6, seed=0, fast_path="numba")
    trainer = xprbm.Trainer(rbm, batch_size=10, **options)
    update = trainer._update_object()
    kernels.prepare(update, X, rbm.fast_path, rbm.array_dtype)
    before = _signatures()
    trainer.run(X, epochs=2, progress=False)
    rbm.sample(3, steps=2, progress=False)
    assert _signatures() == before


def test_prepare_leaves_the_training_state_alone():
    X = _rows("uint8")
    straight = xprbm.RBM(40, 6, seed=3, fast_path="numba")
    straight.fit(X, epochs=2, batch_size=10, progress=False)
    prepared = xprbm.RBM(40, 6, seed=3, fast_path="numba")
    trainer = xprbm.Trainer(prepared, batch_size=10)
    kernels.prepare(trainer._update_object(), X, "numba", prepared.array_dtype)
    trainer.run(X, epochs=2, progress=False)
    for name, value in straight.parameters().items():
        np.testing.assert_array_equal(value, prepared.parameters()[name])


def test_a_slow_block_is_announced_with_its_time_and_a_quick_one_is_not():
    stream = io.StringIO()
    with redirect_stderr(stream):
        with notice("compiling kernels (first run only)", enabled=True, after=0.05):
            time.sleep(0.3)
    said = stream.getvalue()
    assert said.startswith("compiling kernels (first run only) ... done (")
    assert said.rstrip().endswith(" s)")
    stream = io.StringIO()
    with redirect_stderr(stream):
        with notice("compiling", enabled=True, after=5.0):
            pass
        with notice("compiling", enabled=False, after=0.0):
            time.sleep(0.05)
    assert stream.getvalue() == ""
