"""The sparse products of the Numba update (:mod:`xprbm.kernels.numba_sparse`): the hidden
field over nonzero states, the weight gradient over the units that are on in some row."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from support import updates_on_the_callers_threads

import xprbm
from xprbm.kernels import numba_sparse, numba_update
from xprbm.kernels.update import PARAMETERS

N_VISIBLE, N_HIDDEN = 40, 12


@numba.njit(cache=False)
def _row_fields(vis, W, lo, hi, f_lo, f_hi, out, units, coef):
    numba_sparse.row_fields(vis, W, lo, hi, f_lo, f_hi, out, units, coef)


@numba.njit(cache=False)
def _count(vis, lo, hi, f_lo, f_hi):
    return numba_sparse.count_nonzero(vis, lo, hi, f_lo, f_hi)


@numba.njit(cache=False)
def _occupied_and_gathered(vis, lo, hi, counts, units, out):
    k = numba_sparse.occupied_units(vis, lo, hi, counts, units)
    numba_sparse.gather_units(vis, lo, units, k, out)
    return k


def _states(n_rows: int, density: float, seed: int, grey: bool = False,
            n_visible: int = N_VISIBLE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    on = rng.random((n_rows, n_visible)) < density
    values = rng.random((n_rows, n_visible)) if grey else np.ones((n_rows, n_visible))
    return (on * values).astype(np.float32)


@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 1.0])
@pytest.mark.parametrize("grey", [False, True])
@pytest.mark.parametrize("n_hidden", [1, 12, 37])
def test_row_fields_equal_the_dense_product_of_the_block(density, grey, n_hidden):
    """Rows with 0 to 17 nonzeros in the block (the eight-row loop and its remainder), grey
    states weighted by their value, only rows f_lo:f_hi written."""
    vis = _states(30, density, seed=1, grey=grey)
    W = np.random.default_rng(2).normal(size=(N_VISIBLE, n_hidden)).astype(np.float32)
    lo, hi, f_lo, f_hi = 5, 22, 3, 27
    out = np.full((30, n_hidden), 7.0, np.float32)
    units, coef = np.zeros(N_VISIBLE, np.int32), np.zeros(N_VISIBLE, np.float32)
    _row_fields(vis, W, lo, hi, f_lo, f_hi, out, units, coef)
    expected = vis[f_lo:f_hi, lo:hi].astype(np.float64) @ W[lo:hi].astype(np.float64)
    np.testing.assert_allclose(out[f_lo:f_hi], expected, rtol=1e-5, atol=1e-5)
    assert (out[:f_lo] == 7.0).all() and (out[f_hi:] == 7.0).all()
    assert _count(vis, lo, hi, f_lo, f_hi) == np.count_nonzero(vis[f_lo:f_hi, lo:hi])


def test_occupied_units_and_their_columns():
    vis = _states(9, 0.1, seed=7, grey=True)
    vis[:, 12] = 0.0
    vis[4, 12] = 0.5  # on in one row only
    lo, hi = 6, 33
    counts, units = np.zeros(N_VISIBLE, np.int64), np.zeros(N_VISIBLE, np.int64)
    out = np.zeros((9, N_VISIBLE), np.float32)
    k = _occupied_and_gathered(vis, lo, hi, counts, units, out)
    expected = np.flatnonzero(vis[:, lo:hi].any(axis=0))
    assert 0 < k < hi - lo and units[:k].tolist() == expected.tolist()
    assert 12 - lo in units[:k]
    np.testing.assert_array_equal(out[:, :k], vis[:, lo + expected])


def _fit(X, monkeypatch, field=0.0, gather=0.0, **fit):
    """A model trained with the sparse products' thresholds ``field`` and ``gather`` (read
    when the update object is built)."""
    monkeypatch.setattr(numba_sparse, "FIELD_BELOW", field)
    monkeypatch.setattr(numba_sparse, "GATHER_BELOW", gather)
    rbm = xprbm.RBM(X.shape[1], N_HIDDEN, seed=5, fast_path="numba")
    rbm.fit(X, progress=False, **fit)
    sparse = rbm.trainer._updater.sparse
    assert (sparse.field_below, sparse.gather_below) == (field, gather)
    return rbm


def _split(monkeypatch, cores: int) -> None:
    """Split 40 visible units over ``cores`` blocks (each block decides on its own)."""
    monkeypatch.setattr(numba_update, "_available_cores", lambda: cores)
    monkeypatch.setattr(numba_update, "MIN_BLOCK_UNITS", 1)
    monkeypatch.setattr(numba_update, "UNIT_ALIGN", 1)


@pytest.mark.parametrize("field, gather", [(1.0, 0.0), (0.0, 1.01), (1.0, 1.01)])
@pytest.mark.parametrize("method, k, centered",
                         [("pcd", 1, False), ("pcd", 2, True), ("cd", 1, False),
                          ("cd", 2, True)])
def test_sparse_training_agrees_with_the_generic_update(monkeypatch, field, gather, method, k,
                                                        centered):
    """Data whose first 8 units are never on, so that the gradient gathers columns."""
    _split(monkeypatch, 3)
    X = _states(200, 0.15, seed=3)
    X[:, :8] = 0.0
    fit = dict(epochs=2, batch_size=25, method=method, k=k, weight_decay=1e-3,
               centered=centered)
    sparse = _fit(X, monkeypatch, field, gather, **fit)
    generic = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=5, fast_path="generic")
    generic.fit(X, progress=False, **fit)
    for name in PARAMETERS:
        np.testing.assert_allclose(getattr(sparse, name), getattr(generic, name), atol=1e-5,
                                   err_msg=name)
    if method == "pcd":  # the same draws: the chains agree to the last state
        np.testing.assert_array_equal(sparse.trainer.chains, generic.trainer.chains)


@pytest.mark.parametrize("data_dtype", [np.uint8, np.bool_])
def test_sparse_float64_training_on_narrow_data_with_a_short_last_batch(monkeypatch,
                                                                        data_dtype):
    """A float64 model gathers its batches from uint8 / bool rows; 190 rows in batches of 25
    end with a short batch of 15. Both sparse products agree with the dense ones to float64
    rounding (the Numba and generic paths differ by 1e-9 here whatever the products: the
    Numba sigmoid's exp is a float32 polynomial)."""
    _split(monkeypatch, 3)
    X = _states(190, 0.15, seed=9).astype(data_dtype)
    X[:, :6] = 0
    fit = dict(epochs=2, batch_size=25, k=2, weight_decay=1e-3)
    models = []
    for field, gather in ((0.0, 0.0), (1.0, 1.01)):
        monkeypatch.setattr(numba_sparse, "FIELD_BELOW", field)
        monkeypatch.setattr(numba_sparse, "GATHER_BELOW", gather)
        rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=5, fast_path="numba", dtype="float64")
        rbm.fit(X, progress=False, **fit)
        models.append(rbm)
    gathered = models[1].trainer._updater.sparse.gathered
    assert gathered.dtype == np.float64 and gathered.any()  # the gather ran
    for name in PARAMETERS:
        np.testing.assert_allclose(getattr(models[0], name), getattr(models[1], name),
                                   rtol=0, atol=1e-13, err_msg=name)


def _assert_identical(got, expected, label):
    for name in PARAMETERS:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{label} {name}")


def test_each_block_picks_its_field_by_the_density_of_its_states(monkeypatch):
    """With the threshold between the data's density (15%) and 1, every field is sparse:
    the result is the always-sparse one, bit for bit; below the density, the always-dense
    one. The two add their terms in different orders (about 60 per row and block here), so
    their roundings differ and the test sees which ran."""
    _split(monkeypatch, 2)
    X = _states(150, 0.15, seed=4, n_visible=800)
    fit = dict(epochs=2, batch_size=25, centered=False)
    always_sparse = _fit(X, monkeypatch, field=1.0, **fit).parameters()
    always_dense = _fit(X, monkeypatch, field=0.0, **fit).parameters()
    assert any((always_sparse[name] != always_dense[name]).any() for name in PARAMETERS)
    for below, expected in ((0.6, always_sparse), (0.02, always_dense)):
        _assert_identical(_fit(X, monkeypatch, field=below, **fit).parameters(), expected,
                          below)


def test_the_gradient_gathers_only_when_enough_units_are_off(monkeypatch):
    """Half of the 800 units are never on in the data (and soon not in the chains), so a
    block gathers its occupied columns below a threshold of 0.8 and not below 0.2: the
    gathered columns are scratch that only gathering writes."""
    _split(monkeypatch, 1)
    X = _states(150, 0.3, seed=8, n_visible=800)
    X[:, ::2] = 0.0
    fit = dict(epochs=2, batch_size=25, centered=False)
    for below, gathers in ((0.8, True), (0.2, False)):
        sparse = _fit(X, monkeypatch, gather=below, **fit).trainer._updater.sparse
        assert sparse.gathered.any() == gathers, below


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba runs one thread here")
def test_sparse_training_identical_on_one_and_two_threads(monkeypatch):
    _split(monkeypatch, 3)
    seen = updates_on_the_callers_threads(monkeypatch)
    X = _states(200, 0.15, seed=6)
    X[:, :5] = 0.0  # the gradient gathers
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            results.append(_fit(X, monkeypatch, 1.0, 1.01, epochs=2, batch_size=25,
                                k=2).parameters())
    finally:
        numba.set_num_threads(previous)
    assert set(seen) == {1, 2}
    for name in PARAMETERS:
        np.testing.assert_array_equal(results[0][name], results[1][name], err_msg=name)


def test_update_refuses_sparse_scratch_that_does_not_fit():
    bounds = np.array([0, 16, N_VISIBLE])
    scratch = numba_sparse.SparseScratch.allocate(30, N_HIDDEN, bounds, np.float32)
    scratch.check(30, N_HIDDEN, bounds, np.float32)
    scratch.check(20, N_HIDDEN, bounds, np.float32)  # a short batch
    for wrong in (dict(n_rows=31), dict(n_hidden=N_HIDDEN + 1), dict(dtype=np.float64),
                  dict(bounds=np.array([0, 10, 20, N_VISIBLE])),
                  dict(bounds=np.array([0, 5, N_VISIBLE]))):  # widest 35, padded 48
        args = {**dict(n_rows=30, n_hidden=N_HIDDEN, bounds=bounds, dtype=np.float32),
                **wrong}
        with pytest.raises(ValueError, match="sparse scratch"):
            scratch.check(**args)
