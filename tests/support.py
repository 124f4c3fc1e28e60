"""Helpers shared by the tests (kept out of conftest.py, whose module name bench/ also uses)."""

from __future__ import annotations

import contextlib

import numpy as np

import xprbm


def to_numpy(rbm: xprbm.RBM, x) -> np.ndarray:
    """Host copy of a model-backend array (float64 for comparisons)."""
    return np.asarray(rbm.array_backend.to_numpy(x), dtype=np.float64)


def randomise(rbm: xprbm.RBM, scale: float = 1.0, seed: int = 0) -> xprbm.RBM:
    """Give ``rbm`` random parameters of the given scale (tiny models need strong couplings)."""
    g = np.random.default_rng(seed)
    rbm.weights = rbm.array_backend.asarray(
        scale * g.standard_normal((rbm.n_visible, rbm.n_hidden)), dtype=rbm.array_dtype)
    rbm.visible_bias = rbm.array_backend.asarray(scale * g.standard_normal(rbm.n_visible),
                                            dtype=rbm.array_dtype)
    rbm.hidden_bias = rbm.array_backend.asarray(scale * g.standard_normal(rbm.n_hidden),
                                           dtype=rbm.array_dtype)
    return rbm


def trainer_state(trainer: xprbm.Trainer) -> dict[str, np.ndarray]:
    """Host copies of everything an update changes: parameters, momentum, chains."""
    rbm = trainer.rbm
    state = {name: to_numpy(rbm, value) for name, value in rbm.parameters().items()}
    state.update({"vel_" + n: to_numpy(rbm, v) for n, v in trainer.velocity.items()})
    if trainer.chains is not None:
        state["chains"] = to_numpy(rbm, trainer.chains)
        state["hidden_chains"] = to_numpy(rbm, trainer.hidden_chains)
    return state


def updates_on_the_callers_threads(monkeypatch) -> list[int]:
    """Make the Numba update run on the count ``numba.set_num_threads`` sets, instead of the
    count its thread governor would choose (tiny test models start on one thread and stay
    there); returns a list that records the count of every update."""
    import numba

    from xprbm.kernels.threads import ThreadGovernor

    seen: list[int] = []

    @contextlib.contextmanager
    def call(self):
        seen.append(numba.get_num_threads())
        yield

    monkeypatch.setattr(ThreadGovernor, "call", call)
    return seen
