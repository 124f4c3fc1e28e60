"""Checkpoints: round trips, exact resume, atomic writes, and clear errors for bad files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from support import trainer_state

import xprbm
from xprbm import checkpoint, train
from xprbm.io import CheckpointError

N_VISIBLE, N_HIDDEN = 7, 5


def to_numpy(rbm: xprbm.RBM, x) -> np.ndarray:
    """Host copy of a model-backend array."""
    return np.asarray(rbm.array_backend.to_numpy(x))
TRAIN = dict(batch_size=16, learning_rate=0.1, momentum=0.9, weight_decay=0.001)


def _data(n: int = 120, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, N_VISIBLE)) < 0.35).astype(np.float32)


def _saved_model(tmp_path, **kw) -> tuple[xprbm.RBM, object]:
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=1, **kw)
    rbm.fit(_data(), epochs=1, progress=False, **TRAIN)
    return rbm, xprbm.save(rbm, tmp_path / "model.npz")


# ------------------------------------------------------------------------------ round trips
def test_model_round_trip_on_every_backend(make_rbm, tmp_path):
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=3)
    rbm.fit(_data(), epochs=2, progress=False, **TRAIN)
    rbm.sample(4, steps=2)  # advance the model's own stream
    path = xprbm.save(rbm, tmp_path / "model")
    assert path.name == "model.npz"
    for backend in (None, "numpy"):  # where it was saved, and the host
        loaded = xprbm.load(tmp_path / "model", backend=backend)
        assert isinstance(loaded, xprbm.RBM)
        assert loaded.backend == (rbm.backend if backend is None else backend)
        for name, value in rbm.parameters().items():
            np.testing.assert_array_equal(to_numpy(loaded, getattr(loaded, name)),
                                          to_numpy(rbm, value))
        assert (loaded.seed, loaded.dtype) == (rbm.seed, rbm.dtype)
        assert (loaded.rng.key, loaded.rng.step) == (rbm.rng.key, rbm.rng.step)


def test_trainer_round_trip_keeps_alltrainer_state(make_rbm, tmp_path):
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=5)
    rbm.fit(_data(), epochs=2, validation=0.25, progress=False, **TRAIN)
    trainer = rbm.trainer
    loaded = xprbm.load(xprbm.save(trainer, tmp_path / "state.npz"))
    assert isinstance(loaded, xprbm.Trainer) and loaded.rbm.trainer is loaded
    assert loaded.config == trainer.config
    assert (loaded.epoch, loaded.n_updates) == (trainer.epoch, trainer.n_updates)
    for attr in ("rng", "monitor_rng"):
        assert getattr(loaded, attr).state() == getattr(trainer, attr).state()
    assert loaded.history.as_dict().keys() == trainer.history.as_dict().keys()
    np.testing.assert_equal(loaded.history.as_dict(), trainer.history.as_dict())  # NaN-aware
    before, after = trainer_state(trainer), trainer_state(loaded)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_training_state_moves_between_backends(tmp_path):
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=2, backend="array_api_strict")
    rbm.fit(_data(), epochs=2, progress=False, **TRAIN)
    path = xprbm.save(rbm.trainer, tmp_path / "strict.npz")
    moved = xprbm.load(path, backend="numpy")
    assert moved.rbm.backend == "numpy" and moved.rbm.requested_fast_path == "auto"  # numba here
    before, after = trainer_state(rbm.trainer), trainer_state(moved)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    moved.run(_data(), epochs=1, progress=False)  # and it trains on
    assert moved.epoch == 3


def test_unsigned_64_bit_keys_survive(tmp_path):
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=2**64 - 1)
    assert rbm.rng.key >= 2**63  # beyond int64: kept exactly, not as a float
    loaded = xprbm.load(xprbm.save(rbm, tmp_path / "m.npz"))
    assert (loaded.seed, loaded.rng.key) == (rbm.seed, rbm.rng.key)


@pytest.mark.parametrize("kernels", ["numba", "generic"])
@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_resume_after_save_load_is_bit_identical(tmp_path, kernels, method):
    """3 epochs, save, load, 2 more epochs == 5 epochs straight, bit for bit (NumPy)."""
    X = _data(150)
    options = dict(method=method, k=2, validation=0.2, progress=False, **TRAIN)
    straight = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=11, fast_path=kernels)
    straight.fit(X, epochs=5, **options)

    first = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=11, fast_path=kernels)
    first.fit(X, epochs=3, **options)
    path = xprbm.save(first.trainer, tmp_path / "checkpoint")
    del first
    resumed = xprbm.load(path)
    resumed.run(X, epochs=2, validation=0.2, progress=False)

    expected, got = trainer_state(straight.trainer), trainer_state(resumed)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert resumed.rng.state() == straight.trainer.rng.state()
    assert resumed.n_updates == straight.trainer.n_updates and resumed.epoch == 5
    for column in ("train_pll_per_unit", "valid_pll_per_unit", "recon_error", "free_energy_gap"):
        assert getattr(resumed.history, column) == getattr(straight.trainer.history, column)


class _Interrupted(Exception):
    pass


def _interrupt_after(epoch: int):
    """A callback that stops a run once it has finished ``epoch`` (and saved it: the
    checkpoint hook runs after the callback, so the stop comes one epoch later)."""
    def callback(trainer):
        if trainer.epoch > epoch:
            raise _Interrupted
    return callback


@pytest.mark.parametrize("kernels", ["numba", "generic"])
@pytest.mark.parametrize("schedule, schedule_epochs", [("linear", 5), ("exponential", None),
                                                       ("linear", None)])
def test_a_scheduled_run_resumes_bit_identically(tmp_path, kernels, schedule, schedule_epochs):
    """6 epochs straight == a run of 6 stopped after its epoch-3 checkpoint, loaded and run 3
    more epochs: the schedule's end (given, or the first call's last epoch) is in the file."""
    X = _data(150)
    options = dict(method="pcd", k=1, validation=0.2, progress=False, **TRAIN,
                   learning_rate_schedule=schedule, final_learning_rate=0.005,
                   schedule_epochs=schedule_epochs)
    straight = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=11, fast_path=kernels)
    straight.fit(X, epochs=6, **options)

    first = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=11, fast_path=kernels)
    path = tmp_path / "checkpoint.npz"
    with pytest.raises(_Interrupted):
        first.fit(X, epochs=6, checkpoint_every=3, checkpoint_path=path,
                  callback=_interrupt_after(3), **options)
    resumed = xprbm.load(path)
    assert resumed.epoch == 3 and resumed.state.schedule_end == 6
    resumed.run(X, epochs=3, validation=0.2, progress=False)

    expected, got = trainer_state(straight.trainer), trainer_state(resumed)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert resumed.rng.state() == straight.trainer.rng.state() and resumed.epoch == 6
    assert resumed.history.recon_error == straight.trainer.history.recon_error
    assert resumed.learning_rate_at(6) == 0.005 and resumed.learning_rate_at(1) == 0.1


def test_the_trained_flag_is_saved_and_guessed_for_older_files(tmp_path):
    fresh = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=1)
    assert not xprbm.load(xprbm.save(fresh, tmp_path / "fresh.npz")).trained
    trained, _ = _saved_model(tmp_path)
    assert trained.trained and xprbm.load(tmp_path / "model.npz").trained
    for model, expected in ((fresh, False), (trained, True)):
        meta, arrays = model.checkpoint_part()
        del meta["trained"]  # a file of before the flag: a new model's biases are zero
        assert xprbm.RBM.from_checkpoint(meta, arrays).trained is expected
    meta, arrays = trained.checkpoint_part()
    meta["trained"] = "yes"
    with pytest.raises(CheckpointError, match="trained"):
        xprbm.RBM.from_checkpoint(meta, arrays)
    again = xprbm.load(tmp_path / "model.npz")
    bias = to_numpy(again, again.visible_bias).copy()
    again.fit(_data(), epochs=1, progress=False, **{**TRAIN, "learning_rate": 1e-9})
    np.testing.assert_allclose(to_numpy(again, again.visible_bias), bias, atol=1e-6)


def test_periodic_checkpoints_during_fit(tmp_path, monkeypatch):
    saved_epochs = []
    real_write = train.write_checkpoint

    def spy(path, contents):
        saved_epochs.append(contents.parts["trainer"]["epoch"])
        return real_write(path, contents)

    monkeypatch.setattr(train, "write_checkpoint", spy)
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    rbm.fit(_data(), epochs=5, progress=False, checkpoint_every=2,
            checkpoint_path=tmp_path / "ck.npz", **TRAIN)
    assert saved_epochs == [2, 4, 5]
    loaded = xprbm.load(tmp_path / "ck.npz")
    assert loaded.epoch == 5 and len(loaded.history) == 5
    np.testing.assert_array_equal(loaded.rbm.weights, rbm.weights)


def test_checkpoint_every_needs_a_path():
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    with pytest.raises(ValueError, match="checkpoint_path"):
        rbm.fit(_data(), epochs=1, progress=False, checkpoint_every=1)
    with pytest.raises(ValueError, match="checkpoint_every"):
        rbm.fit(_data(), epochs=1, progress=False, checkpoint_every=0, checkpoint_path="x")


# --------------------------------------------------------------------------- atomic writes
def test_crash_during_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    rbm, path = _saved_model(tmp_path)
    old_bytes = path.read_bytes()
    rbm.fit(_data(seed=1), epochs=1, progress=False, **TRAIN)  # new parameters to save

    def crash(handle, members):
        handle.write(b"PK\x03\x04 half of an archive")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(checkpoint, "_write_archive", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        xprbm.save(rbm, path)
    assert path.read_bytes() == old_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary left
    xprbm.load(path)  # still loads


def test_interrupted_rename_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    rbm, path = _saved_model(tmp_path)
    old_bytes = path.read_bytes()

    def refuse(src, dst):
        raise OSError("simulated failure of the rename")

    monkeypatch.setattr(checkpoint.os, "replace", refuse)
    with pytest.raises(OSError, match="simulated"):
        xprbm.save(rbm.trainer, path)
    assert path.read_bytes() == old_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_save_into_a_missing_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        xprbm.save(xprbm.RBM(3, 2, seed=0), tmp_path / "nowhere" / "m.npz")


def test_save_refuses_other_objects(tmp_path):
    with pytest.raises(TypeError, match="RBM or a Trainer"):
        xprbm.save({"weights": 1}, tmp_path / "m.npz")


# ------------------------------------------------------------------------------ bad files
@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_checkpoint_is_refused(tmp_path, keep):
    _, path = _saved_model(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(keep * len(raw))])
    with pytest.raises(CheckpointError, match="truncated|corrupted|empty"):
        xprbm.load(path)


def test_corrupted_array_is_refused(tmp_path):
    rbm, path = _saved_model(tmp_path)
    raw = bytearray(path.read_bytes())
    at = raw.find(np.asarray(rbm.weights).tobytes())
    assert at > 0
    raw[at + 5] ^= 0x55
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupted"):
        xprbm.load(path)


def test_foreign_files_are_refused(tmp_path):
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "plain.npz", weights=np.zeros((3, 2)))
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:
        archive.writestr(f"{checkpoint.METADATA_KEY}.npy", b"")
    for name in ("array.npy", "plain.npz", "notes.txt", "other.npz"):
        with pytest.raises(CheckpointError, match="not an xprbm checkpoint|corrupted"):
            xprbm.load(tmp_path / name)


def _rewrite_metadata(path, change) -> None:
    with np.load(path) as archive:
        members = {name: archive[name] for name in archive.files}
    metadata = json.loads(members[checkpoint.METADATA_KEY].tobytes())
    change(metadata)
    members[checkpoint.METADATA_KEY] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **members)


def test_newer_format_is_refused_with_upgrade_hint(tmp_path):
    _, path = _saved_model(tmp_path)
    _rewrite_metadata(path, lambda m: m.update(format_version=checkpoint.FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match="newer xprbm.*upgrade"):
        xprbm.load(path)


def test_other_format_name_is_refused(tmp_path):
    _, path = _saved_model(tmp_path)
    _rewrite_metadata(path, lambda m: m.update(format="something-else"))
    with pytest.raises(CheckpointError, match="not an xprbm checkpoint"):
        xprbm.load(path)


def test_missing_checkpoint_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        xprbm.load(tmp_path / "absent")


def test_read_metadata_describes_the_file(tmp_path):
    rbm, path = _saved_model(tmp_path)
    meta = checkpoint.read_metadata(path)
    assert meta["kind"] == "rbm" and meta["format_version"] == checkpoint.FORMAT_VERSION
    assert meta["model"]["n_hidden"] == N_HIDDEN
    assert set(meta["arrays"]) == {"model.weights", "model.visible_bias", "model.hidden_bias"}
