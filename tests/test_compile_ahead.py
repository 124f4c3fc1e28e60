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


def _rows(kind: str, folder) -> np.ndarray:
    X = (np.random.default_rng(0).random((60, 40)) < 0.3)
    if kind == "read-only memmap":
        np.save(folder / "rows.npy", X.astype(np.uint8))
        return np.load(folder / "rows.npy", mmap_mode="r")
    return {"uint8": X.astype(np.uint8), "bool": X,
            "float64 fortran": np.asfortranarray(X, dtype=np.float64),
            "float32 strided": np.repeat(X.astype(np.float32), 2, axis=1)[:, ::2],
            "masked": np.ma.array(X.astype(np.uint8)),
            "list": X.astype(int).tolist()}[kind]


KINDS = ["uint8", "bool", "float64 fortran", "float32 strided", "masked", "read-only memmap",
         "list"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [{}, {"method": "cd", "k": 2}, {"centered": True}])
def test_training_compiles_nothing_after_prepare(kind, options, tmp_path):
    """``Trainer.run`` compiles (under its notice) before its first update: what the loop then
    runs is compiled already, whatever the rows' dtype, layout or writability."""
    X = _rows(kind, tmp_path)
    rbm = xprbm.RBM(40, 6, seed=0, fast_path="numba")
    trainer = xprbm.Trainer(rbm, batch_size=10, **options)
    calls = []
    original = kernels.prepare

    def prepare_and_count(*args):
        original(*args)
        calls.append(_signatures())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "prepare", prepare_and_count)
        trainer.run(X, epochs=2, progress=False)
        rbm.sample(3, steps=2, progress=False)
        trainer.run(X, epochs=1, progress=False)  # a second call prepares nothing new
    assert len(calls) == 2 and calls[0] == calls[1] == _signatures()


def test_prepare_leaves_the_training_state_alone(tmp_path):
    X = _rows("uint8", tmp_path)
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
