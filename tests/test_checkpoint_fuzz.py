"""Damaged checkpoints: every truncation and every byte flip of a small training state either
loads the same content or raises CheckpointError, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

import xprbm
from xprbm.checkpoint import CheckpointError

#: one flip pattern at every byte, plus truncations at every length below this many bytes
FLIP = 0x5A


def _state(tmp_path):
    X = (np.random.default_rng(0).random((40, 5)) < 0.4).astype(np.float32)
    rbm = xprbm.RBM(5, 3, seed=0)
    rbm.fit(X, epochs=2, batch_size=10, n_chains=4, progress=False)
    path = xprbm.save(rbm.trainer, tmp_path / "small.npz")
    return path, path.read_bytes()


def _content(trainer) -> dict:
    rbm, state = trainer.rbm, trainer.state
    out = {f"model.{k}": np.asarray(v) for k, v in rbm.parameters().items()}
    out.update({f"velocity.{k}": np.asarray(v) for k, v in state.velocity.items()})
    out.update(chains=np.asarray(state.chains), hidden=np.asarray(state.hidden_chains),
               counters=np.array([state.epoch, state.n_updates, state.rng.step,
                                  state.monitor_rng.step, rbm.rng.step, rbm.seed]),
               keys=np.array([state.rng.key, state.monitor_rng.key, rbm.rng.key],
                             dtype=np.uint64),
               history=np.array([state.history.as_dict()[c] for c in state.history.columns()],
                                dtype=np.float64))
    out["config"] = np.array(repr(trainer.config))
    return out


def _outcome(path, data: bytes, expected: dict) -> str:
    path.write_bytes(data)
    try:
        loaded = xprbm.load(path)
    except CheckpointError:
        return "refused"
    got = _content(loaded)
    same = all(np.array_equal(got[k], expected[k], equal_nan=k == "history")
               for k in expected)
    assert same, "a damaged file loaded other content without an error"
    return "same"


@pytest.mark.slow
def test_every_byte_flip_and_truncation_loads_the_same_or_raises(tmp_path):
    path, good = _state(tmp_path)
    expected = _content(xprbm.load(path))
    damaged = tmp_path / "damaged.npz"
    outcomes = {"same": 0, "refused": 0}
    for i in range(len(good)):
        flipped = bytearray(good)
        flipped[i] ^= FLIP
        outcomes[_outcome(damaged, bytes(flipped), expected)] += 1
    for n in range(len(good)):
        outcomes[_outcome(damaged, good[:n], expected)] += 1
    assert outcomes["refused"] > len(good)  # every truncation and most flips
