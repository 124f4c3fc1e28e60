"""Training on data read block by block (Dask, zarr, memmap, sparse): the same updates as for
data in memory when nothing is shuffled, every row once per epoch when shuffled, and the
scikit-learn estimator on a Dask cluster."""

from __future__ import annotations

import numpy as np
import pytest

import xprbm
from xprbm.blocks import block_source, data_kind
from xprbm.train import Trainer

N_ROWS, N_VISIBLE, N_HIDDEN = 1000, 12, 7


@pytest.fixture(scope="module")
def rows():
    """Distinct binary rows: row i holds the bits of i (so every row can be recognised)."""
    index = np.random.default_rng(0).permutation(N_ROWS)
    return ((index[:, None] >> np.arange(N_VISIBLE)) & 1).astype(np.uint8)


def _memmap(rows, tmp_path):
    np.save(tmp_path / "rows.npy", rows)
    return np.load(tmp_path / "rows.npy", mmap_mode="r")


def _zarr(rows, tmp_path):
    zarr = pytest.importorskip("zarr")
    array = zarr.create_array(str(tmp_path / "rows.zarr"), shape=rows.shape, chunks=(64, 12),
                              dtype="uint8")
    array[:] = rows
    return array


def _dask(rows, tmp_path):
    dask_array = pytest.importorskip("dask.array")
    return dask_array.from_array(rows, chunks=(90, 12))


def _small_blocks(rows, tmp_path):
    """A memmap read in blocks of 50 rows with a buffer of 130 rows."""
    return block_source(_memmap(rows, tmp_path), block_bytes=50 * N_VISIBLE,
                        buffer_bytes=130 * N_VISIBLE)


def _sparse(rows, tmp_path):
    from scipy import sparse

    return block_source(sparse.csr_matrix(rows), block_bytes=70 * N_VISIBLE)


MAKERS = {"memmap": _memmap, "zarr": _zarr, "dask": _dask, "small blocks": _small_blocks,
          "sparse": _sparse}


def _fit(data, **options):
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=4)
    rbm.fit(data, epochs=2, batch_size=32, progress=False, **options)
    return rbm


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_unshuffled_blocks_give_the_updates_of_data_in_memory(rows, tmp_path, kind):
    data = MAKERS[kind](rows, tmp_path)
    assert block_source(data) is not None
    streamed = _fit(data, shuffle=False)
    in_memory = _fit(rows, shuffle=False)
    for name, value in in_memory.parameters().items():
        np.testing.assert_array_equal(getattr(streamed, name), value, err_msg=name)
    np.testing.assert_array_equal(streamed.trainer.chains, in_memory.trainer.chains)
    history = streamed.trainer.history
    np.testing.assert_allclose(history.train_pll_per_unit,
                               in_memory.trainer.history.train_pll_per_unit, rtol=1e-5)


def test_one_block_is_shuffled_as_data_in_memory(rows, tmp_path):
    np.testing.assert_array_equal(_fit(_memmap(rows, tmp_path)).weights, _fit(rows).weights)


@pytest.mark.parametrize("kind", ["small blocks", "zarr", "dask"])
def test_a_shuffled_epoch_visits_every_row_once_in_full_batches(rows, tmp_path, kind):
    source = block_source(MAKERS[kind](rows, tmp_path))
    trainer = Trainer(xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=1), batch_size=32)
    seen, sizes = [], []
    for data, batch in trainer._epoch_batches(source, True, trainer._update_object()):
        seen.append(np.asarray(data)[batch])
        sizes.append(len(batch))
    seen = np.concatenate(seen)
    codes = (seen.astype(np.int64) << np.arange(N_VISIBLE)).sum(axis=1)
    assert sorted(codes) == list(range(N_ROWS))
    assert sizes[:-1] == [32] * (len(sizes) - 1) and len(sizes) == -(-N_ROWS // 32)
    # shuffled: the first batch is not a run of stored rows
    first = (rows[:32].astype(np.int64) << np.arange(N_VISIBLE)).sum(axis=1)
    assert not np.array_equal(codes[:32], first)


def test_a_validation_fraction_needs_data_in_memory(rows, tmp_path):
    rbm = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    with pytest.raises(ValueError, match="validation rows as an array"):
        rbm.fit(_memmap(rows, tmp_path), epochs=1, validation=0.1, progress=False)
    rbm.fit(_memmap(rows, tmp_path), epochs=1, validation=rows[:100], progress=False)
    assert np.isfinite(rbm.trainer.history.free_energy_gap[-1])


def test_blocks_are_checked_as_they_are_read(rows, tmp_path):
    bad = rows.copy()
    bad[900, 3] = 2
    np.save(tmp_path / "bad.npy", bad)
    data = block_source(np.load(tmp_path / "bad.npy", mmap_mode="r"), block_bytes=100 * 12)
    with pytest.raises(ValueError, match="binary"):
        xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0).fit(data, epochs=1, progress=False,
                                                   monitor_size=0)


def test_visible_bias_from_the_means_of_the_blocks(rows, tmp_path):
    streamed = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    streamed.fit(_small_blocks(rows, tmp_path), epochs=1, progress=False, learning_rate=1e-12)
    in_memory = xprbm.RBM(N_VISIBLE, N_HIDDEN, seed=0)
    in_memory.fit(rows, epochs=1, progress=False, learning_rate=1e-12)
    np.testing.assert_allclose(streamed.visible_bias, in_memory.visible_bias, atol=1e-6)


def test_plain_arrays_are_not_streamed(rows):
    assert data_kind(rows) is None and block_source(rows) is None
    assert data_kind(rows.tolist()) is None


@pytest.mark.parametrize("kind", ["memmap", "zarr", "dask"])
def test_the_estimator_streams_dask_zarr_and_memmaps(rows, tmp_path, kind):
    pytest.importorskip("sklearn")
    from xprbm.sklearn import BernoulliRBM

    data = MAKERS[kind](rows, tmp_path)
    streamed = BernoulliRBM(n_components=N_HIDDEN, n_iter=2, random_state=0).fit(data)
    in_memory = BernoulliRBM(n_components=N_HIDDEN, n_iter=2, random_state=0,
                             dtype="float32").fit(rows)
    assert streamed.components_.dtype == np.float32 and streamed.n_features_in_ == N_VISIBLE
    np.testing.assert_array_equal(streamed.components_, in_memory.components_)
    streamed.partial_fit(data)
    assert streamed.model_.trainer.n_updates == 3 * in_memory.model_.trainer.n_updates // 2


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster_finds_the_local_best():
    """GridSearchCV under joblib's dask backend on a 2-worker LocalCluster: the same scores,
    hence the same best parameters, as the same search run locally."""
    pytest.importorskip("sklearn")
    distributed = pytest.importorskip("distributed")
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from xprbm.sklearn import BernoulliRBM

    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16.0, y[:600]
    pipe = Pipeline([("rbm", BernoulliRBM(n_components=16, n_iter=2, random_state=0)),
                     ("logistic", LogisticRegression(max_iter=100))])
    grid = {"rbm__learning_rate": [0.01, 0.1], "rbm__n_components": [8, 16]}
    local = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        remote = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X, y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
