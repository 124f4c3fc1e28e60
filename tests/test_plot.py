"""Pictures render with Agg, hold the expected panels, and take arrays from any backend."""

from __future__ import annotations

import io as stdio
import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import xprbm  # noqa: E402
from xprbm import plot  # noqa: E402


def _png(fig) -> bytes:
    buffer = stdio.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _mosaic(ax) -> np.ndarray:
    (image,) = ax.get_images()
    return np.asarray(image.get_array())


def test_tile_images_layout():
    images = np.arange(5 * 6, dtype=float).reshape(5, 6) / 30
    mosaic = plot.tile_images(images, image_shape=(2, 3), n_cols=2, padding=1)
    assert mosaic.shape == (3 * (2 + 1) + 1, 2 * (3 + 1) + 1)
    np.testing.assert_array_equal(mosaic[1:3, 5:8], images[1].reshape(2, 3))  # row 0, col 1
    np.testing.assert_array_equal(mosaic[7:9, 1:4], images[4].reshape(2, 3))  # row 2, col 0
    assert mosaic[7:9, 5:8].tolist() == [[0.5] * 3] * 2  # the empty tile is padding
    with pytest.raises(ValueError, match="does not fit"):
        plot.tile_images(images, image_shape=(4, 4))


def test_image_grid_is_one_panel_with_every_image():
    images = (np.random.default_rng(0).random((10, 16)) < 0.5).astype(np.float32)
    fig, ax = plot.image_grid(images, title="ten")
    assert len(fig.axes) == 1 and ax.get_title() == "ten"
    side, cols = 4, math.ceil(math.sqrt(10))
    rows = math.ceil(10 / cols)
    assert _mosaic(ax).shape == (rows * (side + 1) + 1, cols * (side + 1) + 1)
    assert _png(fig).startswith(b"\x89PNG")


def test_non_square_rows_are_drawn_as_strips():
    fig, ax = plot.image_grid(np.zeros((3, 19)), n_cols=1)
    assert _mosaic(ax).shape == (3 * 2 + 1, 19 + 2)


def _history(validation: bool) -> xprbm.History:
    rbm = xprbm.RBM(12, 5, seed=0)
    X = (np.random.default_rng(1).random((80, 12)) < 0.4).astype(np.float32)
    return rbm.fit(X, epochs=3, progress=False, validation=0.25 if validation else None)


@pytest.mark.parametrize("validation, panels, curves", [(True, 3, 2), (False, 2, 1)])
def test_learning_curves_panels(validation, panels, curves):
    history = _history(validation)
    fig, axes = plot.learning_curves(history)
    assert len(fig.axes) == panels == len(axes)
    assert len(axes[0].get_lines()) == curves  # train (and validation) −PLL
    np.testing.assert_allclose(axes[0].get_lines()[0].get_ydata(),
                               -np.asarray(history.train_pll_per_unit))
    _png(fig)


def test_learning_curves_from_json_records_with_nulls():
    # the column names of histories written before the per-unit rename still draw
    columns = {"epoch": [1, 2], "train_pll": [-0.5, -0.4], "valid_pll": [None, None],
               "recon_error": [0.2, 0.1], "free_energy_gap": [None, None]}
    fig, axes = plot.learning_curves(columns)
    assert len(axes) == 2
    with pytest.raises(ValueError, match="empty"):
        plot.learning_curves({"epoch": []})


def test_filters_one_tile_per_hidden_unit_scaled_to_unit_range():
    rbm = xprbm.RBM(16, 7, seed=0)
    fig, ax = plot.filters(rbm)
    mosaic = _mosaic(ax)
    cols = math.ceil(math.sqrt(7))
    assert mosaic.shape == (math.ceil(7 / cols) * 5 + 1, cols * 5 + 1)
    first = mosaic[1:5, 1:5]
    assert first.min() == 0.0 and first.max() == 1.0
    fig, ax = plot.filters(np.ones((16, 3)), n=2)  # constant filters do not divide by zero
    assert np.isfinite(_mosaic(ax)).all()


def test_free_energy_histogram_has_train_and_validation():
    rbm = xprbm.RBM(12, 5, seed=0)
    X = (np.random.default_rng(2).random((60, 12)) < 0.4).astype(np.float32)
    fig, ax = plot.free_energy_histogram(rbm, X[:30], X[30:], bins=10)
    assert len(fig.axes) == 1 and len(ax.containers) == 2
    assert [t.get_text().split(" ")[0] for t in ax.get_legend().get_texts()] == \
        ["train", "validation"]
    _png(fig)


def test_plots_take_arrays_of_any_backend(make_rbm):
    rbm = make_rbm(16, 7, seed=0)
    samples = rbm.sample(6, steps=2)  # an array of the model's backend
    X = rbm.array_backend.asarray((np.random.default_rng(0).random((20, 16)) < 0.5) * 1.0,
                             dtype=rbm.array_dtype)
    for fig in (plot.image_grid(samples)[0], plot.filters(rbm)[0],
                plot.free_energy_histogram(rbm, X[:10, :], X[10:, :])[0]):
        assert _png(fig).startswith(b"\x89PNG")


def test_draw_into_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    got_fig, got_ax = plot.image_grid(np.zeros((4, 9)), ax=ax)
    assert got_fig is fig and got_ax is ax
