"""CD-k / PCD-k updates against a hand-written reference, reproducibility, history."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from support import to_numpy, trainer_state, updates_on_the_callers_threads

import xprbm
from xprbm.backend import get_backend
from xprbm.kernels import generic, numba_cpu
from xprbm.kernels.update import PARAMETERS
from xprbm.rng import CounterRNG

N_VISIBLE, N_HIDDEN = 7, 5


def _data(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, N_VISIBLE)) < 0.4).astype(np.float32)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _reference_update(state, batch, rng, *, method, k, lr, momentum, decay):
    """CD-k / PCD-k written out in float64 NumPy, drawing the documented uniforms in order."""
    np_backend = get_backend("numpy")
    W, b, c = state["weights"], state["visible_bias"], state["hidden_bias"]

    def draw(p):
        return (generic.uniform(np_backend, p.shape, rng.next_base(), np.float64) < p) * 1.0

    pos = _sigmoid(batch @ W + c)
    h = draw(pos) if method == "cd" else state["hidden_chains"]
    for step in range(k):
        v = draw(_sigmoid(h @ W.T + b))
        if step < k - 1:
            h = draw(_sigmoid(v @ W + c))
    neg = _sigmoid(v @ W + c)
    new = dict(state)
    if method == "pcd":
        new["chains"], new["hidden_chains"] = v, draw(neg)
    grads = {
        "weights": batch.T @ pos / len(batch) - v.T @ neg / len(v),
        "visible_bias": batch.mean(0) - v.mean(0),
        "hidden_bias": pos.mean(0) - neg.mean(0),
    }
    for name, g in grads.items():
        d = decay if name == "weights" else 0.0
        vel = momentum * state["vel_" + name] + lr * (g - d * state[name])
        new["vel_" + name], new[name] = vel, state[name] + vel
    return new


@pytest.mark.parametrize("method, k", [("cd", 1), ("pcd", 1), ("pcd", 3), ("cd", 2)])
def test_update_matches_hand_written_reference(make_rbm, monkeypatch, method, k):
    _split_tiny_models(monkeypatch, 3)  # the Numba update sums partial fields of 3 blocks
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=4)
    X = _data(40)
    settings = dict(learning_rate=0.3, momentum=0.5, weight_decay=0.01, centered=False)
    trainer = xprbm.Trainer(rbm, method=method, k=k, batch_size=6, n_chains=9, **settings)
    trainer._initialise(rbm.visible(X))
    Xb = rbm.array_backend.asarray(X)
    rows = np.array([3, 1, 4, 15, 9, 26])
    for rows_now in (rows, rows[:4]):  # a full batch, then a short one weighted by its size
        before = trainer_state(trainer)
        rng = CounterRNG(trainer.rng.key, trainer.rng.step)
        trainer._update(Xb, rbm.array_backend.asarray(rows_now) if rbm.backend != "numpy"
                        else rows_now)
        expected = _reference_update(before, X[rows_now].astype(np.float64), rng,
                                     method=method, k=k, lr=0.3, momentum=0.5, decay=0.01)
        after = trainer_state(trainer)
        for name in after:
            np.testing.assert_allclose(after[name], expected[name], atol=2e-5, err_msg=name)
        assert trainer.rng.step == rng.step


def test_visible_bias_initialised_from_data_log_odds(make_rbm):
    X = _data(500, seed=2)
    X[:, 0] = 0.0  # an always-off unit gets the clipped log-odds, not -inf
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=0)
    xprbm.Trainer(rbm)._initialise(rbm.visible(X))
    p = np.clip(X.mean(0), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(to_numpy(rbm, rbm.visible_bias), np.log(p / (1 - p)), rtol=1e-5)
    zeros = make_rbm(N_VISIBLE, N_HIDDEN, seed=0)
    zeros.visible_bias = zeros.array_backend.asarray(np.ones(N_VISIBLE), dtype=zeros.array_dtype)
    xprbm.Trainer(zeros, init_visible_bias="zeros")._initialise(zeros.visible(X))
    assert not np.any(to_numpy(zeros, zeros.visible_bias))


def test_same_seed_same_parameters_after_training(make_rbm):
    X = _data(300)
    models = [make_rbm(N_VISIBLE, N_HIDDEN, seed=8) for _ in range(3)]
    for rbm in models[:2]:
        rbm.fit(X, epochs=3, batch_size=32, learning_rate=0.1, progress=False)
    models[2].fit(X, epochs=3, batch_size=32, learning_rate=0.1, progress=False, seed=9)
    a, b, c = (to_numpy(m, m.weights) for m in models)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def _numba_and_generic(X, seed, n_hidden=N_HIDDEN, prepare=None, **fit):
    """The same model trained on ``X`` with the Numba update and with the generic one;
    ``prepare(rbm)`` runs on each before training."""
    models = []
    for kernels in ("numba", "generic"):
        rbm = xprbm.RBM(X.shape[1], n_hidden, seed=seed, fast_path=kernels)
        if prepare is not None:
            prepare(rbm)
        rbm.fit(X, progress=False, **fit)
        models.append(rbm)
    return models


def _assert_same_parameters(models, atol=1e-5):
    for name in PARAMETERS:
        np.testing.assert_allclose(getattr(models[0], name), getattr(models[1], name),
                                   atol=atol, err_msg=name)


def test_fast_and_generic_paths_agree_on_numpy():
    models = _numba_and_generic(_data(300), seed=1, epochs=2, batch_size=50,
                                learning_rate=0.1, k=2)
    _assert_same_parameters(models)


def _train_cupy(method, kernels, replace_weights=False, dtype="float32"):
    """Two epochs of 7 full batches and a short one (PCD: 13 chains), optionally with the
    weights replaced by a new array before a third epoch; returns the model."""
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=1, backend="cupy", fast_path=kernels,
                    dtype=dtype)
    rbm.fit(_data(300), epochs=2, batch_size=40, method=method, k=2, learning_rate=0.1,
            momentum=0.5, weight_decay=0.01, centered=False, progress=False,
            n_chains=13 if method == "pcd" else None)
    if replace_weights:
        rbm.weights = rbm.weights * 0.5  # new memory: a captured graph must not write the old
        rbm.trainer.run(rbm.array_backend.asarray(_data(300)), epochs=1, progress=False)
    return rbm


@pytest.mark.parametrize("method, replace_weights, dtype", [
    ("pcd", False, "float32"), ("cd", False, "float32"), ("pcd", True, "float32"),
    ("cd", True, "float32"), ("pcd", False, "float64")])
def test_cupy_graph_update_matches_generic(cupy_device, method, replace_weights, dtype):
    fast = _train_cupy(method, "cupy", replace_weights, dtype)
    reference = _train_cupy(method, "generic", replace_weights, dtype)
    assert fast.weights.dtype == dtype
    step, trainer = fast.trainer._updater, fast.trainer
    assert step.graph is not None, "full batches should replay a captured CUDA graph"
    chains = None if method == "cd" else {"visible": trainer.state.chains,
                                          "hidden": trainer.state.hidden_chains}
    in_use = step._signature(fast.parameters(), trainer.velocity, chains, trainer.rng.key,
                             trainer.config.update_settings())
    assert step.graph_signature == in_use  # captured for the arrays in use
    for name in PARAMETERS:
        np.testing.assert_allclose(to_numpy(fast, getattr(fast, name)),
                                   to_numpy(reference, getattr(reference, name)), atol=2e-5,
                                   err_msg=name)
    if method == "pcd":
        np.testing.assert_array_equal(to_numpy(fast, fast.trainer.chains),
                                      to_numpy(reference, reference.trainer.chains))


@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_cupy_graph_replay_identical_to_launch_by_launch(cupy_device, monkeypatch, method):
    graph = _train_cupy(method, "cupy", replace_weights=True)
    monkeypatch.setenv("XPRBM_CUDA_GRAPHS", "0")
    direct = _train_cupy(method, "cupy", replace_weights=True)
    assert direct.trainer._updater.graph is None
    for name in PARAMETERS:
        np.testing.assert_array_equal(to_numpy(graph, getattr(graph, name)),
                                      to_numpy(direct, getattr(direct, name)), err_msg=name)


def test_cupy_graph_capture_failure_warns_and_trains_launch_by_launch(cupy_device,
                                                                       monkeypatch):
    from xprbm.kernels import cupy_gpu

    def refuse(enqueue):
        raise RuntimeError("capture refused")

    monkeypatch.setattr(cupy_gpu, "capture", refuse)
    with pytest.warns(RuntimeWarning, match="capture refused"):
        failed = _train_cupy("pcd", "cupy")
    monkeypatch.setenv("XPRBM_CUDA_GRAPHS", "0")
    direct = _train_cupy("pcd", "cupy")
    assert failed.trainer._updater.use_graph is False
    np.testing.assert_array_equal(to_numpy(failed, failed.weights),
                                  to_numpy(direct, direct.weights))
    assert failed.trainer.rng.step == direct.trainer.rng.step


def test_numba_update_converts_assigned_parameters_of_another_dtype_or_layout():
    X = _data(120)
    models = [xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=3, fast_path="numba") for _ in range(2)]
    for rbm in models:
        rbm.fit(X, epochs=1, batch_size=30, progress=False)
    odd = models[1]
    odd.weights = np.asfortranarray(odd.weights.astype(np.float64))
    odd.trainer.velocity["hidden_bias"] = odd.trainer.velocity["hidden_bias"].astype(np.float64)
    for rbm in models:
        rbm.partial_fit(X)
    assert odd.weights.dtype == np.float32
    np.testing.assert_allclose(odd.weights, models[0].weights, atol=1e-6)


def test_fast_update_refuses_parameters_of_the_wrong_shape():
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=3)
    rbm.fit(_data(60), epochs=1, batch_size=30, progress=False)
    rbm.trainer.velocity["visible_bias"] = np.zeros(N_VISIBLE + 1, dtype=np.float32)
    with pytest.raises(ValueError, match=r"velocity of visible_bias has shape \(8,\)"):
        rbm.partial_fit(_data(60))

def _split_tiny_models(monkeypatch, cores: int) -> None:
    """Make the Numba update split this file's 7-unit models over ``cores`` blocks."""
    from xprbm.kernels import numba_update

    monkeypatch.setattr(numba_update, "_available_cores", lambda: cores)
    monkeypatch.setattr(numba_update, "MIN_BLOCK_UNITS", 1)
    monkeypatch.setattr(numba_update, "UNIT_ALIGN", 1)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba runs one thread here")
@pytest.mark.parametrize("method, centered", [("pcd", False), ("cd", False), ("pcd", True)])
def test_numba_training_identical_for_one_and_two_threads(monkeypatch, method, centered):
    """Three blocks, so that the partial hidden fields (and, centred, the blocks' shares of
    the hidden-bias correction) are summed across blocks."""
    _split_tiny_models(monkeypatch, 3)
    seen = updates_on_the_callers_threads(monkeypatch)
    X = _data(300)
    params = []
    previous = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=4, fast_path="numba")
            rbm.fit(X, epochs=2, batch_size=32, method=method, k=2, weight_decay=1e-3,
                    centered=centered, progress=False)
            params.append(rbm.parameters())
    finally:
        numba.set_num_threads(previous)
    assert set(seen) == {1, 2}
    for name in params[0]:
        np.testing.assert_array_equal(params[0][name], params[1][name])


def test_numba_training_holds_every_blas_at_one_thread():
    """The Numba update splits its products over its own threads; a BLAS thread pool beside
    it (SciPy's, loaded by the update itself) would fight it for the cores."""
    pytest.importorskip("threadpoolctl")
    from threadpoolctl import threadpool_info

    seen = []
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0, fast_path="numba")
    rbm.fit(_data(60), epochs=1, batch_size=20, progress=False,
            callback=lambda trainer: seen.extend(
                pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"))
    assert seen and set(seen) == {1}  # NumPy's and SciPy's BLAS (one library or two)


def test_numba_update_blocks_follow_cores_and_sizes():
    from xprbm.kernels import numba_update

    cores = numba_update._available_cores()
    assert numba_update.n_parts(1) == 1
    assert numba_update.n_parts(10**6) == cores
    assert numba_update.n_parts(2 * numba_update.MIN_BLOCK_UNITS) == min(cores, 2)


def test_numba_update_blocks_are_aligned_and_never_empty(monkeypatch):
    from xprbm.kernels import numba_update

    monkeypatch.setattr(numba_update, "_available_cores", lambda: 3)
    monkeypatch.setattr(numba_update, "MIN_BLOCK_UNITS", 1)
    monkeypatch.setattr(numba_update, "UNIT_ALIGN", 4)
    assert numba_update.unit_blocks(20).tolist() == [0, 4, 12, 20]
    assert numba_update.unit_blocks(7).tolist() == [0, 4, 7]  # 7 // 3 rounds down to 0
    monkeypatch.setattr(numba_update, "UNIT_ALIGN", 16)
    assert numba_update.unit_blocks(7).tolist() == [0, 7]
    _assert_same_parameters(_numba_and_generic(_data(100), seed=6, epochs=1, batch_size=20))


def test_numba_update_refuses_buffers_it_would_overrun():
    from xprbm.kernels import numba_update

    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0, fast_path="numba")
    rbm.fit(_data(40), epochs=1, batch_size=20, progress=False)
    step = rbm.trainer._updater
    params = (rbm.weights, rbm.visible_bias, rbm.hidden_bias)
    velocities = tuple(rbm.trainer.velocity[name] for name in PARAMETERS)
    args = dict(X=_data(40), rows=np.arange(20), vis=step.vis, hid=step.hid,
                partials=step.partials, bounds=step.bounds,
                hid_chain=rbm.trainer.state.hidden_chains,
                params=params, velocities=velocities, scale=step.row_scale(20, 20),
                bases=np.zeros(2, np.uint64), pcd=True, k=1, learning_rate=0.1, momentum=0.5,
                weight_decay=0.0)
    numba_update.update(**args)  # as given, the buffers are right
    bad = [dict(bases=np.zeros(1, np.uint64)), dict(hid=step.hid.astype(np.float64)),
           dict(partials=np.empty((1, 40, N_HIDDEN), np.float32)),
           dict(vis=np.asfortranarray(step.vis))]
    for change in bad:
        with pytest.raises(ValueError):
            numba_update.update(**{**args, **change})


@pytest.mark.parametrize("cores", [3, 5])
@pytest.mark.parametrize("method", ["pcd", "cd"])
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("centered", [False, True])
def test_numba_update_with_more_blocks_than_threads(monkeypatch, cores, method, k, centered):
    """A machine with more cores splits each update into more (uneven) blocks: the training
    must agree with the generic update to float32 rounding, centred or not (the centring
    offsets too)."""
    _split_tiny_models(monkeypatch, cores)
    models = _numba_and_generic(_data(200), seed=6, epochs=2, batch_size=23, n_chains=17,
                                method=method, k=k, weight_decay=1e-3, centered=centered)
    _assert_same_parameters(models)
    if centered:
        assert type(models[0].trainer._updater).__name__ == "NumbaUpdate"
        offsets = [model.trainer.state.offsets for model in models]
        for name in ("visible", "hidden"):
            np.testing.assert_allclose(offsets[0][name], offsets[1][name], atol=1e-6)


@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_numba_update_default_blocks_agree_with_generic(monkeypatch, method):
    """Two cores, default block widths: 150 visible units split at unit 64 (a whole number of
    cache lines), so block 1 adds its partial hidden fields to block 0's."""
    from xprbm.kernels import numba_update

    monkeypatch.setattr(numba_update, "_available_cores", lambda: 2)
    assert numba_update.n_parts(150) == 2
    X = (np.random.default_rng(1).random((90, 150)) < 0.3).astype(np.float32)
    models = _numba_and_generic(X, seed=6, n_hidden=20, epochs=2, batch_size=20,
                                method=method, k=2, weight_decay=1e-3)
    step = models[0].trainer._updater
    assert step.bounds.tolist() == [0, 64, 150] and step.partials.shape == (1, 40, 20)
    _assert_same_parameters(models)


@pytest.mark.parametrize("layout", ["fortran", "transposed"])
def test_numba_update_with_weights_that_are_not_c_ordered(layout):
    def reorder(rbm):
        W = rbm.weights
        rbm.weights = np.asfortranarray(W) if layout == "fortran" else np.ascontiguousarray(W.T).T

    _assert_same_parameters(_numba_and_generic(_data(120), seed=8, prepare=reorder, epochs=2,
                                               batch_size=20))


def test_numba_update_falls_back_to_generic_without_threadpoolctl(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # makes the import fail
    X = _data(60)
    fallback = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=2, fast_path="numba")
    with pytest.warns(RuntimeWarning, match="generic update"):
        fallback.fit(X, epochs=1, batch_size=20, progress=False)
    generic_model = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=2, fast_path="generic")
    generic_model.fit(X, epochs=1, batch_size=20, progress=False)
    np.testing.assert_allclose(fallback.weights, generic_model.weights, atol=1e-6)


def test_numba_samples_identical_for_one_and_two_threads():
    rows = numba_cpu.PARALLEL_MIN_ELEMENTS // 100 + 7  # large enough for the parallel kernel
    field = np.random.default_rng(0).standard_normal((rows, 100)).astype(np.float32)
    bias = np.linspace(-1, 1, 100).astype(np.float32)
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            out = field.copy()
            numba_cpu.bernoulli_(out, bias, np.uint64(1234))
            results.append(out)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])
    reference = generic.bernoulli(get_backend("numpy"), field, bias, 1234)
    assert np.mean(results[0] != reference) < 1e-5  # exp may differ by an ulp


def test_history_columns_and_validation_fraction(make_rbm):
    X = _data(400)
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=0)
    history = rbm.fit(X, epochs=3, batch_size=50, validation=0.25, progress=False)
    assert len(history) == 3 and history.epoch == [1, 2, 3]
    data = history.as_dict()
    assert set(data) == {"epoch", "train_pll_per_unit", "valid_pll_per_unit", "recon_error",
                         "free_energy_gap", "seconds"}
    for column in ("train_pll_per_unit", "valid_pll_per_unit", "recon_error",
                   "free_energy_gap"):
        assert all(math.isfinite(x) for x in data[column]), column
    assert all(x < 0 for x in data["train_pll_per_unit"])
    no_valid = make_rbm(N_VISIBLE, N_HIDDEN, seed=0).fit(X, epochs=1, progress=False)
    assert math.isnan(no_valid.valid_pll_per_unit[0]) and math.isnan(no_valid.free_energy_gap[0])


def test_training_learns_a_simple_distribution(make_rbm):
    """Two prototypes plus 5% noise: PLL per unit must improve clearly over the start."""
    g = np.random.default_rng(1)
    protos = np.array([[1, 1, 1, 0, 0, 0, 1], [0, 0, 0, 1, 1, 1, 0]], dtype=np.float32)
    X = protos[g.integers(0, 2, 600)]
    X = np.abs(X - (g.random(X.shape) < 0.05)).astype(np.float32)
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=0)
    before = float(np.mean(to_numpy(rbm, xprbm.pseudo_log_likelihood(rbm, X, exact=True))))
    rbm.fit(X, epochs=30, batch_size=20, learning_rate=0.1, progress=False)
    after = float(np.mean(to_numpy(rbm, xprbm.pseudo_log_likelihood(rbm, X, exact=True))))
    # the data-noise entropy bounds the best PLL near 7 * H(0.05) = 1.39 nats
    assert after > before + 1.5 and after > -2.6, (before, after)


def test_partial_fit_continues_the_same_state(make_rbm):
    X = _data(200)
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=0)
    rbm.partial_fit(X[:100], batch_size=50)
    trainer = rbm.trainer
    rbm.partial_fit(X[100:])
    assert rbm.trainer is trainer and trainer.n_updates == 4 and trainer.epoch == 2


def test_callback_sees_every_epoch(make_rbm):
    seen = []
    make_rbm(N_VISIBLE, N_HIDDEN, seed=0).fit(_data(100), epochs=3, progress=False,
                                               callback=lambda t: seen.append(t.epoch))
    assert seen == [1, 2, 3]


def test_training_data_dtype_does_not_change_the_result(make_rbm):
    """uint8, bool and float64 rows (gathered without conversion on Numba) train the same."""
    X = _data(120)
    results = []
    for data in (X, X.astype(np.uint8), X.astype(bool), X.astype(np.float64),
                 np.asfortranarray(X)):
        rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=2)
        rbm.fit(data, epochs=2, batch_size=25, validation=0.2, progress=False)
        results.append(to_numpy(rbm, rbm.weights))
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_cupy_update_object_agrees_with_generic_on_a_numpy_stand_in(monkeypatch, method):
    """The CuPy update's own logic (stacked buffers, draw numbers from the device counter,
    graph capture and replay, chains copied back to the state), its kernels replaced by the
    NumPy stand-ins of tests/fake_cupy_gpu.py: it must train as the generic update does."""
    import sys

    import fake_cupy_gpu

    from xprbm.kernels import cupy_update
    from xprbm.kernels.update import GenericUpdate

    monkeypatch.setitem(sys.modules, "xprbm.kernels.cupy_gpu", fake_cupy_gpu)
    fake_cupy_gpu.captures.clear()
    models = []
    for make in (lambda backend, method, dtype, layout: cupy_update.CupyUpdate(
                     backend, dtype, layout),
                 lambda backend, method, dtype, layout: GenericUpdate(backend, layout)):
        monkeypatch.setattr(xprbm.kernels, "make_update", make)
        rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=1, fast_path="generic")
        rbm.fit(_data(300), epochs=2, batch_size=40, method=method, k=2, learning_rate=0.1,
                weight_decay=0.01, centered=False, progress=False,
                n_chains=13 if method == "pcd" else None)
        rbm.weights = rbm.weights * 0.5  # new memory: the graph must be captured again
        rbm.trainer.run(_data(300), epochs=1, progress=False)
        models.append(rbm)
    fast, reference = models
    assert len(fake_cupy_gpu.captures) == 2  # once at first, once for the new weights
    assert fast.trainer.rng.step == reference.trainer.rng.step
    _assert_same_parameters(models)
    if method == "pcd":
        assert np.mean(fast.trainer.chains != reference.trainer.chains) < 0.02


# ------------------------------------------------------------------ learning-rate schedules
def test_learning_rate_schedules_give_the_documented_rates():
    linear = xprbm.train.TrainConfig(learning_rate=0.1, learning_rate_schedule="linear",
                                     final_learning_rate=0.01, schedule_epochs=5)
    assert [linear.learning_rate_at(e) for e in range(1, 8)] == pytest.approx(
        [0.1, 0.0775, 0.055, 0.0325, 0.01, 0.01, 0.01], rel=1e-12)
    assert linear.learning_rate_at(1) == 0.1 and linear.learning_rate_at(5) == 0.01  # exactly
    exponential = xprbm.train.TrainConfig(learning_rate=0.1, learning_rate_schedule="exponential",
                                          final_learning_rate=0.001)
    assert [exponential.learning_rate_at(e, schedule_end=3) for e in range(1, 5)] == \
        pytest.approx([0.1, 0.01, 0.001, 0.001], rel=1e-12)
    assert exponential.learning_rate_at(7, schedule_end=1) == 0.001
    with pytest.raises(ValueError, match="schedule_epochs"):
        exponential.learning_rate_at(2)  # no end known
    constant = xprbm.train.TrainConfig(learning_rate=0.3)
    assert constant.learning_rate_at(1) == constant.learning_rate_at(1000) == 0.3
    assert constant.update_settings() == constant.update_settings(0.3)


@pytest.mark.parametrize("options, match", [
    (dict(learning_rate_schedule="cosine"), "learning_rate_schedule must be one of"),
    (dict(learning_rate_schedule="linear"), "needs final_learning_rate"),
    (dict(learning_rate_schedule="exponential", final_learning_rate=0.0), "final_learning_rate"),
    (dict(learning_rate_schedule="linear", final_learning_rate=-1e-3), "final_learning_rate"),
    (dict(learning_rate_schedule="linear", final_learning_rate=1e3), "final_learning_rate"),
    (dict(learning_rate_schedule="linear", final_learning_rate=0.1, schedule_epochs=0),
     "schedule_epochs"),
    (dict(final_learning_rate=0.001), "only with a decaying learning rate"),
    (dict(schedule_epochs=4), "only with a decaying learning rate"),
])
def test_schedule_settings_are_checked(options, match):
    with pytest.raises(ValueError, match=match):
        xprbm.train.TrainConfig(**options)
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    with pytest.raises(ValueError, match=match):
        rbm.fit(_data(20), progress=False, **options)
    assert rbm.trainer is None and not rbm.trained


@pytest.mark.parametrize("fast_path", ["numba", "generic"])
def test_a_schedule_trains_each_epoch_at_its_rate(fast_path):
    """The schedule of fit equals a hand-made one through partial_fit, bit for bit."""
    X = _data(100)
    rates = [0.2, 0.02 ** (1 / 3) * 0.2 ** (2 / 3), 0.02 ** (2 / 3) * 0.2 ** (1 / 3), 0.02,
             0.02]
    scheduled = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=3, fast_path=fast_path)
    scheduled.fit(X, epochs=5, batch_size=20, learning_rate=0.2, progress=False,
                  learning_rate_schedule="exponential", final_learning_rate=0.02,
                  schedule_epochs=4)
    assert scheduled.trainer.state.schedule_end == 5  # the default it did not need
    assert [scheduled.trainer.learning_rate_at(e) for e in range(1, 6)] == \
        pytest.approx(rates, rel=1e-12)
    by_hand = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=3, fast_path=fast_path)
    for epoch in range(1, 6):
        by_hand.partial_fit(X, batch_size=20, learning_rate=scheduled.trainer.learning_rate_at(
            epoch))
    assert by_hand.trainer.config.learning_rate == 0.02  # partial_fit took each new rate
    expected, got = trainer_state(scheduled.trainer), trainer_state(by_hand.trainer)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    constant = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=3, fast_path=fast_path)
    constant.fit(X, epochs=5, batch_size=20, learning_rate=0.2, progress=False)
    assert not np.array_equal(to_numpy(constant, constant.weights),
                              to_numpy(scheduled, scheduled.weights))


def test_partial_fit_changes_only_the_learning_rate_settings():
    X = _data(40)
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    with pytest.raises(ValueError, match="needs schedule_epochs"):
        rbm.partial_fit(X, learning_rate_schedule="linear", final_learning_rate=0.001)
    assert rbm.trainer is None
    rbm.partial_fit(X, batch_size=10, learning_rate=0.1)
    trainer = rbm.trainer
    with pytest.raises(ValueError, match=r"\['batch_size'\]"):
        rbm.partial_fit(X, batch_size=20, learning_rate=0.05)
    assert trainer.config.learning_rate == 0.1 and trainer.epoch == 1  # nothing changed
    with pytest.raises(ValueError, match="needs final_learning_rate"):
        rbm.partial_fit(X, learning_rate_schedule="linear")
    with pytest.raises(ValueError, match="needs schedule_epochs"):
        rbm.partial_fit(X, learning_rate_schedule="linear", final_learning_rate=0.001)
    assert trainer.config.learning_rate_schedule == "constant" and trainer.epoch == 1
    rbm.partial_fit(X, learning_rate_schedule="linear", final_learning_rate=0.001,
                    schedule_epochs=3)
    assert rbm.trainer is trainer and trainer.epoch == 2
    assert trainer.learning_rate_at() == 0.001  # epoch 3 reaches the final rate
    rbm.partial_fit(X)  # no settings: the run's own, schedule included
    assert trainer.epoch == 3 and trainer.config.schedule_epochs == 3


def test_trainer_learning_rate_before_the_first_run():
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    trainer = xprbm.Trainer(rbm, learning_rate_schedule="linear", final_learning_rate=0.001)
    with pytest.raises(ValueError, match="first call"):
        trainer.learning_rate_at()
    trainer.run(_data(40), epochs=2, progress=False)
    assert trainer.state.schedule_end == 2 and trainer.learning_rate_at() == 0.001
    assert trainer.learning_rate_at(1) == 0.01


# ------------------------------------------------------------- fit continues, chains copied
@pytest.mark.parametrize("source", ["memory", "memmap"])
def test_a_second_fit_keeps_the_learned_visible_bias(tmp_path, source):
    X = _data(200, seed=4)
    if source == "memmap":
        np.save(tmp_path / "x.npy", X)
        X = np.load(tmp_path / "x.npy", mmap_mode="r")
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    assert not rbm.trained
    rbm.fit(X, epochs=3, batch_size=20, learning_rate=0.1, progress=False)
    assert rbm.trained
    p = np.clip(np.mean(X, axis=0), 1e-3, 1 - 1e-3)
    log_odds = np.log(p / (1 - p))
    before = {name: to_numpy(rbm, value) for name, value in rbm.parameters().items()}
    assert np.max(np.abs(before["visible_bias"] - log_odds)) > 1e-3  # training moved it
    rbm.fit(X, epochs=1, batch_size=20, learning_rate=1e-9, progress=False)
    for name, value in before.items():
        np.testing.assert_allclose(to_numpy(rbm, getattr(rbm, name)), value, atol=1e-6,
                                   err_msg=name)
    fresh = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    fresh.fit(X, epochs=1, batch_size=20, learning_rate=1e-9, progress=False)
    np.testing.assert_allclose(to_numpy(fresh, fresh.visible_bias), log_odds, atol=1e-5)


def test_trainer_chains_are_copies_and_the_state_holds_the_arrays(make_rbm):
    rbm = make_rbm(N_VISIBLE, N_HIDDEN, seed=0)
    rbm.fit(_data(60), epochs=1, batch_size=20, progress=False)
    trainer = rbm.trainer
    held, hidden = trainer.chains, trainer.hidden_chains
    assert held is not trainer.state.chains and hidden is not trainer.state.hidden_chains
    np.testing.assert_array_equal(to_numpy(rbm, held), to_numpy(rbm, trainer.state.chains))
    snapshot = to_numpy(rbm, held)
    trainer.run(_data(60), epochs=2, progress=False)
    np.testing.assert_array_equal(to_numpy(rbm, held), snapshot)  # training left it alone
    assert not np.array_equal(to_numpy(rbm, trainer.state.chains), snapshot)
    ones = rbm.array_backend.asarray(np.ones((20, N_VISIBLE)), dtype=rbm.array_dtype)
    trainer.chains = ones  # the setter writes the state's array
    assert trainer.state.chains is ones
    cd = make_rbm(N_VISIBLE, N_HIDDEN, seed=0)
    cd.fit(_data(60), epochs=1, method="cd", progress=False)
    assert cd.trainer.chains is None and cd.trainer.hidden_chains is None
