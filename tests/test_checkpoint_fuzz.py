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
    print(f"{len(good)} bytes; flips and truncations: {outcomes}")  # the note's figures (-s)


CRASHING_RUN = """
import sys, numpy as np, xprbm
X = (np.random.default_rng(0).random((200, 300)) < 0.3).astype(np.float32)
rbm = xprbm.RBM(300, 400, seed=0)
rbm.fit(X[:100], epochs=1, batch_size=100, progress=False)  # compiled before the clock runs
print("ready", flush=True)
rbm.fit(X, epochs=10**6, batch_size=100, checkpoint_every=1, checkpoint_path=sys.argv[1],
        progress=False)
"""


@pytest.mark.slow
def test_sigkill_during_periodic_saves_never_breaks_the_checkpoint(tmp_path):
    """Each epoch saves (two updates, then a 2 MB checkpoint): a kill lands in a save often.
    Whatever the moment, the file on disk loads; orphaned temp files go at the next save."""
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "ck.npz"
    orphans_seen = 0
    for delay in (0.3, 0.45, 0.6, 0.75, 0.9, 1.05):
        run = subprocess.Popen([sys.executable, "-c", CRASHING_RUN, str(path)],
                               stdout=subprocess.PIPE, text=True)
        assert run.stdout.readline().strip() == "ready"
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        run.wait()
        if path.exists():
            assert xprbm.load(path).epoch >= 1
        orphans_seen += len(list(tmp_path.glob(".ck.npz.*.tmp")))
    assert path.exists()
    xprbm.save(xprbm.load(path), path)
    assert not list(tmp_path.glob(".ck.npz.*.tmp"))
    print(f"temp files left by the kills: {orphans_seen}")
