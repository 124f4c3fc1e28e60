"""Toy datasets with known optima: sizes, distinctness, structure, and the optimum itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bruteforce import all_states

import xprbm
from xprbm.datasets import ToyDataset, bars_and_stripes, labeled_shifter


def distinct_rows(X: np.ndarray) -> int:
    return np.unique(X, axis=0).shape[0]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_bars_and_stripes_sizes_and_distinct_patterns(n):
    data = bars_and_stripes(n)
    assert isinstance(data, ToyDataset)
    assert data.X.shape == (2 ** (n + 1) - 2, n * n) and data.X.dtype == np.float32
    assert data.n_patterns == 2 ** (n + 1) - 2 and data.n_bits == n * n
    assert data.image_shape == (n, n)
    assert distinct_rows(data.X) == data.n_patterns
    assert set(np.unique(data.X)) <= {0.0, 1.0}
    assert data.optimum == pytest.approx(-math.log(2 ** (n + 1) - 2))


def test_bars_and_stripes_4x4_is_the_classic_set():
    data = bars_and_stripes(4)
    assert data.X.shape == (30, 16)
    assert data.optimum == pytest.approx(-3.4012, abs=1e-4)
    images = data.X.reshape(-1, 4, 4)
    rows_constant = np.all(images == images[:, :, :1], axis=(1, 2))
    cols_constant = np.all(images == images[:, :1, :], axis=(1, 2))
    assert np.all(rows_constant | cols_constant)
    assert rows_constant.sum() == 16 and cols_constant.sum() == 16  # 2 images are both
    # every bars-and-stripes image of all 2**16 is in the set, and nothing else
    every = all_states(16).reshape(-1, 4, 4)
    is_bs = (np.all(every == every[:, :, :1], axis=(1, 2))
             | np.all(every == every[:, :1, :], axis=(1, 2)))
    assert {tuple(r) for r in every[is_bs].reshape(-1, 16)} == {tuple(r) for r in data.X}


def test_labeled_shifter_8_is_the_classic_set():
    data = labeled_shifter()
    assert data.X.shape == (768, 19) and data.X.dtype == np.float32
    assert distinct_rows(data.X) == 768
    assert data.optimum == pytest.approx(-6.6438, abs=1e-4)
    assert data.image_shape is None
    x, y, label = data.X[:, :8], data.X[:, 8:16], data.X[:, 16:]
    np.testing.assert_array_equal(label.sum(axis=1), 1)
    shift = np.argmax(label, axis=1) - 1  # -1, 0, +1
    for s in (-1, 0, 1):
        rows = shift == s
        assert rows.sum() == 256
        np.testing.assert_array_equal(y[rows], np.roll(x[rows], s, axis=1))
        assert distinct_rows(x[rows]) == 256  # every x once per shift


def test_labeled_shifter_rotates_with_wrap_around():
    data = labeled_shifter(4)
    assert data.X.shape == (48, 11)
    x = np.array([1, 0, 0, 0], dtype=np.float32)  # bit 0 on
    expected = {  # label -> y
        (1, 0, 0): [0, 0, 0, 1],  # shift -1: bit 0 wraps to bit 3
        (0, 1, 0): [1, 0, 0, 0],
        (0, 0, 1): [0, 1, 0, 0],  # shift +1: bit 0 moves to bit 1
    }
    for label, y in expected.items():
        row = np.concatenate([x, np.array(y, dtype=np.float32), np.array(label, np.float32)])
        assert np.any(np.all(data.X == row, axis=1)), (label, y)


def test_no_model_beats_the_stated_optimum():
    """Gibbs' inequality: mean log p over the distinct patterns is at most -log(n_patterns)."""
    data = bars_and_stripes(3)
    for seed in range(3):
        rbm = xprbm.RBM(9, 6, seed=seed)
        rbm.fit(data.X, epochs=30, batch_size=14, learning_rate=0.1, progress=False)
        mean_ll = float(np.mean(xprbm.log_likelihood(rbm, data.X)))
        assert mean_ll <= data.optimum + 1e-9


@pytest.mark.parametrize("factory", [bars_and_stripes, labeled_shifter])
def test_toy_datasets_reject_bad_sizes(factory):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        factory(0)
    with pytest.raises(TypeError, match="n must be a positive integer"):
        factory(2.5)
    with pytest.raises(ValueError, match="meant for small"):
        factory(40)
