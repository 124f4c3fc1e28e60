"""The scikit-learn drop-in: scikit-learn's estimator checks, its interface and defaults,
input types and dtypes, and what it learns next to scikit-learn's own BernoulliRBM."""

from __future__ import annotations

import inspect
import io
import pickle
import re
from contextlib import redirect_stdout

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from scipy import sparse  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import BernoulliRBM as SklearnRBM  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from xprbm.sklearn import BernoulliRBM  # noqa: E402

#: scikit-learn marks these as expected failures of its own BernoulliRBM: the stochastic
#: pseudo-likelihood flips a random unit per row, so a row's score depends on its position
STOCHASTIC_SCORE = {
    "check_methods_subset_invariance": "score_samples flips a random unit per row "
                                       "(scikit-learn's own BernoulliRBM fails it too)",
    "check_methods_sample_order_invariance": "score_samples flips a random unit per row "
                                             "(scikit-learn's own BernoulliRBM fails it too)",
}
#: a Pipeline refits its steps in place, which these two checks read as changed parameters
PIPELINE_STEPS_REFITTED = {
    "check_estimators_overwrite_params": "the pipeline's steps are fitted in place",
    "check_dont_overwrite_parameters": "the pipeline's steps are fitted in place",
}


@parametrize_with_checks([BernoulliRBM(n_components=8, n_iter=3)],
                         expected_failed_checks=lambda _: STOCHASTIC_SCORE)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@parametrize_with_checks(
    [make_pipeline(MinMaxScaler(clip=True), BernoulliRBM(n_components=8, n_iter=3,
                                                         random_state=0))],
    expected_failed_checks=lambda _: {**STOCHASTIC_SCORE, **PIPELINE_STEPS_REFITTED})
def test_scikit_learn_estimator_checks_on_data_in_the_unit_interval(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_constructor_has_scikit_learns_parameters_and_defaults():
    theirs = inspect.signature(SklearnRBM).parameters
    mine = inspect.signature(BernoulliRBM).parameters
    for name, parameter in theirs.items():
        assert mine[name].default == parameter.default, name
        assert mine[name].kind == parameter.kind, name
    extras = {name: p.default for name, p in mine.items() if name not in theirs}
    assert extras == {"backend": "numpy", "method": "pcd", "centered": False, "k": 1,
                      "n_chains": None,
                      "momentum": 0.0, "weight_decay": 0.0, "dtype": None, "shuffle": False}


@pytest.mark.parametrize("dtype_in, dtype_out", [(np.float32, np.float32),
                                                 (np.float64, np.float64),
                                                 (np.int64, np.float64)])
def test_float32_stays_float32_and_float64_stays_float64(digits, dtype_in, dtype_out):
    X = (digits[0][:60] > 0.5).astype(dtype_in)
    rbm = BernoulliRBM(n_components=7, n_iter=2, random_state=0).fit(X)
    assert rbm.transform(X).dtype == dtype_out
    for name in ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_"):
        assert getattr(rbm, name).dtype == dtype_out, name
    assert rbm.components_.shape == (7, 64) and rbm.h_samples_.shape == (10, 7)


def test_lists_dataframes_and_feature_names(digits):
    pandas = pytest.importorskip("pandas")
    X = digits[0][:40]
    frame = pandas.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
    from_frame = BernoulliRBM(n_components=5, n_iter=2, random_state=1).fit(frame)
    from_list = BernoulliRBM(n_components=5, n_iter=2, random_state=1).fit(X.tolist())
    np.testing.assert_array_equal(from_frame.components_, from_list.components_)
    assert list(from_frame.feature_names_in_) == list(frame.columns)
    assert list(from_frame.get_feature_names_out()) == [f"bernoullirbm{i}" for i in range(5)]
    out = from_frame.set_output(transform="pandas").transform(frame)
    assert list(out.columns) == [f"bernoullirbm{i}" for i in range(5)]


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csc_matrix, sparse.csr_array])
def test_sparse_rows_train_exactly_as_dense_rows(digits, container):
    X = digits[0][:100]
    dense = BernoulliRBM(n_components=9, n_iter=2, random_state=3).fit(X)
    rbm = BernoulliRBM(n_components=9, n_iter=2, random_state=3).fit(container(X))
    np.testing.assert_array_equal(rbm.components_, dense.components_)
    np.testing.assert_array_equal(rbm.transform(container(X)), dense.transform(X))
    np.testing.assert_array_equal(rbm.score_samples(container(X)), dense.score_samples(X))


def test_any_finite_values_are_taken_as_scikit_learn_takes_them(digits):
    """Values outside [0, 1] are used as they are (scikit-learn's estimator takes them);
    NaN and infinities are refused with scikit-learn's error type."""
    X = digits[0][:40].copy()
    X[3, 5], X[7, 1] = 2.0, -0.5
    fitted = BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X)
    for out in (fitted.transform(X), fitted.score_samples(X)):
        assert np.all(np.isfinite(out))
    assert fitted.gibbs(X).dtype == bool
    for bad in (np.nan, np.inf):
        X[3, 5] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            BernoulliRBM(n_components=3, n_iter=1).fit(X)
        with pytest.raises(ValueError, match="NaN|infinity"):
            fitted.transform(X)


def test_learns_as_well_as_scikit_learn_at_its_settings(digits):
    """Mean pseudo-likelihood after 7 passes at scikit-learn's test settings: within 1.5 nats
    per row of scikit-learn's own (both are stochastic; each mean is over 1797 rows)."""
    X = digits[0]
    settings = dict(n_components=64, learning_rate=0.1, batch_size=10, n_iter=7)
    mine = BernoulliRBM(random_state=9, **settings).fit(X)
    theirs = SklearnRBM(random_state=9, **settings).fit(X)
    exact_mine = mine.score_samples(X, exact=True).mean()
    assert abs(mine.score_samples(X).mean() - theirs.score_samples(X).mean()) < 1.5
    assert exact_mine > BernoulliRBM(random_state=9, **{**settings, "n_iter": 0}).fit(
        X).score_samples(X, exact=True).mean() + 10


def test_stochastic_score_estimates_the_exact_one(digits):
    """The one-flip estimate is unbiased: its mean over rows and 20 draws lies within 5
    standard errors of the exact pseudo-likelihood; per_unit divides by n_features."""
    X = digits[0][:300]
    rbm = BernoulliRBM(n_components=16, n_iter=3, random_state=0).fit(X)
    exact = rbm.score_samples(X, exact=True)
    draws = np.stack([rbm.set_params(random_state=seed).score_samples(X)
                      for seed in range(20)])
    error = draws.std() / np.sqrt(draws.size)
    assert abs(draws.mean() - exact.mean()) < 5 * error + 1e-3 * abs(exact.mean())
    np.testing.assert_allclose(rbm.score_samples(X, exact=True, per_unit=True), exact / 64,
                               rtol=1e-6)


def test_an_int_random_state_repeats_fit_and_score(digits):
    X = digits[0][:80]
    a = BernoulliRBM(n_components=6, n_iter=2, random_state=5).fit(X)
    b = BernoulliRBM(n_components=6, n_iter=2, random_state=5).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.score_samples(X), a.score_samples(X))


def test_gibbs_is_one_binary_step_and_draws_fresh_numbers(digits):
    X = digits[0][:200]
    rbm = BernoulliRBM(n_components=20, n_iter=2, random_state=0).fit(X)
    first, second = rbm.gibbs(X), rbm.gibbs(X)
    assert first.dtype == bool and first.shape == X.shape
    assert np.all((first != second).any(axis=1))


def test_partial_fit_returns_self_and_continues_the_run(digits):
    X = digits[0][:100]
    rbm = BernoulliRBM(n_components=8, batch_size=20, random_state=0)
    for _ in range(2):
        for chunk in np.array_split(X, 5):
            assert rbm.partial_fit(chunk) is rbm
    assert rbm.model_.trainer.n_updates == 10
    assert rbm.n_features_in_ == 64 and rbm.h_samples_.shape == (20, 8)


def test_pickle_keeps_the_training_state(digits):
    X = digits[0][:100]
    rbm = BernoulliRBM(n_components=8, n_iter=2, random_state=0).fit(X)
    copy = pickle.loads(pickle.dumps(rbm))
    np.testing.assert_array_equal(copy.transform(X), rbm.transform(X))
    rbm.partial_fit(X)
    copy.partial_fit(X)
    np.testing.assert_array_equal(copy.components_, rbm.components_)
    np.testing.assert_array_equal(copy.h_samples_, rbm.h_samples_)


def test_verbose_prints_scikit_learns_lines(digits):
    out = io.StringIO()
    with redirect_stdout(out):
        BernoulliRBM(n_components=4, n_iter=2, verbose=1, random_state=0).fit(digits[0][:50])
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    for number, line in enumerate(lines, 1):
        assert re.fullmatch(rf"\[BernoulliRBM\] Iteration {number}, pseudo-likelihood = "
                            r"-?\d+\.\d\d, time = \d+\.\d\ds", line)


def test_pipeline_grid_search_and_clone(digits):
    X, y = digits
    pipe = Pipeline([("rbm", BernoulliRBM(n_components=16, n_iter=2, random_state=0)),
                     ("logistic", LogisticRegression(max_iter=200))])
    search = GridSearchCV(pipe, {"rbm__learning_rate": [0.01, 0.1]}, cv=2).fit(X, y)
    # 16 features after two passes: far above chance (0.1), and the larger step learns more
    assert search.best_params_["rbm__learning_rate"] == 0.1
    assert search.best_score_ > 0.3
    twin = clone(search.best_estimator_.named_steps["rbm"])
    assert twin.get_params() == search.best_estimator_.named_steps["rbm"].get_params()
    assert not hasattr(twin, "components_")


def test_extras_reach_the_trainer(digits):
    rbm = BernoulliRBM(n_components=5, n_iter=1, method="cd", k=2, momentum=0.5,
                       weight_decay=1e-4, dtype="float32", shuffle=True,
                       random_state=0).fit(digits[0][:50])
    config = rbm.model_.trainer.config
    assert (config.method, config.k, config.momentum, config.weight_decay, config.shuffle) == (
        "cd", 2, 0.5, 1e-4, True)
    assert rbm.transform(digits[0][:5]).dtype == np.float64  # float64 in, float64 out
    assert rbm.components_.dtype == np.float32
    with pytest.raises(ValueError, match="method"):
        BernoulliRBM(method="nope").fit(digits[0][:5])
    tempered = BernoulliRBM(n_components=5, n_iter=1, method="pt", centered=True,
                            random_state=0).fit(digits[0][:50])
    config = tempered.model_.trainer.config
    assert (config.method, config.centered) == ("pt", True)
    assert tempered.h_samples_.shape == (10, 5)
