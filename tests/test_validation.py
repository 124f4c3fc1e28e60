"""Bad input gets a clear error and is never modified; backends fail cleanly."""

from __future__ import annotations

import numpy as np
import pytest

import xprbm
from xprbm.backend import BackendUnavailableError, get_backend


@pytest.fixture
def rbm(make_rbm):
    return make_rbm(7, 5, seed=0)


GOOD = (np.arange(35).reshape(5, 7) % 3 == 0).astype(np.float32)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (GOOD * 255, ValueError, r"binary.*\[0, 255\].*binari"),
        (np.where(GOOD > 0, np.nan, 0.0), ValueError, "NaN or infinite"),
        (np.where(GOOD > 0, np.inf, 0.0), ValueError, "NaN or infinite"),
        (GOOD[:, :6], ValueError, "6 columns but the model has 7 visible units"),
        (np.zeros((0, 7)), ValueError, "empty"),
        (GOOD[0], ValueError, r"2-D.*reshape\(1, -1\)"),
        (GOOD[None], ValueError, "2-D"),
        (GOOD.astype(str), TypeError, "must hold numbers"),
        (GOOD.astype(complex), TypeError, "must hold numbers"),
        (GOOD.astype(object), TypeError, "must hold numbers"),
    ],
)
def test_bad_training_data_is_refused(rbm, bad, error, match):
    copy = np.array(bad, copy=True)
    with pytest.raises(error, match=match):
        rbm.fit(bad, epochs=1, progress=False)
    np.testing.assert_array_equal(bad, copy)  # never modified


def test_probabilities_accepted_for_conditionals_but_not_for_fit(rbm):
    probs = GOOD * 0.5
    assert tuple(rbm.hidden_probs(probs).shape) == (5, 5)
    with pytest.raises(ValueError, match="binary"):
        rbm.fit(probs, progress=False)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        rbm.free_energy(GOOD * 2)


def test_bool_and_int_data_are_accepted_and_not_modified(rbm):
    for X in (GOOD.astype(bool), GOOD.astype(np.int64), GOOD.astype(np.uint8)):
        copy = X.copy()
        rbm.fit(X, epochs=1, progress=False)
        np.testing.assert_array_equal(X, copy)


def test_input_is_not_modified_by_any_method(rbm):
    X = GOOD.copy()
    rbm.fit(X, epochs=2, batch_size=2, progress=False)
    rbm.gibbs(X)
    rbm.sample(5, steps=2, init=X)
    xprbm.pseudo_log_likelihood(rbm, X)
    np.testing.assert_array_equal(X, GOOD)


@pytest.mark.parametrize(
    "option, value, error",
    [
        ("learning_rate", 0.0, ValueError),
        ("learning_rate", -1.0, ValueError),
        ("learning_rate", float("nan"), ValueError),
        ("momentum", 1.0, ValueError),
        ("weight_decay", -0.1, ValueError),
        ("batch_size", 0, ValueError),
        ("batch_size", 2.5, TypeError),
        ("k", 0, ValueError),
        ("n_chains", -3, ValueError),
        ("method", "sgd", ValueError),
        ("init_visible_bias", "random", ValueError),
        ("epochs", 0, ValueError),
        ("validation", 1.5, ValueError),
        ("learnin_rate", 0.1, TypeError),
    ],
)
def test_hyperparameters_out_of_range_are_refused_up_front(rbm, option, value, error):
    before = np.array(rbm.array_backend.to_numpy(rbm.weights), copy=True)
    with pytest.raises(error, match=option.split("_")[0]):
        rbm.fit(GOOD, progress=False, **{option: value})
    np.testing.assert_array_equal(rbm.array_backend.to_numpy(rbm.weights), before)


def test_partial_fit_refuses_changed_settings(rbm):
    rbm.partial_fit(GOOD, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        rbm.partial_fit(GOOD, batch_size=3)
    with pytest.raises(TypeError, match="one pass"):
        rbm.partial_fit(GOOD, epochs=3)


@pytest.mark.parametrize(
    "args, kwargs, error",
    [
        ((0, 5), {}, ValueError),
        ((7, 2.0), {}, TypeError),
        ((7, 5), {"dtype": "float16"}, ValueError),
        ((7, 5), {"backend": "torch"}, ValueError),
        ((7, 5), {"fast_path": "fast"}, ValueError),
        ((7, 5), {"fast_path": "cupy"}, ValueError),
        ((7, 5), {"seed": -1}, ValueError),
        ((7, 5), {"seed": "abc"}, TypeError),
    ],
)
def test_bad_model_settings(args, kwargs, error):
    with pytest.raises(error):
        xprbm.RBM(*args, **kwargs)


def test_cupy_request_without_cupy_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    get_backend.cache_clear()
    try:
        with pytest.raises(BackendUnavailableError, match=r"xprbm\[cuda12x\]"):
            get_backend("cupy")
        assert get_backend("auto").name == "numpy"
    finally:
        get_backend.cache_clear()


def test_hidden_and_energy_shape_errors(rbm):
    with pytest.raises(ValueError, match="5 hidden units"):
        rbm.visible_probs(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="rows"):
        rbm.energy(np.zeros((2, 7)), np.zeros((3, 5)))
