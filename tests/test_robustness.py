"""Never lose a run: divergence, locks, data fingerprints, temp files, odd inputs."""

from __future__ import annotations

import numpy as np
import pytest

import xprbm

N_VISIBLE, N_HIDDEN = 7, 5


def _data(n: int = 60, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, N_VISIBLE)) < 0.4).astype(np.float32)


def test_divergence_stops_training_and_restores_the_last_finite_epoch(make_rbm, tmp_path):
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=0)
    rbm.fit(_data(), epochs=2, batch_size=10, progress=False, learning_rate=0.05)
    trainer = rbm.trainer
    trainer.config = xprbm.TrainConfig(batch_size=10, learning_rate=50.0, weight_decay=10.0)
    path = tmp_path / "ck.npz"
    seen = []
    with pytest.raises(xprbm.TrainingDivergedError) as error:
        trainer.run(_data(), epochs=20, progress=False, checkpoint_path=path,
                    callback=lambda t: seen.append(
                        {k: np.array(t.rbm.array_backend.to_numpy(v), copy=True)
                         for k, v in t.rbm.parameters().items()}))
    last = error.value.epoch
    assert f"diverged in epoch {last + 1}" in str(error.value)
    assert f"back at epoch {last}" in str(error.value) and "smaller learning rate" in str(
        error.value)
    assert trainer.epoch == last == len(trainer.history) and len(seen) == last - 2
    for name, value in rbm.parameters().items():  # exactly the last finite epoch's
        np.testing.assert_array_equal(rbm.array_backend.to_numpy(value), seen[-1][name])
    saved = xprbm.load(path)
    assert saved.epoch == last
    np.testing.assert_array_equal(saved.rbm.array_backend.to_numpy(saved.rbm.weights),
                                  seen[-1]["weights"])


def test_a_nan_model_refuses_to_sample():
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    rbm.weights = np.full((N_VISIBLE, N_HIDDEN), np.nan, dtype=np.float32)
    with pytest.raises(ValueError, match="NaN or infinite"):
        rbm.sample(3, steps=2)


def test_absurd_learning_rates_are_refused():
    with pytest.raises(ValueError, match="learning_rate must lie in"):
        xprbm.TrainConfig(learning_rate=1e308)


@pytest.mark.parametrize("dtype", [np.float16, ">f4", ">f8", ">i2", np.longdouble, np.uint8])
def test_fit_takes_every_numeric_dtype_and_byte_order(dtype):
    X = _data(40)
    reference = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=1)
    reference.fit(X, epochs=1, batch_size=10, progress=False)
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=1)
    rbm.fit(X.astype(dtype), epochs=1, batch_size=10, progress=False)
    np.testing.assert_array_equal(rbm.weights, reference.weights)


def test_read_only_parameters_are_copied_not_written():
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=1)
    frozen = np.array(rbm.weights)
    frozen.flags.writeable = False
    rbm.weights = frozen
    rbm.fit(_data(40), epochs=1, batch_size=10, progress=False)
    assert rbm.weights is not frozen and not np.array_equal(rbm.weights, frozen)


def test_compiled_kernels_are_cached_per_user_never_in_the_package(tmp_path):
    """Numba's default would write into site-packages/xprbm/kernels/__pycache__, which
    outlives an uninstall and shadows a later editable install."""
    pytest.importorskip("numba")
    import os
    import subprocess
    import sys
    from pathlib import Path

    package = Path(xprbm.__file__).parent
    before = set(package.rglob("*.nb[ic]"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=str(package.parent))
    script = ("import numpy as np, xprbm\n"
              "X = (np.random.default_rng(0).random((40, 7)) < 0.4).astype(np.float32)\n"
              "xprbm.RBM(7, 5, seed=0).fit(X, epochs=1, batch_size=10, progress=False)\n"
              "from xprbm.kernels import numba_cpu\n"
              "print(numba_cpu._bernoulli_serial._cache._cache_path)")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(tmp_path / "xprbm" / "numba"))
    assert list((tmp_path / "xprbm" / "numba").rglob("*.nbi"))
    assert set(package.rglob("*.nb[ic]")) == before
