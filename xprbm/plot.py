"""Pictures: image grids, learning curves, weight filters, free-energy histograms.

matplotlib is imported inside the functions (``pip install 'xprbm[plot]'``), so ``import xprbm``
never pays for it. Figures are built with :class:`matplotlib.figure.Figure` directly, not
through ``pyplot``: no global figure registry, no GUI backend needed; ``fig.savefig(...)``
writes PNGs anywhere, and notebooks display a returned figure. Arrays may come from any
backend (NumPy, CuPy, array_api_strict); they are copied to the host first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import get_backend, namespace_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .rbm import RBM
    from .train import History


def to_host(x: Any) -> np.ndarray:
    """A NumPy array (copy or view) of an array from NumPy, CuPy or array_api_strict."""
    if isinstance(x, np.ndarray):
        return x
    return get_backend(namespace_name(x)).to_numpy(x)


def _figure(**kwargs: Any) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "xprbm.plot needs matplotlib: pip install 'xprbm[plot]' (or pip install matplotlib)"
        ) from exc
    return Figure(**kwargs)


def infer_image_shape(n_pixels: int) -> tuple[int, int]:
    """``(s, s)`` when ``n_pixels`` is a perfect square, else ``(1, n_pixels)`` (a strip)."""
    side = math.isqrt(n_pixels)
    return (side, side) if side * side == n_pixels else (1, n_pixels)


def tile_images(images: Any, image_shape: tuple[int, int] | None = None,
                n_cols: int | None = None, padding: int = 1, fill: float = 0.5) -> np.ndarray:
    """Arrange flat images into one mosaic array.

    Parameters
    ----------
    images : array, shape (n, height * width)
    image_shape : (height, width), optional
        Default: :func:`infer_image_shape`.
    n_cols : int, optional
        Tiles per row (default: ``ceil(sqrt(n))``).
    padding : int
        Pixels between tiles.
    fill : float
        Value of the padding and of empty tiles.

    Returns
    -------
    ndarray, shape (rows * (height + padding) + padding, n_cols * (width + padding) + padding)
    """
    images = to_host(images)
    if images.ndim != 2 or images.shape[0] == 0:
        raise ValueError(f"images must have shape (n_images, n_pixels) with n_images >= 1; "
                         f"got {tuple(images.shape)}")
    n, n_pixels = images.shape
    height, width = image_shape or infer_image_shape(n_pixels)
    if height * width != n_pixels:
        raise ValueError(f"image_shape {(height, width)} does not fit {n_pixels} pixels per image")
    n_cols = n_cols or math.ceil(math.sqrt(n))
    n_rows = math.ceil(n / n_cols)
    out = np.full((n_rows * (height + padding) + padding, n_cols * (width + padding) + padding),
                  fill, dtype=np.float64)
    for i in range(n):
        r, c = divmod(i, n_cols)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        out[top:top + height, left:left + width] = images[i].reshape(height, width)
    return out


def image_grid(images: Any, *, image_shape: tuple[int, int] | None = None,
               n_cols: int | None = None, title: str | None = None,
               ax: Axes | None = None, cmap: str = "gray") -> tuple[Figure, Axes]:
    """Show flat images (samples, data rows) as one grid.

    Parameters
    ----------
    images : array, shape (n, height * width), values in [0, 1]
    image_shape : (height, width), optional
        Default: square when possible, else one strip per image.
    n_cols : int, optional
    title : str, optional
    ax : Axes, optional
        Draw here instead of in a new figure.
    cmap : str

    Returns
    -------
    fig : Figure
    ax : Axes
        One panel showing the mosaic (see :func:`tile_images`).
    """
    mosaic = tile_images(images, image_shape, n_cols)
    fig, ax = _single_axes(ax, mosaic.shape)
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig, ax


def filters(model: RBM | Any, *, n: int = 100, image_shape: tuple[int, int] | None = None,
            n_cols: int | None = None, title: str | None = "weight filters",
            ax: Axes | None = None) -> tuple[Figure, Axes]:
    """The incoming weights of hidden units as images, each scaled to its own range.

    Parameters
    ----------
    model : RBM or array of shape (n_visible, n_hidden)
    n : int
        Show the first ``min(n, n_hidden)`` hidden units.
    image_shape, n_cols, title, ax
        As for :func:`image_grid`.

    Returns
    -------
    fig : Figure
    ax : Axes
    """
    weights = to_host(getattr(model, "weights", model))
    if weights.ndim != 2:
        raise ValueError(f"weights must be 2-D (n_visible, n_hidden); got shape {weights.shape}")
    columns = np.asarray(weights[:, : max(1, n)], dtype=np.float64).T
    low = columns.min(axis=1, keepdims=True)
    span = columns.max(axis=1, keepdims=True) - low
    scaled = (columns - low) / np.where(span > 0, span, 1.0)
    return image_grid(scaled, image_shape=image_shape, n_cols=n_cols, title=title, ax=ax,
                      cmap="gray")


def learning_curves(history: History | Mapping[str, Sequence[float]]
                    ) -> tuple[Figure, np.ndarray]:
    """Per-epoch curves of a run: −PLL per unit (train vs validation), reconstruction error,
    and the free-energy gap when validation data were monitored.

    Parameters
    ----------
    history : History or mapping of column name to list
        E.g. ``trainer.history`` or the JSON written by the command line.

    Returns
    -------
    fig : Figure
    axes : ndarray of Axes, shape (2,) or (3,)
        Three panels when any free-energy gap is finite, else two.
    """
    columns = history.as_dict() if hasattr(history, "as_dict") else dict(history)
    epoch = np.asarray(columns["epoch"], dtype=np.float64)
    if epoch.size == 0:
        raise ValueError("the history is empty: train for at least one epoch first")

    def column(name: str) -> np.ndarray:
        # histories written before the per-unit columns were renamed say "train_pll"
        values = columns.get(name) or columns.get(name.removesuffix("_per_unit"), [])
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)

    gap = column("free_energy_gap")
    has_gap = gap.size > 0 and bool(np.isfinite(gap).any())
    n_panels = 3 if has_gap else 2
    fig = _figure(figsize=(4.2 * n_panels, 3.4), layout="constrained")
    axes = np.asarray(fig.subplots(1, n_panels), dtype=object).reshape(n_panels)
    marker = "." if epoch.size <= 50 else None  # dots help short runs, clutter long ones
    ax = axes[0]
    ax.plot(epoch, -column("train_pll_per_unit"), label="train", marker=marker, lw=1)
    valid = column("valid_pll_per_unit")
    if valid.size and np.isfinite(valid).any():
        ax.plot(epoch, -valid, label="validation", marker=marker, lw=1, alpha=0.8)
    ax.set(xlabel="epoch", ylabel="−PLL per unit (nats)", title="pseudo-likelihood")
    ax.legend()
    axes[1].plot(epoch, column("recon_error"), marker=marker, color="C2")
    axes[1].set(xlabel="epoch", ylabel="mean squared error", title="reconstruction error")
    if has_gap:
        axes[2].plot(epoch, gap, marker=marker, lw=1, color="C3")
        axes[2].axhline(0.0, color="0.6", lw=0.8)
        axes[2].set(xlabel="epoch", ylabel="F(valid) − F(train)", title="free-energy gap")
    return fig, axes


def free_energy_histogram(rbm: RBM, train: Any, valid: Any, *, bins: int = 50,
                          ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Histograms of the free energy of training and validation rows (overfitting picture).

    A model that overfits gives its training rows visibly lower free energy than unseen rows.

    Parameters
    ----------
    rbm : RBM
    train : array, shape (n_train, n_visible)
    valid : array, shape (n_valid, n_visible)
        Compare subsets of similar size.
    bins : int
    ax : Axes, optional

    Returns
    -------
    fig : Figure
    ax : Axes
    """
    f_train = to_host(rbm.free_energy(train)).astype(np.float64)
    f_valid = to_host(rbm.free_energy(valid)).astype(np.float64)
    fig, ax = _single_axes(ax, None)
    edges = np.histogram_bin_edges(np.concatenate([f_train, f_valid]), bins=bins)
    ax.hist(f_train, bins=edges, alpha=0.6, density=True,
            label=f"train (mean {f_train.mean():.1f})")
    ax.hist(f_valid, bins=edges, alpha=0.6, density=True,
            label=f"validation (mean {f_valid.mean():.1f})")
    ax.set(xlabel="free energy F(v)", ylabel="density", title="free energy: train vs validation")
    ax.legend()
    return fig, ax


def _single_axes(ax: Axes | None, image_shape: tuple[int, ...] | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    if image_shape is None:
        size = (6.0, 4.0)
    else:  # about 0.06 inch per mosaic pixel, within sensible bounds
        height, width = image_shape
        scale = min(10.0 / max(width, 1), 10.0 / max(height, 1), 0.06)
        size = (max(2.0, width * scale), max(2.0, height * scale + 0.4))
    fig = _figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()
