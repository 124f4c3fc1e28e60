"""Input checks with errors that say what was wrong and how to fix it.

Nothing here runs a kernel: a caller with a fast counting pass (see
:func:`xprbm.kernels.count_invalid`) hands it in as ``count_invalid``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .backend import Backend, namespace_name


def as_model_array(
    backend: Backend,
    x: Any,
    dtype: Any,
    *,
    width: int,
    name: str = "X",
    layer: str = "visible",
    binary: bool | None = True,
    convert: bool = True,
    count_invalid: Callable[[Any, bool], int | None] | None = None,
) -> Any:
    """Check ``x`` and return it as a 2-D array of ``backend`` with ``dtype``.

    The input is never modified; a conversion makes a new array.

    Parameters
    ----------
    backend : Backend
    x : array_like, shape (n_samples, width)
        NumPy array, array of the model's backend, or nested sequence.
    dtype : dtype
        Target dtype of the backend.
    width : int
        Required number of columns (units of the layer).
    name, layer : str
        Used in error messages.
    binary : bool or None
        ``True``: values in {0, 1}; ``False``: values in [0, 1] (probabilities); ``None``:
        any finite values (scikit-learn's ``BernoulliRBM`` takes them, so its drop-in does).
    convert : bool
        ``False`` (NumPy backend only) returns the checked NumPy array in its own dtype, for
        kernels that read any dtype (training data stays uint8/bool: 4x less memory).
    count_invalid : callable, optional
        ``count_invalid(arr, binary)``: a fast count of the entries that break the rule, or
        None where it has no fast pass; a count of 0 accepts the array at once, anything
        else leads to the precise (slower) check that names the problem.

    Raises
    ------
    TypeError
        Non-numeric data, or an array of another backend.
    ValueError
        Wrong dimensionality or width, no rows, NaN/inf, values outside {0, 1} / [0, 1].
    """
    if type(x).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} is a SciPy sparse matrix; RBMs work on dense rows: pass "
                        f"{name}.toarray() (binary data are small as uint8 or bool)")
    owner = namespace_name(x) if hasattr(x, "shape") else "numpy"
    if owner != "numpy" and owner != backend.name:
        raise TypeError(
            f"{name} is a {owner} array but the model runs on backend={backend.name!r}; "
            f"pass a NumPy array or a {backend.name} array"
        )
    if owner == "numpy":
        x = np.asarray(x)
    numeric = (x.dtype.kind in "biuf" if owner != "array_api_strict"
               else backend.xp.isdtype(x.dtype, ("bool", "integral", "real floating")))
    if not numeric:
        raise TypeError(
            f"{name} must hold numbers (bool, int or float); got dtype {x.dtype}. "
            "Convert it with np.asarray(X, dtype=np.float32) after checking its contents"
        )
    if x.ndim != 2:
        hint = " (for one sample use x.reshape(1, -1))" if x.ndim == 1 else ""
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, {width}); got shape {tuple(x.shape)}{hint}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows (shape {tuple(x.shape)})")
    if x.shape[1] != width:
        raise ValueError(
            f"{name} has {x.shape[1]} columns but the model has {width} {layer} units"
        )
    if not convert and backend.name == "numpy":
        if not _quick_check_passes(x, binary, count_invalid):
            check_values(backend.xp, x.astype(dtype), binary, name)
        return x
    arr = backend.asarray(x, dtype=dtype)
    if not _quick_check_passes(arr, binary, count_invalid):
        check_values(backend.xp, arr, binary, name)
    return arr


def _quick_check_passes(arr: Any, binary: bool,
                        count_invalid: Callable[[Any, bool], int | None] | None) -> bool:
    """True when a fast pass accepts ``arr``; False means 'look closer', not necessarily bad."""
    if count_invalid is None or binary is None:  # the fused pass knows the two ranges only
        return False
    return arr.dtype == np.bool_ or count_invalid(arr, binary) == 0


GREY_HINT = ("For grey-scale data, binarise first, e.g. X = (X / X.max() > 0.5), or use "
             "xprbm.datasets.binarize(X, threshold=0.5)")


def check_values(xp: Any, arr: Any, binary: bool | None, name: str,
                 hint: str = GREY_HINT) -> None:
    """Raise the precise error for NaN/inf or values outside {0, 1} (``binary``), [0, 1]
    (``binary=False``) or anything but NaN/inf (``binary=None``).

    Parameters
    ----------
    xp : array namespace of ``arr``
    arr : array of any shape
    binary : bool or None
    name : str
        What ``arr`` is called in the message.
    hint : str
        How to fix values out of range, in the caller's terms (API or command line).
    """
    if not bool(xp.all(xp.isfinite(arr))):
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first")
    if binary is None:
        return
    if binary:
        ok = bool(xp.all((arr == 0.0) | (arr == 1.0)))
        rule = "binary (0/1)"
    else:
        ok = bool(xp.all((arr >= 0.0) & (arr <= 1.0)))
        rule = "in [0, 1]"
    if not ok:
        lo, hi = float(xp.min(arr)), float(xp.max(arr))
        raise ValueError(f"{name} must be {rule}; got values in [{lo:g}, {hi:g}]. {hint}")


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as int if it is an integer (not a bool) of at least ``minimum``.

    Raises
    ------
    TypeError
        Not an integer.
    ValueError
        Below ``minimum``.
    """
    wording = {1: "a positive integer", 0: "a non-negative integer"}.get(
        minimum, f"an integer >= {minimum}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {wording}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {wording}; got {value}")
    return int(value)


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as int if it is a positive integer, else raise."""
    return check_int(value, name, 1)


def check_range(value: Any, name: str, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False) -> float:
    """Return ``value`` as float if it lies in the interval, else raise ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    value = float(value)
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if not np.isfinite(value) or below or above:
        lo_b = "(" if low_open else "["
        hi_b = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {lo_b}{low:g}, {high:g}{hi_b}; got {value:g}")
    return value
