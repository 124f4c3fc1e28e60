"""Never lose a run: divergence, locks, data fingerprints, temp files, odd inputs."""

from __future__ import annotations

import numpy as np
import pytest

import xprbm

N_VISIBLE, N_HIDDEN = 7, 5


def _data(n: int = 60, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, N_VISIBLE)) < 0.4).astype(np.float32)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
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


def test_assigned_parameters_are_checked():
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    with pytest.raises(ValueError, match=r"weights must have shape \(7, 5\)"):
        rbm.weights = np.zeros((N_HIDDEN, N_VISIBLE), dtype=np.float32)
    with pytest.raises(TypeError, match="real floating"):
        rbm.hidden_bias = np.zeros(N_HIDDEN, dtype=np.complex64)
    assert rbm.weights.shape == (N_VISIBLE, N_HIDDEN)  # nothing was changed


def test_seeds_of_64_bits_and_beyond():
    xprbm.RBM(3, 2, seed=2**64 - 1)
    with pytest.raises(ValueError, match="below 2\\*\\*64"):
        xprbm.RBM(3, 2, seed=2**64)


def test_messages_name_the_real_problem(tmp_path):
    sparse = pytest.importorskip("scipy.sparse")
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    with pytest.raises(TypeError, match="sparse matrix.*toarray"):  # fit streams them
        rbm.hidden_probs(sparse.csr_matrix(_data()))
    history = rbm.fit(_data(), epochs=1, validation=np.float32(0.25), progress=False)
    assert np.isfinite(history.valid_pll_per_unit[0])
    with pytest.raises(FileNotFoundError, match="not a regular file"):
        xprbm.load("/dev/null")
    folder = tmp_path / "adir"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        xprbm.save(rbm, folder)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        rbm.fit(_data(), epochs=1, progress=False, checkpoint_path=folder)
    xprbm.save(rbm, tmp_path / "model")
    (tmp_path / "model").mkdir()  # a folder beside model.npz: load still finds the file
    assert xprbm.load(tmp_path / "model").n_visible == N_VISIBLE


def test_an_unwritable_checkpoint_folder_fails_before_training(tmp_path, monkeypatch):
    import pathlib

    def refuse(self, *args, **kwargs):  # root writes everywhere: make the folder refuse
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "touch", refuse)
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    with pytest.raises(PermissionError, match="cannot write checkpoints"):
        rbm.fit(_data(), epochs=50, progress=False, checkpoint_path=tmp_path / "ck.npz")
    assert rbm.trainer.epoch == 0


def test_exact_log_partition_of_a_huge_layer_warns_first(monkeypatch):
    from xprbm.partition import exact

    def stop(**kwargs):  # enumerating 2**40 states would take hours: stop at the start
        raise KeyboardInterrupt

    monkeypatch.setattr(exact, "progress_bar", stop)
    with pytest.warns(RuntimeWarning, match="2\\*\\*40 states"), \
            pytest.raises(KeyboardInterrupt):
        xprbm.exact_log_partition(xprbm.RBM(40, 40, seed=0), max_units=40)


def test_only_a_resumed_state_checks_its_data(tmp_path):
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    rbm.fit(_data(seed=0), epochs=1, progress=False)
    rbm.trainer.run(_data(seed=1), epochs=1, progress=False)  # in-process: the user knows
    path = xprbm.save(rbm.trainer, tmp_path / "ck")
    with pytest.raises(ValueError, match="other data.*new_data=True"):
        xprbm.load(path).run(_data(seed=0), epochs=1, progress=False)
    xprbm.load(path).run(_data(seed=1), epochs=1, progress=False)  # the same data: fine
    xprbm.load(path).run(_data(seed=0), epochs=1, progress=False, new_data=True)
